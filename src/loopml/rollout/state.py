"""Typed rollout state: the rollout a deployment's row holds, and the decisions it records.

The store keeps a deployment's state as JSON (``state["rollout"]``, beside other keys such as
``state["leases"]``); this module is the only reader and writer of the ``rollout`` key.
:class:`RolloutState` is its typed form (times as aware datetimes, stored as ISO 8601 strings);
:class:`RolloutEvent` is one recorded decision, stored in the same transaction as the state;
:class:`DeploymentChange` is one compare-and-set update of the deployment carrying both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any, Literal

from loopml.errors import RolloutError
from loopml.rollout.decide import Check
from loopml.store import DeploymentRecord, Store

RolloutStatus = Literal["running", "paused", "promoted", "rolled_back"]
Mode = Literal["shadow", "canary"]
EventAction = Literal["start", "advance", "hold", "promote", "rollback", "pause", "resume"]
#: The statuses of a rollout that is not over (traffic may still go to its model).
ACTIVE: tuple[RolloutStatus, ...] = ("running", "paused")
_TIMES = ("started_at", "step_started_at", "evaluated_at", "ended_at")


@dataclass(frozen=True)
class RolloutState:
    """One rollout of ``model`` through ``steps`` (percent of traffic to the canary).

    ``step`` indexes ``steps``; ``-1`` means the rollout runs as a shadow, before the first
    step. ``failed_evaluations`` counts failing evaluations in the whole rollout,
    ``consecutive_failures`` those in a row (reset on a pass and on resume).
    """

    id: str
    model: str  # the exact reference rolled out, e.g. "flights@4"
    previous: str | None  # stable when the rollout started
    mode: Mode
    steps: tuple[float, ...]
    step: int
    status: RolloutStatus
    started_at: datetime
    step_started_at: datetime
    evaluated_at: datetime | None = None
    failed_evaluations: int = 0
    consecutive_failures: int = 0
    ended_at: datetime | None = None

    @property
    def active(self) -> bool:
        """Whether the rollout is running or paused (not promoted or rolled back)."""
        return self.status in ACTIVE

    @property
    def last_step(self) -> bool:
        """Whether the current step is the last one (100 %): passing it promotes."""
        return self.step == len(self.steps) - 1

    def to_json(self) -> dict[str, Any]:
        """The JSON the store keeps (times as ISO 8601 strings)."""
        data = asdict(self)
        data["steps"] = list(self.steps)
        for name in _TIMES:
            moment = data[name]
            data[name] = None if moment is None else moment.isoformat()
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RolloutState:
        """The state from :meth:`to_json`'s output; a :class:`RolloutError` names what is wrong."""
        known = {f.name for f in fields(cls)}
        try:
            values = {name: data[name] for name in known if name in data}
            for name in _TIMES:
                if values.get(name) is not None:
                    values[name] = datetime.fromisoformat(values[name])
            values["steps"] = tuple(float(s) for s in values["steps"])
            state = cls(**values)
        except (KeyError, TypeError, ValueError) as exc:
            raise RolloutError(
                f"the deployment's stored rollout state is unreadable ({exc!r}); expected the "
                f"keys {sorted(known)}, got {sorted(data)}: roll it back by hand or reset the "
                "deployment"
            ) from exc
        if state.status not in (*ACTIVE, "promoted", "rolled_back") or state.mode not in (
            "shadow",
            "canary",
        ):
            raise RolloutError(
                f"the deployment's stored rollout has status {state.status!r} and mode "
                f"{state.mode!r}; expected a status in running, paused, promoted, rolled_back "
                "and a mode in shadow, canary"
            )
        return state


def latest_rollout(record: DeploymentRecord) -> RolloutState | None:
    """The deployment's latest rollout, whatever its status; ``None`` if it never had one."""
    data = record.state.get("rollout")
    return RolloutState.from_json(data) if data else None


def with_rollout(record: DeploymentRecord, rollout: RolloutState) -> dict[str, Any]:
    """``record``'s state with ``rollout`` in place; the state's other keys are kept."""
    return {**record.state, "rollout": rollout.to_json()}


@dataclass(frozen=True)
class RolloutEvent:
    """One decision on a rollout, recorded with the state change it made."""

    rollout_id: str
    action: EventAction
    model_ref: str
    weight: float  # the canary's percent of traffic after the decision
    message: str
    actor: str
    checks: tuple[Check, ...] = ()

    @classmethod
    def of(
        cls,
        rollout: RolloutState,
        action: EventAction,
        message: str,
        actor: str,
        weight: float,
        checks: Sequence[Check] = (),
    ) -> RolloutEvent:
        """The event of ``action`` on ``rollout``."""
        return cls(rollout.id, action, rollout.model, weight, message, actor, tuple(checks))

    def to_json(self) -> dict[str, Any]:
        """The fields ``store.deployments.save`` records (checks as dicts)."""
        return {
            "rollout_id": self.rollout_id,
            "action": self.action,
            "model_ref": self.model_ref,
            "weight": self.weight,
            "message": self.message,
            "checks": [check.as_dict() for check in self.checks],
            "actor": self.actor,
        }


@dataclass(frozen=True)
class DeploymentChange:
    """One compare-and-set update of a deployment (what
    ``store.deployments.save`` takes): what it serves afterwards, its state, the
    decision recorded with it, and where the model's ``champion`` alias moves (if anywhere)."""

    stable: str | None
    canary: str | None
    shadow: str | None
    canary_weight: float
    state: dict[str, Any]
    event: RolloutEvent | None = None
    champion: str | None = None

    def save(self, store: Store, current: DeploymentRecord) -> DeploymentRecord | None:
        """Write it over ``current``; ``None`` when someone changed the deployment first."""
        return store.deployments.save(
            current,
            stable=self.stable,
            canary=self.canary,
            shadow=self.shadow,
            canary_weight=self.canary_weight,
            state=self.state,
            event=None if self.event is None else self.event.to_json(),
            champion=self.champion,
        )
