"""The rollout controller: start, evaluate, advance, promote, roll back, pause and resume.

A rollout lives in the deployment's row in the store (``state["rollout"]``, typed by
:class:`~loopml.rollout.state.RolloutState`), so every server process and the CLI see one
rollout; each change is compare-and-set on the row's revision, so when several processes evaluate
at once exactly one decision lands (the others re-read). The evidence comes from the prediction
log (every process writes its own segments) and from the feedback table
(:mod:`loopml.rollout.evidence`); :func:`loopml.rollout.decide.decide` makes the call.

A rollout moves through ``steps`` (percent of traffic to the canary). With ``shadow`` it first
runs as a shadow (copies of traffic, answers logged and never returned) and becomes a canary at
the first step once the shadow passes. Passing the last step (100 %) promotes: the canary becomes
stable. Either way the model's ``champion`` alias ends on what serves, so a version the gate
blessed offline but the canary rejected stops being the champion.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loopml.errors import RolloutError
from loopml.registry import load_package
from loopml.rollout.decide import Check, Decision, Quality, decide
from loopml.rollout.evidence import gather
from loopml.rollout.state import (
    DeploymentChange,
    EventAction,
    RolloutEvent,
    RolloutState,
    RolloutStatus,
    latest_rollout,
    with_rollout,
)
from loopml.spec import Spec
from loopml.store import DeploymentRecord, RolloutEventRecord, Store

logger = logging.getLogger(__name__)
_ATTEMPTS = 20


@dataclass(frozen=True)
class Status:
    """A deployment, its latest rollout (if any, whatever its status) and that rollout's
    recorded decisions."""

    deployment: DeploymentRecord
    rollout: RolloutState | None
    events: list[RolloutEventRecord]

    def to_json(self) -> dict[str, Any]:
        """The status as JSON: what ``GET /admin/rollout`` answers and ``rollout status --json``
        prints (times as ISO 8601 strings)."""
        record = self.deployment
        return {
            "deployment": record.name,
            "stable": record.stable,
            "canary": record.canary,
            "canary_weight": record.canary_weight,
            "shadow": record.shadow,
            "revision": record.revision,
            "rollout": self.rollout.to_json() if self.rollout else None,
            "events": [
                {
                    "at": e.at.isoformat(),
                    "action": e.action,
                    "weight": e.weight,
                    "message": e.message,
                    "checks": e.checks,
                    "actor": e.actor,
                }
                for e in self.events
            ],
        }


def _now() -> datetime:
    return datetime.now(UTC)


def active_rollout(record: DeploymentRecord) -> RolloutState | None:
    """The deployment's rollout while it is running or paused, else ``None``."""
    rollout = latest_rollout(record)
    return rollout if rollout is not None and rollout.active else None


def _change(
    store: Store, name: str, make: Callable[[DeploymentRecord], DeploymentChange | None]
) -> DeploymentRecord:
    """Apply ``make(current)`` (``None``: no change) with compare-and-set, re-reading and
    retrying when another process got there first."""
    for _ in range(_ATTEMPTS):
        current = store.deployments.get(name)
        change = make(current)
        if change is None:
            return current
        saved = change.save(store, current)
        if saved is not None:
            return saved
    raise RolloutError(f"deployment '{name}' kept changing under {_ATTEMPTS} attempts; retry")


def _same_versions(
    current: DeploymentRecord, rollout: RolloutState, event: RolloutEvent | None = None
) -> DeploymentChange:
    """``current``'s traffic split unchanged, with ``rollout`` (and ``event``) recorded."""
    return DeploymentChange(
        stable=current.stable,
        canary=current.canary,
        shadow=current.shadow,
        canary_weight=current.canary_weight,
        state=with_rollout(current, rollout),
        event=event,
    )


def ensure_deployment(store: Store, spec: Spec) -> DeploymentRecord:
    """The project's deployment, created serving the champion the first time it is needed."""

    def create(current: DeploymentRecord) -> DeploymentChange | None:
        if current.stable is not None:
            return None
        champion = store.models.get(f"{spec.name}@champion").ref
        return DeploymentChange(
            stable=champion, canary=None, shadow=None, canary_weight=0.0, state={}
        )

    return _change(store, spec.name, create)


def start(
    store: Store,
    spec: Spec,
    version: str,
    *,
    steps: list[float] | None = None,
    shadow: bool = False,
    actor: str = "cli",
) -> DeploymentRecord:
    """Start rolling ``version`` (``3``, ``flights@3`` or ``flights@challenger``) out.

    The package is loaded (checksums verified) before anything changes, so a broken package
    never starts a rollout.
    """
    ref = version if "@" in version else f"{spec.name}@{version}"
    ref = store.models.get(ref).ref
    load_package(store, ref)
    plan = _steps(steps if steps is not None else spec.rollout.steps)
    ensure_deployment(store, spec)
    moment = _now()

    def begin(current: DeploymentRecord) -> DeploymentChange:
        if (running := active_rollout(current)) is not None:
            raise RolloutError(
                f"a rollout of {running.model} is {running.status} on '{spec.name}'; "
                "promote or roll it back first (loopml rollout promote / rollback)"
            )
        if ref == current.stable:
            raise RolloutError(f"{ref} is already the stable version of '{spec.name}'")
        rollout = RolloutState(
            id=uuid.uuid4().hex[:12],
            model=ref,
            previous=current.stable,
            mode="shadow" if shadow else "canary",
            steps=tuple(plan),
            step=-1 if shadow else 0,
            status="running",
            started_at=moment,
            step_started_at=moment,
        )
        weight = 0.0 if shadow else plan[0]
        what = "as a shadow" if shadow else f"as a canary at {plan[0]:g}%"
        message = f"started {ref} {what} (steps {plan})"
        return DeploymentChange(
            stable=current.stable,
            canary=None if shadow else ref,
            shadow=ref if shadow else None,
            canary_weight=weight,
            state=with_rollout(current, rollout),
            event=RolloutEvent.of(rollout, "start", message, actor, weight),
        )

    return _change(store, spec.name, begin)


def _steps(steps: list[float]) -> list[float]:
    plan = [float(s) for s in steps]
    if not plan or any(not 0 < s <= 100 for s in plan) or plan != sorted(set(plan)):
        raise RolloutError(
            f"steps: expected increasing percentages in (0, 100], e.g. 5,25,50,100; got {steps}"
        )
    if plan[-1] != 100:
        plan.append(100.0)
    return plan


def _finish(
    current: DeploymentRecord,
    rollout: RolloutState,
    *,
    promoted: bool,
    message: str,
    actor: str,
    checks: Sequence[Check] = (),
) -> DeploymentChange:
    done = replace(rollout, status="promoted" if promoted else "rolled_back", ended_at=_now())
    serving = rollout.model if promoted else current.stable
    action: EventAction = "promote" if promoted else "rollback"
    return DeploymentChange(
        stable=serving,
        canary=None,
        shadow=None,
        canary_weight=0.0,
        state=with_rollout(current, done),
        event=RolloutEvent.of(rollout, action, message, actor, current.canary_weight, checks),
        champion=serving,
    )


def _require(current: DeploymentRecord, name: str) -> RolloutState:
    rollout = active_rollout(current)
    if rollout is None:
        raise RolloutError(
            f"no rollout is running on '{name}'; start one with: loopml rollout start VERSION"
        )
    return rollout


def promote(store: Store, spec: Spec, *, actor: str = "cli", reason: str = "") -> DeploymentRecord:
    """Make the rollout's model stable now (and the champion), ending the rollout."""
    return _end_by_hand(store, spec, promoted=True, actor=actor, reason=reason)


def rollback(store: Store, spec: Spec, *, actor: str = "cli", reason: str = "") -> DeploymentRecord:
    """Send all traffic back to stable now, ending the rollout."""
    return _end_by_hand(store, spec, promoted=False, actor=actor, reason=reason)


def _end_by_hand(
    store: Store, spec: Spec, *, promoted: bool, actor: str, reason: str
) -> DeploymentRecord:
    def make(current: DeploymentRecord) -> DeploymentChange:
        rollout = _require(current, spec.name)
        verb = "promoted" if promoted else "rolled back"
        why = f"{verb} {rollout.model} by hand" + (f": {reason}" if reason else "")
        return _finish(current, rollout, promoted=promoted, message=why, actor=actor)

    return _change(store, spec.name, make)


def pause(store: Store, spec: Spec, *, actor: str = "cli") -> DeploymentRecord:
    """Freeze the rollout at its step: traffic keeps its split, no automatic decisions."""
    return _set_status(store, spec, "paused", actor)


def resume(store: Store, spec: Spec, *, actor: str = "cli") -> DeploymentRecord:
    """Continue a paused rollout; its current step starts afresh (new evidence window)."""
    return _set_status(store, spec, "running", actor)


def _set_status(store: Store, spec: Spec, status: RolloutStatus, actor: str) -> DeploymentRecord:
    def make(current: DeploymentRecord) -> DeploymentChange:
        rollout = _require(current, spec.name)
        if rollout.status == status:
            raise RolloutError(f"the rollout of {rollout.model} is already {status}")
        changed = replace(rollout, status=status)
        if status == "running":
            changed = replace(changed, step_started_at=_now(), consecutive_failures=0)
        verb: EventAction = "pause" if status == "paused" else "resume"
        message = f"{verb}d by {actor}"
        event = RolloutEvent.of(rollout, verb, message, actor, current.canary_weight)
        return _same_versions(current, changed, event)

    return _change(store, spec.name, make)


def status(store: Store, spec: Spec, *, limit: int = 20) -> Status:
    """The deployment, its latest rollout and that rollout's last ``limit`` decisions."""
    record = store.deployments.get(spec.name)
    rollout = latest_rollout(record)
    events = (
        store.deployments.list_events(spec.name, rollout_id=rollout.id, limit=limit)
        if rollout
        else []
    )
    return Status(record, rollout, events)


# --- evaluation -------------------------------------------------------------------------------


def due(record: DeploymentRecord, spec: Spec, now: datetime | None = None) -> bool:
    """Whether the running rollout's next evaluation is due."""
    rollout = active_rollout(record)
    if rollout is None or rollout.status != "running":
        return False
    if rollout.evaluated_at is None:
        return True
    elapsed = ((now or _now()) - rollout.evaluated_at).total_seconds()
    return elapsed >= spec.rollout.interval.total_seconds()


def evaluate(
    store: Store, spec: Spec, log_folder: str | Path, *, actor: str = "controller"
) -> Decision | None:
    """Judge the running rollout's current step once, if due, and apply the decision.

    Returns the decision, or ``None`` when nothing was due or another process decided first.
    """
    record = store.deployments.get(spec.name)
    if not due(record, spec):
        return None
    rollout = active_rollout(record)
    assert rollout is not None
    moment = _now()
    evidence = gather(store, spec, log_folder, record, rollout, moment)
    decision = decide(
        evidence.canary,
        evidence.stable,
        spec.rollout,
        elapsed_s=evidence.elapsed_s,
        failed_evaluations=rollout.failed_evaluations,
        consecutive_failures=rollout.consecutive_failures,
        quality=_quality(spec),
        latency_target_ms=spec.targets.latency_p99_ms,
        probabilities=spec.task != "regression",
    )
    saved = _apply(record, rollout, decision, moment, actor).save(store, record)
    return decision if saved is not None else None


def _apply(
    current: DeploymentRecord,
    rollout: RolloutState,
    decision: Decision,
    moment: datetime,
    actor: str,
) -> DeploymentChange:
    checks = decision.checks
    if decision.action == "rollback":
        return _finish(
            current, rollout, promoted=False, message=decision.message, actor=actor, checks=checks
        )
    if decision.action == "advance" and rollout.last_step:
        return _finish(
            current,
            rollout,
            promoted=True,
            message=f"promoted: every check passed at {rollout.steps[rollout.step]:g}%",
            actor=actor,
            checks=checks,
        )
    updated = replace(
        rollout,
        evaluated_at=moment,
        failed_evaluations=decision.failed_evaluations,
        consecutive_failures=decision.consecutive_failures,
    )
    if decision.failed:  # the next verdict is on fresh evidence, not this window again
        updated = replace(updated, step_started_at=moment)
    canary, shadow, weight = current.canary, current.shadow, current.canary_weight
    action: EventAction = "hold"
    message = decision.message
    if decision.action == "advance":
        step = rollout.step + 1
        weight = float(rollout.steps[step])
        canary, shadow = rollout.model, None
        updated = replace(updated, step=step, step_started_at=moment, mode="canary")
        action = "advance"
        message = f"every check passed; canary now at {weight:g}%"
    return DeploymentChange(
        stable=current.stable,
        canary=canary,
        shadow=shadow,
        canary_weight=weight,
        state=with_rollout(current, updated),
        event=RolloutEvent.of(rollout, action, message, actor, weight, checks),
    )


def _quality(spec: Spec) -> Quality | None:
    if spec.task == "multiclass":  # the log's score is the top probability: no AUC from it
        return None
    return Quality(spec.metric.name, spec.metric.greater_is_better, spec.metric.margin)
