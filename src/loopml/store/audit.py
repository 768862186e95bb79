"""The audit log: every decision of the maintenance loop, with the evidence behind it.

Rows are appended, never changed: a trigger seen, a retrain started or skipped (and why), its
validation and gate results, a proposal waiting for a person, an approval, a rollout started, a
failure. The loop's own memory (when it last retrained, how often this week, which proposal is
pending) is read back from here, so a restarted loop carries on where the last one stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from loopml.store._checks import check_json
from loopml.store._engine import Repository
from loopml.store._tables import AuditEntry
from loopml.store.records import check_name


@dataclass(frozen=True)
class AuditRecord:
    """One audited decision: ``reason`` is a sentence for people, ``evidence`` the numbers."""

    id: int
    deployment: str
    at: datetime
    action: str
    reason: str
    evidence: dict[str, Any]
    model_ref: str | None
    actor: str


def _record(row: AuditEntry) -> AuditRecord:
    return AuditRecord(
        row.id,
        row.deployment,
        row.at,
        row.action,
        row.reason,
        dict(row.evidence or {}),
        row.model_ref,
        row.actor,
    )


class Audit(Repository):
    """The maintenance loop's audit log, as ``store.audit``: append and list decisions."""

    def add(
        self,
        deployment: str,
        action: str,
        reason: str,
        *,
        evidence: dict[str, Any] | None = None,
        model_ref: str | None = None,
        actor: str = "loop",
    ) -> AuditRecord:
        """Append one decision to ``deployment``'s audit log."""
        check_name(deployment, what="deployment")
        evidence = check_json(dict(evidence or {}), "evidence")

        def add(session: Session) -> AuditRecord:
            row = AuditEntry(
                deployment=deployment,
                action=action,
                reason=reason,
                evidence=evidence,
                model_ref=model_ref,
                actor=actor,
            )
            session.add(row)
            session.flush()
            return _record(row)

        return self._db.write(f"record '{action}' in the audit log", add)

    def list(
        self,
        deployment: str | None = None,
        *,
        actions: list[str] | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[AuditRecord]:
        """Audited decisions, newest first (of ``deployment``, of ``actions``, after ``since``)."""
        query = select(AuditEntry)
        if deployment is not None:
            query = query.where(AuditEntry.deployment == deployment)
        if actions is not None:
            query = query.where(AuditEntry.action.in_(actions))
        if since is not None:
            query = query.where(AuditEntry.at > since)
        query = query.order_by(AuditEntry.id.desc())
        if limit is not None:
            query = query.limit(limit)
        with self._db.session(write=False) as session:
            return [_record(row) for row in session.scalars(query)]
