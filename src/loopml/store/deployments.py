"""Deployments: which model versions a named deployment serves, and its rollout's decisions.

A deployment row holds the stable version, an optional canary (at a weight, in percent) or
shadow, and the rollout's state as JSON (owned by :mod:`loopml.rollout.controller`). Every change
is compare-and-set on ``revision``: :meth:`Deployments.save` (``store.deployments.save``)
writes only if the row still has the revision the caller read, and returns ``None`` otherwise.
That is what lets several server processes run the same rollout controller: one of them wins
each decision, the others re-read. The decision's event (its checks and their evidence) lands in
the same transaction as the state change, so the history never disagrees with the state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from loopml.errors import StoreError
from loopml.store._checks import check_json
from loopml.store._engine import Repository
from loopml.store._tables import Deployment, Model, ModelAlias, RolloutEvent
from loopml.store.models import _resolve
from loopml.store.records import check_name


@dataclass(frozen=True)
class DeploymentRecord:
    """What a deployment serves now. Model versions are exact references (``flights@3``)."""

    name: str
    stable: str | None
    canary: str | None
    shadow: str | None
    canary_weight: float  # percent of traffic, 0-100
    state: dict[str, Any]
    revision: int  # 0: never saved
    updated_at: datetime | None


@dataclass(frozen=True)
class RolloutEventRecord:
    """One recorded rollout decision with each check's measured value and threshold."""

    id: int
    deployment: str
    rollout_id: str
    at: datetime
    action: str
    model_ref: str
    weight: float
    message: str
    checks: list[dict[str, Any]]
    actor: str


def _ref(session: Session, model_id: int | None) -> str | None:
    if model_id is None:
        return None
    row = session.get(Model, model_id)
    return None if row is None else f"{row.name}@{row.version}"


def _model_id(session: Session, ref: str | None) -> int | None:
    return None if ref is None else _resolve(session, ref).id


def _deployment(session: Session, name: str, row: Deployment | None) -> DeploymentRecord:
    if row is None:
        return DeploymentRecord(name, None, None, None, 0.0, {}, 0, None)
    return DeploymentRecord(
        name=row.name,
        stable=_ref(session, row.stable_model_id),
        canary=_ref(session, row.canary_model_id),
        shadow=_ref(session, row.shadow_model_id),
        canary_weight=row.canary_weight,
        state=dict(row.state or {}),
        revision=row.revision,
        updated_at=row.updated_at,
    )


class Deployments(Repository):
    """What each deployment serves and its rollout's decisions, as ``store.deployments``."""

    def get(self, name: str) -> DeploymentRecord:
        """Deployment ``name`` as stored (revision 0 and nothing deployed if never saved)."""
        check_name(name, what="deployment")
        with self._db.session(write=False) as session:
            row = session.scalars(select(Deployment).where(Deployment.name == name)).first()
            return _deployment(session, name, row)

    def save(
        self,
        current: DeploymentRecord,
        *,
        stable: str | None,
        canary: str | None = None,
        shadow: str | None = None,
        canary_weight: float = 0.0,
        state: dict[str, Any] | None = None,
        event: dict[str, Any] | None = None,
        champion: str | None = None,
    ) -> DeploymentRecord | None:
        """Replace ``current`` with the given versions and state, if nobody changed it since.

        Returns the saved record, or ``None`` when the stored revision is no longer
        ``current.revision`` (re-read and decide again). ``event`` (the fields of
        :class:`RolloutEventRecord` but ``id``, ``deployment`` and ``at``) is recorded in the
        same transaction; ``champion`` moves that model's ``champion`` alias there too.
        """
        check_name(current.name, what="deployment")
        if not 0.0 <= canary_weight <= 100.0:
            raise StoreError(
                f"canary_weight: expected a percentage in [0, 100], got {canary_weight}"
            )
        state = check_json(dict(state or {}), "state")
        if event is not None:
            check_json(event, "event")

        def save(session: Session) -> DeploymentRecord | None:
            row = session.scalars(
                select(Deployment).where(Deployment.name == current.name).with_for_update()
            ).first()
            stored = 0 if row is None else row.revision
            if stored != current.revision:
                return None
            if row is None:
                row = Deployment(name=current.name, revision=0)
                session.add(row)
            row.stable_model_id = _model_id(session, stable)
            row.canary_model_id = _model_id(session, canary)
            row.shadow_model_id = _model_id(session, shadow)
            row.canary_weight = float(canary_weight)
            row.state = state
            row.revision = stored + 1
            if event is not None:
                session.add(RolloutEvent(deployment=current.name, **event))
            if champion is not None:
                _point_champion(session, champion)
            session.flush()
            return _deployment(session, current.name, row)

        return self._db.write(f"update deployment '{current.name}'", save)

    def list_events(
        self, deployment: str, *, rollout_id: str | None = None, limit: int | None = None
    ) -> list[RolloutEventRecord]:
        """Recorded rollout decisions of ``deployment``, oldest first (the last ``limit``)."""
        query = select(RolloutEvent).where(RolloutEvent.deployment == deployment)
        if rollout_id is not None:
            query = query.where(RolloutEvent.rollout_id == rollout_id)
        query = query.order_by(RolloutEvent.id.desc())
        if limit is not None:
            query = query.limit(limit)
        with self._db.session(write=False) as session:
            rows = list(session.scalars(query))
            return [
                RolloutEventRecord(
                    id=r.id,
                    deployment=r.deployment,
                    rollout_id=r.rollout_id,
                    at=r.at,
                    action=r.action,
                    model_ref=r.model_ref,
                    weight=r.weight,
                    message=r.message,
                    checks=list(r.checks or []),
                    actor=r.actor,
                )
                for r in reversed(rows)
            ]


def _point_champion(session: Session, ref: str) -> None:
    row = _resolve(session, ref)
    alias = session.scalars(
        select(ModelAlias).where(ModelAlias.name == row.name, ModelAlias.alias == "champion")
    ).first()
    if alias is None:
        session.add(ModelAlias(name=row.name, alias="champion", model_id=row.id))
    else:
        alias.model_id = row.id
