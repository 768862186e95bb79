"""Feedback: ground truth that arrives after the prediction, keyed by its request id.

The first label for a request id wins: a later one for the same id is a duplicate, counted and
ignored (labels are facts; a correction is a new prediction's business). Writes are one
transaction per batch, so a batch is stored whole or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loopml.errors import StoreError
from loopml.store._engine import Repository
from loopml.store._tables import Feedback as Label


@dataclass(frozen=True)
class FeedbackRecord:
    """One stored label."""

    request_id: str
    label: Any
    received_at: datetime


def _check_request_id(value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > 64:
        raise StoreError(f"expected a request id (1-64 characters), got {value!r}")
    return value


class Feedback(Repository):
    """Ground truth by request id, as ``store.feedback``: add, look up, list and count labels."""

    def add(self, items: list[tuple[str, Any]]) -> tuple[int, int]:
        """Store ``(request_id, label)`` pairs; return ``(added, duplicates)``.

        A request id already labelled (stored before, or earlier in ``items``) is a duplicate.
        """
        ids = [_check_request_id(request_id) for request_id, _ in items]

        def add(session: Session) -> tuple[int, int]:
            known: set[str] = set()
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                known.update(
                    session.scalars(select(Label.request_id).where(Label.request_id.in_(chunk)))
                )
            added = 0
            for request_id, label in items:
                if request_id in known:
                    continue
                known.add(request_id)
                session.add(Label(request_id=request_id, label=label))
                added += 1
            return added, len(items) - added

        return self._db.write("store feedback", add)

    def labels(self, request_ids: list[str]) -> dict[str, Any]:
        """The stored label of each of ``request_ids`` that has one."""
        found: dict[str, Any] = {}
        with self._db.session(write=False) as session:
            for start in range(0, len(request_ids), 900):
                chunk = request_ids[start : start + 900]
                query = select(Label.request_id, Label.label).where(Label.request_id.in_(chunk))
                found.update((row.request_id, row.label) for row in session.execute(query))
        return found

    def count(self, *, since: datetime | None = None) -> int:
        """How many labels were stored (since ``since``), counted in the database."""
        query = select(func.count(Label.id))
        if since is not None:
            query = query.where(Label.received_at >= since)
        with self._db.session(write=False) as session:
            return int(session.scalar(query) or 0)

    def list(self, *, since: datetime | None = None) -> list[FeedbackRecord]:
        """Stored labels, oldest first (optionally only those received since ``since``)."""
        query = select(Label).order_by(Label.id)
        if since is not None:
            query = query.where(Label.received_at >= since)
        with self._db.session(write=False) as session:
            return [
                FeedbackRecord(r.request_id, r.label, r.received_at) for r in session.scalars(query)
            ]
