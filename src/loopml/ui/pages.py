"""What each dashboard page shows, gathered from the store as plain data (compute, then render).

One function per page; :mod:`loopml.ui.app` renders what they return. Nothing here writes, and
nothing loads a model: a model's gate decision and lineage come from its package's ``meta.json``
(checksum-verified, :func:`loopml.registry.read_meta`), so a page costs milliseconds however
large the models are. A damaged package shows up as a problem on its row, never as a failed page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from loopml.data.profile import Profile
from loopml.errors import LoopmlError, NotFoundError
from loopml.modeling.metrics import greater_is_better
from loopml.registry import read_meta
from loopml.reports import data_report
from loopml.reports.monitor_quality import quality_view
from loopml.reports.monitor_report import open_window
from loopml.reports.tables import number, run_test_metrics
from loopml.rollout.controller import active_rollout
from loopml.rollout.state import RolloutState, latest_rollout
from loopml.spec import Spec
from loopml.store import (
    AlertRecord,
    DatasetRecord,
    DeploymentRecord,
    ModelRecord,
    RunRecord,
    Store,
    WindowRecord,
)
from loopml.ui.audit import AuditRow, audit

Figure = tuple[str, str, dict[str, Any]]  # element id, heading, Plotly figure
RECENT = 8  # audit entries on the overview


def pretty(value: Any) -> str:
    """Evidence (a dict or list from the store) as indented JSON, for people to read."""
    option = orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
    return orjson.dumps(value, option=option, default=str).decode()


# --- overview ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Overview:
    deployment: DeploymentRecord
    rollout: RolloutState | None  # the latest rollout, whatever its status
    rollout_active: bool
    step: str
    champion: str | None
    challenger: str | None
    open_alerts: list[AlertRecord]
    window: WindowRecord | None
    window_summary: list[tuple[str, str]]
    recent: list[AuditRow]


def rollout_step(rollout: RolloutState) -> str:
    """Where a rollout stands, e.g. ``step 2 of 4 (25%)`` or ``shadow, before step 1``."""
    steps, step = rollout.steps, rollout.step
    if step < 0:
        return "shadow, before step 1"
    if step < len(steps):
        return f"step {step + 1} of {len(steps)} ({steps[step]:g}%)"
    return f"step {step + 1}"


def _alias(store: Store, spec: Spec, alias: str) -> str | None:
    try:
        return store.models.get(f"{spec.name}@{alias}").ref
    except NotFoundError:
        return None


def window_summary(spec: Spec, window: WindowRecord) -> list[tuple[str, str]]:
    """The figures of one window that say whether all is well."""
    m = window.metrics
    metric = spec.metric.name
    drifted = sorted(k.split(".", 1)[1] for k, v in m.items() if k.startswith("drift.") and v)
    return [
        ("window", f"{window.start:%Y-%m-%d %H:%M:%S} – {window.end:%H:%M:%S} UTC ({window.size})"),
        *([("partial", open_window(window))] if window.partial else []),
        ("model", window.model_version),
        ("rows", f"{window.rows:,}"),
        ("error rate", number(m.get("error_rate"))),
        ("latency p99 (ms)", number(m.get("latency_p99_ms"), 1)),
        (f"{metric} (labelled)", number(m.get(f"quality.{metric}"))),
        (f"{metric} (estimated)", quality_view(spec, [window]).estimate_text),
        ("label coverage", number(m.get("label_coverage"))),
        ("drifted features", ", ".join(drifted) or "none"),
    ]


def overview(store: Store, spec: Spec) -> Overview:
    """The deployment and its rollout, the aliases, open alerts, the latest window, recent
    decisions."""
    record = store.deployments.get(spec.name)
    rollout = latest_rollout(record)
    latest = store.monitoring.list_windows(spec.name, limit=1)
    window = latest[-1] if latest else None
    return Overview(
        deployment=record,
        rollout=rollout,
        rollout_active=active_rollout(record) is not None,
        step=rollout_step(rollout) if rollout else "",
        champion=_alias(store, spec, "champion"),
        challenger=_alias(store, spec, "challenger"),
        open_alerts=store.monitoring.list_alerts(status="open"),
        window=window,
        window_summary=window_summary(spec, window) if window else [],
        recent=audit(store, spec, limit=RECENT),
    )


# --- models and runs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelRow:
    record: ModelRecord
    metrics: list[tuple[str, str]]  # test metrics, the primary first
    candidate: str | None = None
    blessed: bool | None = None
    checks: list[dict[str, Any]] = field(default_factory=list)
    lineage: dict[str, Any] = field(default_factory=dict)
    report: bool = False  # the training run's report exists
    card: bool = False  # the model card exists
    problem: str | None = None  # the package could not be read


def _ordered(metrics: dict[str, Any], primary: str) -> list[tuple[str, str]]:
    names = sorted(metrics, key=lambda k: (k != primary, k))
    return [(k, number(metrics[k])) for k in names if not isinstance(metrics[k], dict | list)]


def models(store: Store, spec: Spec, reports: Path) -> list[ModelRow]:
    """Every model version (archived too), newest first, with its gate decision and lineage."""
    rows = []
    for record in reversed(store.models.list(include_archived=True)):
        metrics = _ordered(record.metrics, spec.metric.name)
        card = (reports / f"model-{record.name}-{record.version}.html").is_file()
        try:
            meta = read_meta(store, record)
        except LoopmlError as exc:
            rows.append(ModelRow(record, metrics, card=card, problem=str(exc)))
            continue
        lineage = meta.lineage.model_dump(exclude={"spec"})
        gate = meta.gate
        run_id = meta.lineage.run_id
        rows.append(
            ModelRow(
                record,
                metrics,
                candidate=meta.candidate,
                blessed=gate.blessed if gate else None,
                checks=list(gate.checks) if gate else [],
                lineage=lineage,
                report=run_id is not None and (reports / f"run-{run_id}.html").is_file(),
                card=card,
            )
        )
    return rows


@dataclass(frozen=True)
class RunRow:
    record: RunRecord
    best: str
    primary: str
    test: dict[str, Any]
    report: bool

    @property
    def metrics(self) -> list[tuple[str, str]]:
        """The test metrics for display, the primary first."""
        return _ordered(self.test, self.primary)


def runs(store: Store, spec: Spec, reports: Path, *, limit: int = 200) -> list[RunRow]:
    """Runs users launched (training, tuning), newest first, with their best test metrics."""
    rows = []
    for run in store.runs.list(top_level=True, limit=limit):
        primary = (run.spec or {}).get("metric", {}).get("name") or spec.metric.name
        rows.append(
            RunRow(
                run,
                str(run.metrics.get("best", "")),
                primary,
                run_test_metrics(run),
                (reports / f"run-{run.id}.html").is_file(),
            )
        )
    return rows


def runs_figure(spec: Spec, rows: list[RunRow]) -> Figure | None:
    """The primary metric on test data of every finished training run, with the target."""
    metric = spec.metric.name
    done = [r for r in reversed(rows) if r.test.get(metric) is not None]
    if not done:
        return None
    layout: dict[str, Any] = {
        "title": {"text": f"{metric} on test data, by run"},
        "xaxis": {"title": {"text": "run"}, "type": "category"},
        "yaxis": {"title": {"text": metric}},
        "height": 320,
        "margin": {"l": 70, "r": 20, "t": 50, "b": 50},
    }
    if spec.metric.target is not None:
        layout["shapes"] = [
            {"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": spec.metric.target,
             "y1": spec.metric.target, "line": {"color": "#d62728", "dash": "dash"}},
        ]  # fmt: skip
    trace = {
        "type": "scatter",
        "mode": "lines+markers",
        "name": metric,
        "x": [f"run {r.record.id}" for r in done],
        "y": [r.test[metric] for r in done],
        "text": [r.best for r in done],
    }
    direction = "higher" if greater_is_better(metric) else "lower"
    return (
        "runs-chart",
        f"{metric} by run ({direction} is better)",
        {
            "data": [trace],
            "layout": layout,
        },
    )


# --- datasets ----------------------------------------------------------------------------------


def validation_key(name: str, version: int) -> str:
    """Where retraining stores a dataset version's validation report (``ValidationReport``)."""
    return f"validations/{name}/{version}.json"


def validation(store: Store, record: DatasetRecord) -> dict[str, Any] | None:
    """The stored validation report of a dataset version, or ``None`` if none was recorded."""
    key = validation_key(record.name, record.version)
    if not store.artifacts.exists(key):
        return None
    try:
        loaded = orjson.loads(store.artifacts.get_bytes(key))
    except (OSError, LoopmlError, orjson.JSONDecodeError) as exc:
        return {"problem": f"cannot read {key}: {exc}"}
    return loaded if isinstance(loaded, dict) else {"problem": f"{key} is not a JSON object"}


@dataclass(frozen=True)
class DatasetPage:
    record: DatasetRecord
    validation: dict[str, Any] | None
    summary: list[dict[str, str]]
    figures: list[Figure]


def datasets(store: Store) -> list[tuple[DatasetRecord, dict[str, Any] | None]]:
    """Every dataset version, newest first, with its validation report (if recorded)."""
    records = sorted(store.datasets.list(), key=lambda r: r.created_at, reverse=True)
    return [(record, validation(store, record)) for record in records]


def dataset(store: Store, ref: str) -> DatasetPage:
    """One dataset version: its profile's summary and charts, and its validation report."""
    record = store.datasets.get(ref)
    report = data_report.build_data_report([(record.ref, Profile.from_dict(record.profile))])
    charts: list[Figure] = [("missing", "missing values", data_report.missing_figure(report))]
    charts += [(ident, ident, figure) for ident, figure in data_report.figures(report)]
    return DatasetPage(record, validation(store, record), report.summaries[0], charts)
