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
weekly budget count in the time column's days.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from loopml.data.schema import Schema
from loopml.data.times import with_time_column
from loopml.data.validate import validate
from loopml.data.versions import add_frame, get_version, load_frame
from loopml.errors import DataError, RetrainError
from loopml.loop.evidence import evidence_of
from loopml.loop.fresh import split_fresh, training_frame
from loopml.loop.policy import History, plan, signals_from_alerts
from loopml.modeling import metrics as M
from loopml.modeling.progress import ProgressEvent, StageStarted, ignore
from loopml.modeling.train import train
from loopml.monitoring import alerts
from loopml.monitoring.windows import Windowing, window_metrics
from loopml.registry import Comparison, Package, encode_like, load_package, register, save_package
from loopml.spec import Spec
from loopml.store import AlertRecord, Store, WindowRecord

POLICIES = ("never", "loop", "oracle")


@dataclass(frozen=True, slots=True)
class WindowStarted:
    """The replay reached window ``number`` of ``total``, whose rows begin at ``start``."""

    number: int
    total: int
    start: datetime


#: what :func:`simulate` reports: the training events, and each window as it starts
SimulationEvent = ProgressEvent | WindowStarted


@dataclass
class Window:
    """One replayed window: its span, rows, and each policy's score and model."""

    start: str
    end: str
    rows: int
    quality: dict[str, float | None]
    models: dict[str, str]


@dataclass
class Simulation:
    """The replay's result: per-window quality of each policy, their means, the loop's events."""

    metric: str
    windows: list[Window] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)

    def mean(self, policy: str, windows: list[Window] | None = None) -> float | None:
        values = [w.quality[policy] for w in (self.windows if windows is None else windows)]
        finite = [v for v in values if v is not None and np.isfinite(v)]
        return float(np.mean(finite)) if finite else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "policies": {
                name: {
                    "mean": self.mean(name),
                    "windows": [
                        {"start": w.start, "end": w.end, "rows": w.rows, "quality": w.quality[name],
                         "model": w.models[name]}
                        for w in self.windows
                    ],
                }
                for name in POLICIES
            },
            "retrains": self.events,
        }  # fmt: skip


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
) -> Iterator[tuple[datetime, datetime, pl.DataFrame]]:
    """``data`` cut into calendar windows of ``every`` (a Polars interval by the time column:
    ``1mo``, ``2w``, ``7d``) or into runs of ``rows`` rows."""
    time = spec.time_column
    if every is not None:
        if not time or time not in data.columns or not data[time].dtype.is_temporal():
            raise DataError(
                f"--window needs the spec's time_column ({time!r}) in the data as dates or "
                "times; pass --window-rows instead"
            )
        try:
            keyed = data.sort(time, maintain_order=True).with_columns(
                pl.col(time).dt.truncate(every).alias("_start"),
                pl.col(time).dt.truncate(every).dt.offset_by(every).alias("_end"),
            )
        except pl.exceptions.PolarsError as exc:
            raise DataError(
                f"--window: expected an interval such as 1mo, 2w, 7d or 12h; got {every!r}"
            ) from exc
        for (start, end), part in keyed.group_by("_start", "_end", maintain_order=True):
            yield _utc(start), _utc(end), part.drop("_start", "_end")
        return
    assert rows is not None
    if time and time in data.columns:
        data = data.sort(time, maintain_order=True)
    for offset in range(0, data.height, rows):
        part = data.slice(offset, rows)
        first, last = _moments(part, spec, offset)
        yield first, last, part


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
) -> Simulation:
    """Replay ``data`` through ``never``, ``loop`` and ``oracle`` (see the module doc) in
    windows of ``every`` or ``rows`` (default: calendar months, or 1,000 rows without a time
    column). Every policy starts from ``model`` (default: the champion): pick one trained
    before ``data`` begins, or the replay scores rows it learnt from. Retrains fit
    ``candidates`` when given, else the spec's ``model.candidates``."""
    emit = on_event or ignore
    if candidates is not None:
        spec = _with_candidates(spec, candidates)
    spec.check_columns(data.columns, where="the data to simulate")
    champion = load_package(store, model or f"{spec.name}@champion")
    base_version = get_version(store, champion.meta.lineage.dataset)
    base = load_frame(store, base_version)
    if missing := [c for c in base.columns if c not in data.columns]:
        raise DataError(
            f"the data to simulate lacks {', '.join(missing)}, which the champion's training "
            f"data ({base_version.ref}) has: replay rows of the same table"
        )
    data = with_time_column(data, spec)  # read as training read it (the spec's time_format)
    data = data.select(base.columns).cast(dict(base.schema), strict=False)  # type: ignore[arg-type]
    if every is None and rows is None:
        every, rows = ("1mo", None) if spec.time_column else (None, 1000)
    result = Simulation(spec.metric.name)
    with tempfile.TemporaryDirectory(prefix="loopml-simulate-") as folder:
        scratch = Store(f"sqlite:///{Path(folder) / 'simulate.db'}", Path(folder) / "artifacts")
        try:
            start = _copy(scratch, spec, champion)
            cuts = list(windows_of(data, spec, every=every, rows=rows))
            since = cuts[0][0] if cuts else None
            states = {name: _Policy(start, base, since=since) for name in POLICIES}
            seen: list[pl.DataFrame] = []
            for number, (begin, end, part) in enumerate(cuts, 1):
                emit(WindowStarted(number, len(cuts), begin))
                quality = {name: _score(states[name].package, part, spec) for name in POLICIES}
                result.windows.append(
                    Window(
                        begin.isoformat(),
                        end.isoformat(),
                        part.height,
                        quality,
                        {name: states[name].package.record.ref for name in POLICIES},
                    )
                )
                seen.append(part)
                if number == len(cuts):
                    break  # nothing left to predict
                labelled = pl.concat(seen)
                emit(StageStarted(f"window {number}: oracle retrains on {labelled.height:,} rows"))
                states["oracle"].package = _fit(
                    scratch, spec, pl.concat([base, labelled]), None, None, tune_trials
                )[0]
                event = _loop_step(
                    scratch, spec, states["loop"], part, labelled, begin, end, base_version.schema,
                    tune_trials, emit,
                )  # fmt: skip
                if event is not None:
                    result.events.append(event)
        finally:
            scratch.close()
    return result


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
) -> dict[str, Any] | None:
    """Monitor the window the loop's model served, and retrain when its policy says so."""
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
    if decided.action != "retrain":
        return None
    event: dict[str, Any] = {"after_window": end.isoformat(), "reason": decided.reason}
    try:
        fresh = split_fresh(labelled, state.base, spec)
    except RetrainError as exc:
        return {**event, "outcome": "waiting", "detail": str(exc)}
    state.retrains.append(end)
    state.labels_since = 0
    frame = training_frame(state.base, fresh.train, spec)
    report = validate(frame, schema)
    if not report.ok:
        state.outcome = "invalid"
        return {**event, "outcome": "invalid", "detail": f"{len(report.errors)} validation errors"}
    emit(StageStarted(f"loop retrains on {frame.height:,} rows ({decided.reason})"))
    package, decision = _fit(
        scratch, spec, frame, Comparison(fresh.comparison, "the most recent labelled rows"),
        state.package.record.ref, tune_trials,
    )  # fmt: skip
    assert decision is not None
    event.update(model=package.record.ref, blessed=decision.blessed, gate=decision.reason)
    if decision.blessed:
        state.package, state.base, state.since = package, frame, end
    state.outcome = "rollout" if decision.blessed else "rejected"
    return {**event, "outcome": "deployed" if decision.blessed else "rejected"}


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


def _score(package: Package, part: pl.DataFrame, spec: Spec) -> float | None:
    y, keep = encode_like(part[spec.target], package.model.classes, spec)
    if keep.sum() < 2:
        return None
    output = package.model.output(package.model.pipeline.transform(part.filter(pl.Series(keep))))
    value = M.one(spec.metric.name, spec.task, y, output)
    return float(value) if np.isfinite(value) else None


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


def _moments(part: pl.DataFrame, spec: Spec, offset: int) -> tuple[datetime, datetime]:
    time = spec.time_column
    if time and time in part.columns and part[time].dtype.is_temporal():
        return _utc(part[time].min()), _utc(part[time].max())
    epoch = datetime(1970, 1, 1, tzinfo=UTC)  # no time column: one "day" per window
    return epoch + timedelta(days=offset), epoch + timedelta(days=offset + 1)


def _utc(moment: Any) -> datetime:
    if not isinstance(moment, datetime):
        moment = datetime.combine(moment, datetime.min.time())
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
