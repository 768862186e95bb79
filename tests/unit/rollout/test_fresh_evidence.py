"""After a failing evaluation the step's evidence starts afresh, so the failures a rollback
counts "in a row" are failures on separate windows, not one unlucky window looked at twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from loopml.rollout.controller import _apply
from loopml.rollout.decide import Arm, decide
from loopml.rollout.state import RolloutState, with_rollout
from loopml.store import DeploymentRecord
from tests.unit.rollout.test_rollout_decision import POLICY, arm

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
RUNNING = RolloutState(
    id="abc123",
    model="flights@4",
    previous="flights@3",
    mode="canary",
    steps=(20.0, 100.0),
    step=0,
    status="running",
    started_at=T0,
    step_started_at=T0,
)


def evaluated(rollout: RolloutState, canary: Arm, moment: datetime) -> tuple[str, RolloutState]:
    """One evaluation at ``moment``: the action taken and the rollout state it leaves."""
    empty = DeploymentRecord("flights", "flights@3", "flights@4", None, 20.0, {}, 1, T0)
    record = DeploymentRecord(
        "flights", "flights@3", "flights@4", None, 20.0, with_rollout(empty, rollout), 1, T0
    )
    decision = decide(
        canary,
        arm(4000, seed=2),
        POLICY,
        elapsed_s=(moment - rollout.step_started_at).total_seconds(),
        failed_evaluations=rollout.failed_evaluations,
        consecutive_failures=rollout.consecutive_failures,
    )
    change = _apply(record, rollout, decision, moment, "test")
    return decision.action, RolloutState.from_json(change.state["rollout"])


def test_a_failure_restarts_the_window_and_the_waits_that_follow_keep_the_count() -> None:
    broken = arm(400, errors=40, seed=1)
    first = T0 + timedelta(minutes=1)
    action, state = evaluated(RUNNING, broken, first)
    assert action == "hold" and state.consecutive_failures == 1
    assert state.step_started_at == first  # the next verdict is on requests after this one
    # the fresh window fills: too little data holds, and the failure still counts
    action, state = evaluated(state, arm(20, seed=3), first + timedelta(seconds=5))
    assert action == "hold" and state.consecutive_failures == 1 and state.step_started_at == first
    # a second failure, on fresh evidence, rolls back
    action, _ = evaluated(state, broken, first + timedelta(minutes=1))
    assert action == "rollback"


def test_a_pass_after_a_failure_clears_the_count() -> None:
    first = T0 + timedelta(minutes=1)
    _, state = evaluated(RUNNING, arm(400, errors=40, seed=1), first)
    healthy = RolloutState.from_json({**state.to_json(), "steps": [20.0, 50.0, 100.0]})
    action, after = evaluated(healthy, arm(400, seed=1), first + timedelta(minutes=1))
    assert action == "advance" and after.consecutive_failures == 0 and after.step == 1
