"""Monitoring records: computed windows of logged predictions, and the alerts they fired.

A window is identified by its deployment, model version, size and start; storing it again
replaces its values (its labels may have arrived since it was first computed, or it was the open
window, ``partial``, and has grown or closed since). Alerts keep their evidence (the windows'
values that crossed the rule) and move from ``open`` to ``acked`` once, or to ``resolved`` when
the model version they fired on no longer serves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from loopml.errors import NotFoundError, StoreError
from loopml.store._checks import check_json
from loopml.store._engine import Repository
from loopml.store._tables import Alert, MonitorWindow, utcnow


@dataclass(frozen=True)
class WindowRecord:
    """One monitoring window: ``metrics`` flat (``missing_fraction.temp``), ``details`` for
    charts (drift per feature, histograms, slices); ``partial`` while the window is still open
    (its ``end`` is then when it will close, or its latest row for a count window)."""

    deployment: str
    model_version: str
    size: str
    start: datetime
    end: datetime
    rows: int
    metrics: dict[str, Any]
    details: dict[str, Any]
    partial: bool = False


@dataclass(frozen=True)
class AlertRecord:
    """A fired alert and its evidence."""

    id: int
    deployment: str | None
    rule: str
    severity: str
    metric: str
    feature: str | None
    value: float | None
    threshold: float | None
    evidence: dict[str, Any]
    status: str  # open / acked / resolved (its model version stopped serving)
    created_at: datetime
    acked_at: datetime | None


def _window(row: MonitorWindow) -> WindowRecord:
    return WindowRecord(
        row.deployment,
        row.model_version,
        row.size,
        row.start,
        row.end,
        row.rows,
        dict(row.metrics),
        dict(row.details),
        bool(row.partial),
    )


def _alert(row: Alert) -> AlertRecord:
    return AlertRecord(
        row.id,
        row.deployment,
        row.rule,
        row.severity,
        row.metric,
        row.feature,
        row.value,
        row.threshold,
        dict(row.evidence or {}),
        row.status,
        row.created_at,
        row.acked_at,
    )


class Monitoring(Repository):
    """Monitoring windows and the alerts they fired, as ``store.monitoring``."""

    def add_windows(self, windows: list[WindowRecord]) -> int:
        """Store ``windows`` in one transaction, replacing stored ones; how many were new."""
        for window in windows:
            check_json(window.metrics, "metrics")
            check_json(window.details, "details")

        def add(session: Session) -> int:
            added = 0
            for w in windows:
                known = session.scalars(
                    select(MonitorWindow.id).where(
                        MonitorWindow.deployment == w.deployment,
                        MonitorWindow.model_version == w.model_version,
                        MonitorWindow.size == w.size,
                        MonitorWindow.start == w.start,
                    )
                ).first()
                if known is not None:  # recomputed (labels arrived since): replace the values
                    row = session.get(MonitorWindow, known)
                    assert row is not None
                    row.end, row.rows, row.metrics, row.details, row.partial = (
                        w.end,
                        w.rows,
                        w.metrics,
                        w.details,
                        w.partial,
                    )
                else:
                    session.add(
                        MonitorWindow(
                            deployment=w.deployment,
                            model_version=w.model_version,
                            size=w.size,
                            start=w.start,
                            end=w.end,
                            rows=w.rows,
                            metrics=w.metrics,
                            details=w.details,
                            partial=w.partial,
                        )
                    )
                    added += 1
            return added

        return self._db.write("store monitoring windows", add)

    def list_windows(
        self,
        deployment: str,
        *,
        size: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[WindowRecord]:
        """Stored windows of ``deployment``, oldest first (the last ``limit``)."""
        query = select(MonitorWindow).where(MonitorWindow.deployment == deployment)
        if size is not None:
            query = query.where(MonitorWindow.size == size)
        if since is not None:
            query = query.where(MonitorWindow.end > since)
        query = query.order_by(MonitorWindow.start.desc(), MonitorWindow.id.desc())
        if limit is not None:
            query = query.limit(limit)
        with self._db.session(write=False) as session:
            return [_window(row) for row in reversed(list(session.scalars(query)))]

    def add_alert(
        self,
        *,
        deployment: str | None,
        rule: str,
        severity: str,
        metric: str,
        feature: str | None,
        value: float | None,
        threshold: float | None,
        evidence: dict[str, Any],
    ) -> AlertRecord:
        """Record a fired alert (status ``open``)."""
        check_json(evidence, "evidence")

        def add(session: Session) -> AlertRecord:
            row = Alert(
                deployment=deployment,
                rule=rule,
                severity=severity,
                metric=metric,
                feature=feature,
                value=value,
                threshold=threshold,
                evidence=evidence,
                status="open",
            )
            session.add(row)
            session.flush()
            return _alert(row)

        return self._db.write("store an alert", add)

    def confirm_alert(
        self, alert_id: int, *, value: float, evidence: dict[str, Any]
    ) -> AlertRecord:
        """Replace alert ``alert_id``'s value and evidence with its window's final ones (an alert
        fired on the open window, confirmed once the window closed): the same alert, not a
        second one."""
        check_json(evidence, "evidence")

        def confirm(session: Session) -> AlertRecord:
            row = session.get(Alert, alert_id, with_for_update=True)
            if row is None:
                raise NotFoundError(f"no alert {alert_id}; list them with 'loopml alerts list'")
            row.value, row.evidence = value, evidence
            return _alert(row)

        return self._db.write(f"confirm alert {alert_id}", confirm)

    def list_alerts(
        self,
        *,
        deployment: str | None = None,
        status: str | None = None,
        limit: int | None = None,
    ) -> list[AlertRecord]:
        """Alerts, newest first (optionally of one deployment or status)."""
        query = select(Alert).order_by(Alert.id.desc())
        if deployment is not None:
            query = query.where(Alert.deployment == deployment)
        if status is not None:
            query = query.where(Alert.status == status)
        if limit is not None:
            query = query.limit(limit)
        with self._db.session(write=False) as session:
            return [_alert(row) for row in session.scalars(query)]

    def ack_alert(self, alert_id: int) -> AlertRecord:
        """Acknowledge alert ``alert_id``; acknowledging twice is an error naming when."""

        def ack(session: Session) -> AlertRecord:
            row = session.get(Alert, alert_id, with_for_update=True)
            if row is None:
                raise NotFoundError(f"no alert {alert_id}; list them with 'loopml alerts list'")
            if row.status == "acked":
                raise StoreError(f"alert {alert_id} was already acknowledged at {row.acked_at}")
            row.status, row.acked_at = "acked", utcnow()
            return _alert(row)

        return self._db.write(f"acknowledge alert {alert_id}", ack)

    def resolve_alerts(self, alert_ids: list[int]) -> int:
        """Mark the open ones of ``alert_ids`` ``resolved`` (their model version stopped
        serving: no one needs to acknowledge them); how many changed."""

        def resolve(session: Session) -> int:
            rows = session.scalars(
                select(Alert).where(Alert.id.in_(alert_ids), Alert.status == "open")
            ).all()
            for row in rows:
                row.status = "resolved"
            return len(rows)

        return self._db.write("resolve alerts", resolve) if alert_ids else 0
