"""Incidents: the alerts that fire together, kept as one story until it ends.

An incident belongs to one deployment, model version, window size and rule family
(``drift``, ``unseen``, ``error_rate``, …). It is opened by the monitor when a family's alerts
fire on a window, updated as later windows of the same version still cross the family's rules,
and resolved once (with the reason) when they no longer do or the version stops serving.
``evidence`` holds the features, ranked, the alert ids and the windows it spans.
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
from loopml.store._tables import Incident, utcnow


@dataclass(frozen=True)
class IncidentRecord:
    """One incident: ``title`` is its sentence for people, ``evidence`` the numbers."""

    id: int
    deployment: str
    model_version: str
    size: str
    family: str
    severity: str
    status: str  # open / resolved
    title: str
    evidence: dict[str, Any]
    first_window: datetime
    last_window: datetime
    opened_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    resolution: str | None


def _record(row: Incident) -> IncidentRecord:
    return IncidentRecord(
        row.id,
        row.deployment,
        row.model_version,
        row.size,
        row.family,
        row.severity,
        row.status,
        row.title,
        dict(row.evidence or {}),
        row.first_window,
        row.last_window,
        row.opened_at,
        row.updated_at,
        row.resolved_at,
        row.resolution,
    )


class Incidents(Repository):
    """Incidents, as ``store.incidents``: open, update, resolve, list."""

    def open(
        self,
        *,
        deployment: str,
        model_version: str,
        size: str,
        family: str,
        severity: str,
        title: str,
        evidence: dict[str, Any],
        window: datetime,
    ) -> IncidentRecord:
        """Open an incident whose first (and so far last) window starts at ``window``."""
        check_json(evidence, "evidence")

        def add(session: Session) -> IncidentRecord:
            row = Incident(
                deployment=deployment,
                model_version=model_version,
                size=size,
                family=family,
                severity=severity,
                status="open",
                title=title,
                evidence=evidence,
                first_window=window,
                last_window=window,
            )
            session.add(row)
            session.flush()
            return _record(row)

        return self._db.write("open an incident", add)

    def update(
        self,
        incident_id: int,
        *,
        title: str,
        severity: str,
        evidence: dict[str, Any],
        window: datetime,
    ) -> IncidentRecord:
        """Rewrite open incident ``incident_id``'s title and evidence as of ``window``."""
        check_json(evidence, "evidence")

        def update(session: Session) -> IncidentRecord:
            row = self._open_row(session, incident_id)
            row.title, row.severity, row.evidence = title, severity, evidence
            row.last_window, row.updated_at = max(row.last_window, window), utcnow()
            return _record(row)

        return self._db.write(f"update incident {incident_id}", update)

    def resolve(self, incident_id: int, reason: str) -> IncidentRecord:
        """Close open incident ``incident_id``, saying why (a sentence for people)."""

        def resolve(session: Session) -> IncidentRecord:
            row = self._open_row(session, incident_id)
            row.status, row.resolution = "resolved", reason
            row.resolved_at = row.updated_at = utcnow()
            return _record(row)

        return self._db.write(f"resolve incident {incident_id}", resolve)

    @staticmethod
    def _open_row(session: Session, incident_id: int) -> Incident:
        row = session.get(Incident, incident_id, with_for_update=True)
        if row is None:
            raise NotFoundError(
                f"no incident {incident_id}; list them with 'loopml incidents list --all'"
            )
        if row.status != "open":
            raise StoreError(
                f"incident {incident_id} was already resolved at {row.resolved_at} "
                f"({row.resolution}); a new one opens when its rules fire again"
            )
        return row

    def list(
        self,
        *,
        deployment: str | None = None,
        status: str | None = None,
        limit: int | None = None,
    ) -> list[IncidentRecord]:
        """Incidents, newest first (optionally of one deployment or status)."""
        query = select(Incident).order_by(Incident.id.desc())
        if deployment is not None:
            query = query.where(Incident.deployment == deployment)
        if status is not None:
            query = query.where(Incident.status == status)
        if limit is not None:
            query = query.limit(limit)
        with self._db.session(write=False) as session:
            return [_record(row) for row in session.scalars(query)]
