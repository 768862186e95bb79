"""Lifecycle steps that span stages: one function per CLI verb that needs more than one stage.

``train_model`` trains, analyses, registers (through the gate) and writes the reports;
``predict`` scores a file or query with a registered model after validating the input against the
model's own schema. The CLI only parses arguments and renders what these return.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from loopml.config import Settings
from loopml.data.io import describe_source, read_source
from loopml.data.profile import Profile
from loopml.data.validate import validate
from loopml.data.versions import DatasetVersion, get_version
from loopml.errors import LoopmlError, NotFoundError, ValidationFailed
from loopml.modeling.analysis import Analysis, analyze
from loopml.modeling.train import Event, TrainResult, train
from loopml.registry import Comparison, GateDecision, load_package, read_document, register
from loopml.reports import monitor_report as report
from loopml.reports.model_card import model_card, model_card_html
from loopml.reports.run_report import build_run_report, write_html
from loopml.spec import Spec
from loopml.store import ModelRecord, RunRecord, Store

logger = logging.getLogger(__name__)


@dataclass
class TrainOutcome:
    """What ``loopml train`` did: the leaderboard, the registered version and its reports."""

    result: TrainResult
    analysis: Analysis
    model: ModelRecord
    decision: GateDecision
    report: Path
    card: Path


def default_dataset(store: Store, spec: Spec) -> DatasetVersion:
    """The newest version of the dataset named like the project (``loopml data add --name``)."""
    try:
        return get_version(store, spec.name)
    except NotFoundError as exc:
        raise NotFoundError(
            f"no dataset named '{spec.name}' (the project's name) to train on: add one with "
            f"'loopml data add FILE --name {spec.name}', or pass the dataset version"
        ) from exc


def reports_dir() -> Path:
    return Settings.from_env().home / "reports"


def train_model(
    store: Store,
    spec: Spec,
    dataset: str | None = None,
    *,
    tune_trials: int | None = None,
    on_event: Event | None = None,
    warm_start: dict[str, dict[str, Any]] | None = None,
    comparison: Comparison | None = None,
    champion: str | None = None,
    blessed_alias: str = "champion",
) -> TrainOutcome:
    """Train, analyse the best candidate on test data, register it through the gate (see
    :func:`loopml.registry.register` for ``comparison``, ``champion`` and ``blessed_alias``),
    and write the run report and the model card."""
    version = get_version(store, dataset) if dataset else default_dataset(store, spec)
    result = train(
        store, spec, version, tune_trials=tune_trials, on_event=on_event, warm_start=warm_start
    )
    emit = on_event or (lambda *args, **kwargs: None)
    emit("stage", text="analysing errors on the test split")
    rows = result.data.split.test
    weight = None if result.data.weight is None else result.data.weight[rows]
    analysis = analyze(
        result.best.model,
        result.data.frame[rows],
        result.data.y[rows],
        spec,
        weight=weight,
        seed=spec.model.seed,
    )
    store.artifacts.put_bytes(
        f"runs/{result.run_id}/analysis.json", orjson.dumps(analysis.to_dict())
    )
    emit("stage", text="registering through the gate")
    record, decision = register(
        store,
        spec,
        result,
        comparison=comparison,
        champion=champion,
        blessed_alias=blessed_alias,
    )
    folder = reports_dir()
    run = store.runs.get(result.run_id)
    report = write_html(
        build_run_report(
            run,
            result.leaderboard(),
            analysis,
            human_level=spec.targets.human_level,
            title=f"{spec.name}: training run {result.run_id}",
        ),
        folder / f"run-{result.run_id}.html",
    )
    package = load_package(store, record.ref)
    card = folder / f"model-{record.name}-{record.version}.md"
    card.write_text(model_card(package.meta, analysis, spec, profile=package.profile), "utf-8")
    card.with_suffix(".html").write_text(
        model_card_html(package.meta, analysis, spec, profile=package.profile), "utf-8"
    )
    emit("stage", text="done")
    store.runs.log(
        result.run_id,
        artifacts={
            "analysis": f"runs/{result.run_id}/analysis.json",
            "report": str(report),
            "model_card": str(card),
            "model": record.ref,
        },
    )
    return TrainOutcome(result, analysis, record, decision, report, card)


def run_report(store: Store, spec: Spec, run_id: int | str, out: Path | None = None) -> Path:
    """Write the HTML report of a finished training run from what the store kept."""
    run = store.runs.get(run_id)
    if run.kind != "train":
        raise LoopmlError(
            f"run {run.id} is a '{run.kind}' run: pass a training run's id "
            f"(its parent is run {run.parent_id})"
        )
    try:
        analysis = Analysis.from_dict(
            orjson.loads(store.artifacts.get_bytes(f"runs/{run.id}/analysis.json"))
        )
    except (OSError, LoopmlError, orjson.JSONDecodeError) as exc:
        raise NotFoundError(
            f"run {run.id} has no stored analysis (it failed or was interrupted): train again"
        ) from exc
    return write_html(
        build_run_report(
            run,
            run.metrics.get("leaderboard", []),
            analysis,
            human_level=spec.targets.human_level,
            title=f"{spec.name}: training run {run.id}",
        ),
        out or reports_dir() / f"run-{run.id}.html",
    )


def build_monitor_report(
    store: Store,
    spec: Spec,
    *,
    since: datetime | None = None,
    limit: int | None = None,
) -> report.MonitorReport:
    """The monitoring report of ``spec``'s deployment from the stored windows and alerts: the
    windows after ``since`` (the last ``limit`` of them) of the newest window size.

    The served model's training profile (for the drifted features' distributions) is read from
    its package without loading the model; an unreadable package only drops those charts.
    """
    windows = store.monitoring.list_windows(spec.name, since=since, limit=limit)
    if not windows:
        raise NotFoundError(
            f"no monitoring windows of '{spec.name}' yet: serve predictions, then run "
            "'loopml monitor run'"
        )
    size = windows[-1].size
    windows = [w for w in windows if w.size == size]
    first = windows[0].start.isoformat()
    alerts = [
        a
        for a in store.monitoring.list_alerts(deployment=spec.name)
        if (since is None or a.evidence.get("window_end", "") > since.isoformat())
        and (limit is None or a.evidence.get("window_start", first) >= first)
    ]
    try:
        record = store.models.get(windows[-1].model_version)
        profile = Profile.from_dict(read_document(store, record, "profile.json"))
    except LoopmlError as exc:
        logger.warning("no training profile for the monitoring report: %s", exc)
        profile = None
    return report.build(spec, windows, list(reversed(alerts)), profile)


def monitor_report(
    store: Store,
    spec: Spec,
    *,
    since: datetime | None = None,
    out: Path | None = None,
) -> Path:
    """Write the monitoring report of ``spec``'s deployment from the stored windows and alerts."""
    return report.write_html(
        build_monitor_report(store, spec, since=since),
        out or reports_dir() / f"monitor-{spec.name}.html",
    )


def predict(
    store: Store,
    spec: Spec | None,
    source: str,
    out: Path,
    *,
    model: str | None = None,
    query: str | None = None,
) -> dict[str, Any]:
    """Score ``source`` with a registered model and write ``out`` (CSV or Parquet)."""
    if model is None:
        if spec is None:
            raise LoopmlError("pass --model NAME@VERSION (or run in a project with loopml.yaml)")
        model = f"{spec.name}@champion"
    package = load_package(store, model)
    frame = read_source(source, query=query)
    # only the model's inputs are checked: ids, targets and other columns ride along
    report = validate(
        frame.select(c for c in frame.columns if c in package.schema.columns), package.schema
    )
    if not report.ok:
        raise ValidationFailed(
            f"{describe_source(source)} does not match the input schema of {package.record.ref}: "
            f"{len(report.errors)} error(s); first: {report.errors[0].message}",
            report,
        )
    decisions, output = package.model.score_frame(frame)
    id_column = package.meta["lineage"]["spec"].get("id_column")
    columns: dict[str, Any] = {}
    if id_column and id_column in frame.columns:
        columns[id_column] = frame[id_column]
    else:
        columns["row"] = pl.int_range(1, frame.height + 1, eager=True)
    if package.model.task == "regression":
        columns["prediction"] = output
    else:
        columns["prediction"] = pl.Series(package.model.labels(decisions))
        for i, label in enumerate(package.model.classes):
            shown = str(label).lower() if isinstance(label, bool) else str(label)
            columns[f"probability_{shown}"] = output[:, i]
    result = pl.DataFrame(columns)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() in (".parquet", ".pq"):
        result.write_parquet(out)
    else:
        result.write_csv(out)
    return {
        "model": package.record.ref,
        "rows": result.height,
        "out": str(out),
        "warnings": len(report.warnings),
    }


def runs(
    *,
    home: str | Path | None = None,
    kind: str | None = "train",
    name: str | None = None,
    limit: int | None = None,
) -> list[RunRecord]:
    """Runs of the project at ``home`` (default ``LOOPML_HOME`` or ``./.loopml``), newest first.

    ``kind="train"`` (the default) lists training runs; ``kind=None`` lists every run, candidate
    runs included. The Python twin of ``loopml runs list``.
    """
    with Store.open(home) as store:
        return store.runs.list(kind=kind, name=name, limit=limit)
