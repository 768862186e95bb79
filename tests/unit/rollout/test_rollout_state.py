"""The typed rollout state: what the deployment's row keeps under ``state["rollout"]``."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from loopml.errors import RolloutError
from loopml.rollout.controller import active_rollout
from loopml.rollout.decide import Check
from loopml.rollout.state import RolloutEvent, RolloutState, latest_rollout, with_rollout
from loopml.store import DeploymentRecord

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
ROLLOUT = RolloutState(
    id="abc123",
    model="flights@4",
    previous="flights@3",
    mode="canary",
    steps=(5.0, 25.0, 100.0),
    step=1,
    status="running",
    started_at=T0,
    step_started_at=T0 + timedelta(minutes=5),
    evaluated_at=T0 + timedelta(minutes=6, microseconds=12),
    failed_evaluations=2,
    consecutive_failures=1,
)


def deployment(state: dict[str, Any]) -> DeploymentRecord:
    return DeploymentRecord("flights", "flights@3", "flights@4", None, 25.0, state, 7, T0)


def test_the_state_round_trips_through_the_stored_json() -> None:
    stored = orjson.loads(orjson.dumps(ROLLOUT.to_json()))
    assert stored["steps"] == [5.0, 25.0, 100.0]
    assert stored["step_started_at"] == "2024-03-01T12:05:00+00:00" and stored["ended_at"] is None
    assert RolloutState.from_json(stored) == ROLLOUT
    done = replace(ROLLOUT, status="promoted", ended_at=T0 + timedelta(hours=1))
    assert RolloutState.from_json(done.to_json()) == done


def test_state_written_before_typing_still_reads() -> None:
    legacy = {
        "id": "abc123",
        "model": "flights@4",
        "previous": None,
        "mode": "shadow",
        "steps": [5, 100],  # integers from a hand-edited spec
        "step": -1,
        "status": "paused",
        "started_at": T0.isoformat(),
        "step_started_at": T0.isoformat(),
        "evaluated_at": None,
        "failed_evaluations": 0,
        "consecutive_failures": 0,
    }  # no ended_at: it was only written when a rollout ended
    state = RolloutState.from_json(legacy)
    assert state.steps == (5.0, 100.0) and state.ended_at is None and state.active


@pytest.mark.parametrize(
    ("broken", "says"),
    [
        ({"id": "x"}, "unreadable"),
        ({**ROLLOUT.to_json(), "started_at": "yesterday"}, "unreadable"),
        ({**ROLLOUT.to_json(), "status": "finished"}, "status 'finished'"),
        ({**ROLLOUT.to_json(), "mode": "blue-green"}, "mode 'blue-green'"),
    ],
)
def test_unreadable_state_is_a_rollout_error(broken: dict[str, Any], says: str) -> None:
    with pytest.raises(RolloutError, match=says):
        RolloutState.from_json(broken)


def test_the_latest_and_the_active_rollout() -> None:
    assert latest_rollout(deployment({})) is None and active_rollout(deployment({})) is None
    running = deployment({"rollout": ROLLOUT.to_json(), "leases": {"retrain": {}}})
    assert latest_rollout(running) == active_rollout(running) == ROLLOUT
    ended = deployment(with_rollout(running, replace(ROLLOUT, status="rolled_back")))
    assert ended.state["leases"] == {"retrain": {}}  # the state's other keys are kept
    latest = latest_rollout(ended)
    assert latest is not None and latest.status == "rolled_back" and not latest.active
    assert active_rollout(ended) is None


def test_an_event_records_its_checks_as_json() -> None:
    check = Check("error_rate", "fail", 0.2, 0.05, "canary 20% errors")
    event = RolloutEvent.of(ROLLOUT, "hold", "holding", "controller", 25.0, [check])
    assert event.to_json() == {
        "rollout_id": "abc123",
        "action": "hold",
        "model_ref": "flights@4",
        "weight": 25.0,
        "message": "holding",
        "checks": [
            {
                "name": "error_rate",
                "verdict": "fail",
                "measured": 0.2,
                "threshold": 0.05,
                "detail": "canary 20% errors",
            }
        ],
        "actor": "controller",
    }
