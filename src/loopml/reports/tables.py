"""Rows and cells shared by the terminal tables, the JSON output and the dashboard.

A *row* is a store record as plain, JSON-ready data (what ``loopml … --json`` prints); a *cell*
is one value formatted for a table. :func:`number` is the one way a metric is printed, in the
CLI's tables, the HTML reports and the dashboard alike.

Pure and light: nothing here touches the store or imports more than the standard library, so
the CLI can import it before it knows which command runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from loopml.store import (
        AlertRecord,
        AuditRecord,
        DatasetRecord,
        IncidentRecord,
        ModelRecord,
        RunRecord,
    )

__all__ = [
    "alert_row",
    "audit_row",
    "dataset_row",
    "incident_row",
    "model_row",
    "number",
    "primary_metric",
    "run_row",
    "run_test_metrics",
]


def number(value: Any, digits: int = 4) -> str:
    """A value for a table cell: numbers rounded, ``—`` when missing or undefined."""
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) >= 1e5 else f"{value:.{digits}f}"
    return str(value)


def run_test_metrics(run: RunRecord) -> dict[str, Any]:
    """Test metrics of a run: the best candidate's for a training run, else its own."""
    if run.kind == "train":
        return dict(run.metrics.get("best_metrics", {}).get("test", {}))
    return dict(run.metrics.get("test", {}))


def primary_metric(run: RunRecord) -> tuple[str | None, Any]:
    """The run's primary metric (from the spec it ran with) and its test value."""
    metric = (run.spec or {}).get("metric", {}).get("name")
    return metric, run_test_metrics(run).get(metric) if metric else None


def dataset_row(record: DatasetRecord) -> dict[str, Any]:
    """A dataset version."""
    return {
        "ref": record.ref,
        "name": record.name,
        "version": record.version,
        "rows": record.n_rows,
        "columns": record.n_columns,
        "content_hash": record.content_hash,
        "snapshot": record.snapshot_uri,
        "source": record.source,
        "created_at": record.created_at.isoformat(),
    }


def run_row(run: RunRecord) -> dict[str, Any]:
    """A run: what it trained on, with which code, and what it measured."""
    return {
        "id": run.id,
        "name": run.name,
        "kind": run.kind,
        "status": run.status,
        "dataset": run.dataset_ref,
        "parent_id": run.parent_id,
        "started_at": run.started_at.isoformat(),
        "duration_s": run.duration_s,
        "code_version": run.code_version,
        "params": run.params,
        "metrics": run.metrics,
        "artifacts": run.artifacts,
        "error": run.error,
    }


def model_row(model: ModelRecord) -> dict[str, Any]:
    """A registered model version with its aliases."""
    return {
        "ref": model.ref,
        "name": model.name,
        "version": model.version,
        "aliases": list(model.aliases),
        "status": model.status,
        "run_id": model.run_id,
        "metrics": model.metrics,
        "note": model.note,
        "sha256": model.sha256,
        "package": model.package_uri,
        "created_at": model.created_at.isoformat(),
    }


def alert_row(alert: AlertRecord) -> dict[str, Any]:
    """A fired alert with its evidence."""
    return {
        "id": alert.id,
        "rule": alert.rule,
        "severity": alert.severity,
        "metric": alert.metric,
        "feature": alert.feature,
        "value": alert.value,
        "threshold": alert.threshold,
        "status": alert.status,
        "created_at": alert.created_at,
        "evidence": alert.evidence,
    }


def incident_row(incident: IncidentRecord) -> dict[str, Any]:
    """An incident: its headline, its state, its ranked features and alerts."""
    return {
        "id": incident.id,
        "deployment": incident.deployment,
        "model_version": incident.model_version,
        "size": incident.size,
        "family": incident.family,
        "severity": incident.severity,
        "status": incident.status,
        "title": incident.title,
        "first_window": incident.first_window,
        "last_window": incident.last_window,
        "opened_at": incident.opened_at,
        "updated_at": incident.updated_at,
        "resolved_at": incident.resolved_at,
        "resolution": incident.resolution,
        "evidence": incident.evidence,
    }


def audit_row(entry: AuditRecord) -> dict[str, Any]:
    """A maintenance decision (or approval) with its reason."""
    return {
        "id": entry.id,
        "at": entry.at.isoformat(timespec="seconds"),
        "action": entry.action,
        "model": entry.model_ref,
        "actor": entry.actor,
        "reason": entry.reason,
        "evidence": entry.evidence,
    }
