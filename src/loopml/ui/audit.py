"""The audit log as the dashboard shows it: the maintenance loop's decisions and the rollout
controller's merged, newest first, with each run of ``hold`` decisions folded into one row.

A canary under evaluation holds on every look until it has the evidence to advance or roll
back, so one rollout step can write hundreds of ``hold`` rows that say the same thing and push
every other decision off the page. :func:`collapse_holds` folds each run of consecutive holds of
one model into one row carrying how many there were and the span they cover (the row's text is
the newest hold's, the one that tells where the rollout stands). Pure, and property-tested:
nothing but holds is ever merged, and no hold is lost from the count.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from loopml.spec import Spec
from loopml.store import Store

HOLD = "hold"
EVENTS_PER_ROW = 20  # rollout events read per row shown: runs of holds collapse to one row


@dataclass(frozen=True)
class AuditRow:
    """One decision: the maintenance loop's (``loop``) or the rollout controller's (``rollout``);
    ``count`` decisions of one kind in a row (``hold`` only), the oldest at ``since``."""

    at: datetime
    source: str
    action: str
    model_ref: str | None
    actor: str
    text: str
    evidence: Any  # the audit entry's evidence dict, or the rollout decision's checks
    count: int = 1
    since: datetime | None = None  # a collapsed run's oldest decision (``at`` is its newest)

    @property
    def span(self) -> str:
        """A collapsed run in words, e.g. ``37 holds from 10:00:01 to 10:18:05``; else ``""``."""
        if self.count == 1 or self.since is None:
            return ""
        day = "%Y-%m-%d " if self.since.date() != self.at.date() else ""
        return (
            f"{self.count:,} holds from {self.since.strftime(day + '%H:%M:%S')} to "
            f"{self.at.strftime(day + '%H:%M:%S')}"
        )


def _same_run(row: AuditRow, before: AuditRow) -> bool:
    return (
        row.action == HOLD
        and before.action == HOLD
        and row.source == before.source
        and row.model_ref == before.model_ref
    )


def collapse_holds(rows: list[AuditRow]) -> list[AuditRow]:
    """``rows`` (newest first) with every run of consecutive ``hold`` rows of one source and
    model folded into its newest row, counting the run and starting at its oldest."""
    out: list[AuditRow] = []
    for row in rows:
        if out and _same_run(row, out[-1]):
            last = out[-1]
            out[-1] = replace(last, count=last.count + row.count, since=row.since or row.at)
        else:
            out.append(row if row.action != HOLD or row.since else replace(row, since=row.at))
    return out


def audit(store: Store, spec: Spec, *, limit: int = 300) -> list[AuditRow]:
    """The deployment's audit log and rollout decisions merged, newest first, runs of holds
    collapsed (:func:`collapse_holds`): at most ``limit`` rows."""
    rows = [
        AuditRow(a.at, "loop", a.action, a.model_ref, a.actor, a.reason, a.evidence)
        for a in store.audit.list(spec.name, limit=limit)
    ]
    events = store.deployments.list_events(spec.name, limit=limit * EVENTS_PER_ROW)
    rows += [
        AuditRow(e.at, "rollout", e.action, e.model_ref, e.actor, e.message, e.checks)
        for e in reversed(events)
    ]
    return collapse_holds(sorted(rows, key=lambda row: row.at, reverse=True))[:limit]
