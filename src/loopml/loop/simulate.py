"""Proof that the loop pays: replay later data through three policies, side by side.

The rows of ``data`` (time-ordered, after the training period) arrive in windows. Each window is
first **predicted** by every policy's current model, and scored with the spec's primary metric;
then its **labels are revealed** and each policy may change its model:

- ``never`` keeps the champion;
- ``loop`` is the maintenance loop as the spec configures it: the window's monitoring metrics
  and alerts (:mod:`loopml.monitoring.windows`, :mod:`loopml.monitoring.alerts`), the retrain
  policy (:mod:`loopml.loop.policy`), the retrain's data, validation and gate on the most recent
  labelled rows (:mod:`loopml.loop.retrain`). A blessed challenger serves from the next window
  (there is no traffic to canary in a replay);
- ``oracle`` retrains after every window on everything labelled so far, without a gate.

It runs in-process, without HTTP, on a scratch store that is deleted afterwards: the project's
store is only read (the champion and its training data). Times are the data's: cooldowns and the
weekly budget count in the time column's days (windows without dates: see
:mod:`loopml.loop.replay_windows`, which also chooses the windows). Models are named as the
project names them where they are its own (the champion every policy starts from), and
``NAME@sim-N`` for the N-th model the replay trained. The means are row-weighted and the loop's
share of the never → oracle gap comes with a paired bootstrap interval
(:mod:`loopml.loop.replay_stats`); each window records what the loop saw and decided
(:class:`loopml.loop.replay_result.LoopStep`).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from loopml.data.schema import Schema
from loopml.data.times import with_time_column
from loopml.data.validate import validate
from loopml.data.versions import add_frame, get_version, load_frame
from loopml.errors import DataError, NotFoundError, RetrainError
from loopml.loop.evidence import evidence_of
from loopml.loop.fresh import split_fresh, training_frame
from loopml.loop.policy import History, kind_of, plan, signals_from_alerts
from loopml.loop.replay_result import POLICIES, LoopStep, Simulation, Window
from loopml.loop.replay_stats import REPLICATES, Scored, recovery, score
from loopml.loop.replay_windows import Cut, clock, cut, untimed_policy
from loopml.modeling.progress import ProgressEvent, StageStarted, ignore
from loopml.modeling.train import train
from loopml.monitoring import alerts
from loopml.monitoring.windows import Windowing, window_metrics
from loopml.registry import Comparison, Package, encode_like, load_package, register, save_package
from loopml.spec import Spec
from loopml.store import AlertRecord, Store, WindowRecord

__all__ = ["POLICIES", "Simulation", "SimulationEvent", "Window", "WindowStarted", "simulate"]


@dataclass(frozen=True, slots=True)
class WindowStarted:
    """The replay reached window ``number`` of ``total``, whose rows begin at ``start`` (``None``
    for windows without dates) and are named ``label``."""

    number: int
    total: int
    start: datetime | None
    label: str = ""


#: what :func:`simulate` reports: the training events, and each window as it starts
SimulationEvent = ProgressEvent | WindowStarted


@dataclass
class _Policy:
    package: Package
    base: pl.DataFrame
    windows: list[WindowRecord] = field(default_factory=list)
    fired: list[AlertRecord] = field(default_factory=list)
    retrains: list[datetime] = field(default_factory=list)  # oldest first
    since: datetime | None = None
    outcome: str | None = None
    labels_since: int = 0


def windows_of(
    data: pl.DataFrame, spec: Spec, *, every: str | None, rows: int | None
) -> Iterator[tuple[datetime | None, datetime | None, pl.DataFrame]]:
    """``data`` cut as the replay cuts it (see :func:`loopml.loop.replay_windows.cut`)."""
    for window in cut(data, spec, every=every, rows=rows).windows:
        yield window.start, window.end, window.rows


def _with_candidates(spec: Spec, candidates: Sequence[str]) -> Spec:
    """``spec`` with ``model.candidates`` replaced, validated again as a whole."""
    search = spec.model.model_copy(update={"candidates": list(candidates)})
    return Spec.model_validate({**spec.model_dump(), "model": search.model_dump()})


def simulate(
    store: Store,
    spec: Spec,
    data: pl.DataFrame,
    *,
    every: str | None = None,
    rows: int | None = None,
    tune_trials: int = 0,
    model: str | None = None,
    candidates: Sequence[str] | None = None,
    on_event: Callable[[SimulationEvent], None] | None = None,
    replicates: int = REPLICATES,
) -> Simulation:
    """Replay ``data`` through ``never``, ``loop`` and ``oracle`` (see the module doc) in
    windows of ``every`` or ``rows`` (default: chosen to fit the data, see
    :mod:`loopml.loop.replay_windows`). Every policy starts from ``model`` (default: the
    champion): pick one trained before ``data`` begins, or the replay scores rows it learnt
    from. Retrains fit ``candidates`` when given, else the spec's ``model.candidates``. The
    recovered share's interval takes ``replicates`` bootstrap draws (see
    :mod:`loopml.loop.replay_stats`)."""
    emit = on_event or ignore
    if candidates is not None:
        spec = _with_candidates(spec, candidates)
    spec.check_columns(data.columns, where="the data to simulate")
    champion, starts = _starting_model(store, spec, model)
    base_version = get_version(store, champion.meta.lineage.dataset)
    base = load_frame(store, base_version)
    if missing := [c for c in base.columns if c not in data.columns]:
        raise DataError(
            f"the data to simulate lacks {', '.join(missing)}, which the champion's training "
            f"data ({base_version.ref}) has: replay rows of the same table"
        )
    data = with_time_column(data, spec)  # read as training read it (the spec's time_format)
    data = data.select(base.columns).cast(dict(base.schema), strict=False)  # type: ignore[arg-type]
    cuts = cut(data, spec, every=every, rows=rows)
    result = Simulation(spec.metric.name, champion.record.ref, cuts.to_dict(), starts)
    scored: list[Scored] = []
    with tempfile.TemporaryDirectory(prefix="loopml-simulate-") as folder:
        scratch = Store(f"sqlite:///{Path(folder) / 'simulate.db'}", Path(folder) / "artifacts")
        try:
            start = _copy(scratch, spec, champion)
            names = _Names(start.record.ref, champion.record.ref)
            since = clock(cuts.windows[0], 1)[0] if cuts.windows else None
            states = {name: _Policy(start, base, since=since) for name in POLICIES}
            replay = spec
            if not cuts.timed:
                retrain = untimed_policy(spec.retrain)
                replay = spec.model_copy(update={"retrain": retrain})
            seen: list[pl.DataFrame] = []
            for number, window in enumerate(cuts.windows, 1):
                emit(WindowStarted(number, len(cuts.windows), window.start, window.label))
                row = _scored_window(window, states, spec, names)
                scored.append(row[1])
                result.windows.append(row[0])
                seen.append(window.rows)
                if number == len(cuts.windows):
                    break  # nothing left to predict
                labelled = pl.concat(seen)
                emit(StageStarted(f"window {number}: oracle retrains on {labelled.height:,} rows"))
                states["oracle"].package = _fit(
                    scratch, spec, pl.concat([base, labelled]), None, None, tune_trials
                )[0]
                begin, end = clock(window, number)
                step, event = _loop_step(
                    scratch, replay, states["loop"], window.rows, labelled, begin, end,
                    base_version.schema, tune_trials, emit, names,
                )  # fmt: skip
                step.model = None if step.model is None else names(step.model)
                row[0].loop = step
                if event is not None:
                    after = None if window.end is None else window.end.isoformat()
                    result.events.append({"after": window.label, "after_window": after, **event})
        finally:
            scratch.close()
    emit(StageStarted("bootstrapping the recovered share"))
    result.recovery = recovery(scored, spec.metric.name, spec.task, replicates=replicates)
    return result


def _starting_model(store: Store, spec: Spec, model: str | None) -> tuple[Package, str]:
    """The model every policy starts from and why: ``model`` when given, else the project's
    champion, else (no version met the gate, as on data with little to learn) its newest
    version, so the replay still runs and says so."""
    if model is not None:
        return load_package(store, model), "the model asked for"
    try:
        return load_package(store, f"{spec.name}@champion"), "the project's champion"
    except NotFoundError:
        versions = store.models.list(spec.name)
        if not versions:
            raise NotFoundError(
                f"no model of '{spec.name}' to replay from: expected a registered version, got "
                "none; run loopml train first"
            ) from None
        newest = max(versions, key=lambda r: r.version)
        why = f": {newest.note}" if newest.note else ""
        said = f"the project has no champion; its newest version, not blessed by the gate{why}"
        return load_package(store, newest.ref), said


class _Names:
    """A scratch model's name as the user should read it: the project's own ref for the
    champion copy, ``NAME@sim-N`` for the models the replay trained."""

    def __init__(self, copy: str, champion: str) -> None:
        self.copy, self.champion = copy, champion

    def __call__(self, ref: str) -> str:
        if ref == self.copy:
            return self.champion
        name, _, version = ref.rpartition("@")
        return f"{name}@sim-{int(version) - 1}" if version.isdigit() else ref


def _scored_window(
    window: Cut, states: dict[str, _Policy], spec: Spec, names: _Names
) -> tuple[Window, Scored]:
    """Each policy's model scored on ``window`` before its labels are revealed, all on the same
    rows: those with a label every policy's model knows."""
    target = window.rows[spec.target]
    masks = {n: encode_like(target, states[n].package.model.classes, spec)[1] for n in POLICIES}
    keep = np.logical_and.reduce(list(masks.values()))
    part = window.rows.filter(pl.Series(keep))
    ys, outputs = {}, {}
    for name in POLICIES:
        model = states[name].package.model
        ys[name] = encode_like(part[spec.target], model.classes, spec)[0]
        outputs[name] = model.output(model.pipeline.transform(part))
    scores = Scored(ys["never"], outputs, ys) if part.height >= 2 else None
    quality: dict[str, float | None] = dict.fromkeys(POLICIES)
    if scores is not None:
        ones = np.ones(scores.rows)
        for name in POLICIES:
            value = score(spec.metric.name, spec.task, ys[name], outputs[name], ones)
            quality[name] = value if np.isfinite(value) else None
    row = Window(
        window.label,
        None if window.start is None else window.start.isoformat(),
        None if window.end is None else window.end.isoformat(),
        window.rows.height,
        0 if scores is None else scores.rows,
        quality,
        {name: names(states[name].package.record.ref) for name in POLICIES},
    )
    empty = Scored(np.empty(0), dict.fromkeys(POLICIES, np.empty(0)))
    return row, scores or empty


def _loop_step(
    scratch: Store,
    spec: Spec,
    state: _Policy,
    part: pl.DataFrame,
    labelled: pl.DataFrame,
    begin: datetime,
    end: datetime,
    schema: Schema,
    tune_trials: int,
    emit: Callable[[SimulationEvent], None],
    names: Callable[[str], str],
) -> tuple[LoopStep, dict[str, Any] | None]:
    """Monitor the window the loop's model served, and retrain when its policy says so: what
    it saw and decided, and the retrain event (``None`` when it did not try)."""
    window = _monitor(part, state.package, spec, begin, end)
    state.windows.append(window)
    fired = alerts.evaluate(
        [w for w in state.windows if w.model_version == state.package.record.ref],
        alerts.rules_of(spec),
        state.fired,
    )
    fired = [f for f in fired if f.window is window]
    state.fired.extend(_as_record(f, spec) for f in fired)
    state.labels_since += part.height  # this window's labels are revealed now
    decided = plan(
        spec.retrain,
        signals_from_alerts(state.fired, state.package.record.ref),
        now=end,
        history=History(state.retrains[::-1], state.outcome, state.labels_since),
        serving_since=state.since,
        new_labels=spec.monitoring.min_samples,
        evidence=evidence_of(spec, state.package, state.windows, training_rows=state.base.height),
    )
    step = LoopStep(
        triggers=[f"{s.kind}: {s.what}" for s in decided.signals],
        incidents=[_said(f) for f in fired if kind_of(f.rule.metric) is None],
        plan=decided.action,
        reason=decided.reason,
    )
    if decided.action != "retrain":
        return step, None
    event: dict[str, Any] = {"reason": decided.reason}
    try:
        fresh = split_fresh(labelled, state.base, spec)
    except RetrainError as exc:
        step.outcome, step.detail = "waiting", str(exc)
        return step, {**event, "outcome": "waiting", "detail": str(exc)}
    state.retrains.append(end)
    state.labels_since = 0
    frame = training_frame(state.base, fresh.train, spec)
    report = validate(frame, schema)
    if not report.ok:
        state.outcome = "invalid"
        step.outcome, step.detail = "invalid", f"{len(report.errors)} validation errors"
        return step, {**event, "outcome": "invalid", "detail": step.detail}
    emit(StageStarted(f"loop retrains on {frame.height:,} rows ({decided.reason})"))
    package, decision = _fit(
        scratch, spec, frame, Comparison(fresh.comparison, "the most recent labelled rows"),
        state.package.record.ref, tune_trials,
    )  # fmt: skip
    assert decision is not None
    outcome = "deployed" if decision.blessed else "rejected"
    step.outcome, step.model, step.detail = outcome, package.record.ref, decision.reason
    step.gate = [
        {k: c.get(k) for k in ("check", "value", "threshold", "passed")} for c in decision.checks
    ]
    if decision.blessed:
        state.package, state.base, state.since = package, frame, end
    state.outcome = "rollout" if decision.blessed else "rejected"
    event.update(
        model=names(package.record.ref), blessed=decision.blessed, gate=decision.reason,
        checks=step.gate, training_rows=frame.height, comparison_rows=fresh.comparison.height,
    )  # fmt: skip
    return step, {**event, "outcome": outcome}


def _said(fired: alerts.Fired) -> str:
    """An alert in a few words: its rule, feature and value."""
    what = alerts.rule_name(fired.rule) + (f" on {fired.feature}" if fired.feature else "")
    return f"{what} ({fired.value:.4g})"


def _fit(
    scratch: Store,
    spec: Spec,
    frame: pl.DataFrame,
    comparison: Comparison | None,
    champion: str | None,
    tune_trials: int,
) -> tuple[Package, Any]:
    """Train on ``frame`` in the scratch store; gated on ``comparison`` when given (the loop),
    not gated otherwise (the oracle)."""
    version = add_frame(scratch, frame, name=spec.name, source="simulation")
    result = train(scratch, spec, version, tune_trials=tune_trials, baselines=False)
    record, decision = register(
        scratch, spec, result, comparison=comparison, champion=champion, blessed_alias="loop"
    )
    return load_package(scratch, record.ref), decision if comparison is not None else None


def _copy(scratch: Store, spec: Spec, champion: Package) -> Package:
    record = save_package(
        scratch,
        spec.name,
        champion.model,
        champion.meta,
        champion.schema,
        champion.profile,
        reference=champion.reference,
    )
    scratch.models.set_alias(spec.name, "champion", record.version)
    return load_package(scratch, record.ref)


def _monitor(
    part: pl.DataFrame, package: Package, spec: Spec, begin: datetime, end: datetime
) -> WindowRecord:
    """The monitoring window the server and ``loopml monitor`` would compute for ``part``."""
    model = package.model
    output = model.output(model.pipeline.transform(part))
    ids = [f"sim-{i}" for i in range(part.height)]
    log = pl.DataFrame(
        {
            "request_id": ids,
            "features": part.drop(spec.target)
            .select(pl.struct(pl.all()).struct.json_encode())
            .to_series(),
            "error": pl.Series([None] * part.height, dtype=pl.String),
            "score": model.scores(output),
            "latency_ms": np.zeros(part.height),
        }
    )
    labels = dict(zip(ids, part[spec.target].to_list(), strict=True))
    seconds = max((end - begin).total_seconds(), 1.0)
    return window_metrics(log, package, spec, labels, begin, end, Windowing(seconds=seconds))


def _as_record(fired: alerts.Fired, spec: Spec) -> AlertRecord:
    return AlertRecord(
        0, spec.name, alerts.rule_name(fired.rule), fired.rule.severity, fired.rule.metric,
        fired.feature, fired.value, fired.rule.threshold, fired.evidence, "open",
        fired.window.end, None,
    )  # fmt: skip
