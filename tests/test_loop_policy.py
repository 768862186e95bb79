"""The retrain policy, walked through time: triggers, cooldown and the weekly budget."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from loopml.loop.policy import Signal, kind_of, plan, signals_from_alerts
from loopml.spec import Retrain
from loopml.store import AlertRecord

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def alert(
    id: int, metric: str, model: str, at: datetime, feature: str | None = None
) -> AlertRecord:
    return AlertRecord(
        id, "flights", f"{metric} > 0.5", "warning", metric, feature, 1.0, 0.5,
        {"model_version": model}, "open", at, None,
    )  # fmt: skip


def test_only_drift_and_quality_alerts_on_the_serving_model_are_triggers() -> None:
    alerts = [
        alert(1, "drift", "flights@2", T0, "temp"),
        alert(2, "quality.roc_auc", "flights@2", T0),
        alert(3, "expected.accuracy", "flights@2", T0),
        alert(4, "missing_increase", "flights@2", T0, "temp"),  # a fault: not a trigger
        alert(5, "error_rate", "flights@2", T0),
        alert(6, "drift", "flights@1", T0, "temp"),  # an older model's
        alert(7, "drift", "flights@2", T0 - timedelta(hours=1)),  # before the last retrain
    ]
    signals = signals_from_alerts(alerts, "flights@2", T0 - timedelta(minutes=1))
    assert [(s.alert_id, s.kind) for s in signals] == [(1, "drift"), (2, "quality"), (3, "quality")]
    assert "on temp" in signals[0].what
    assert kind_of("latency_p99_ms") is None


def test_cooldown_weekly_budget_schedule_and_manual_only() -> None:
    drift = [Signal("drift", T0, "drift on temp")]
    policy = Retrain(cooldown=timedelta(hours=6), max_per_week=2)
    assert plan(policy, [], now=T0, last_retrain=None, retrains=[], serving_since=T0).action == (
        "none"
    )
    assert plan(policy, drift, now=T0, last_retrain=None, retrains=[], serving_since=T0).action == (
        "retrain"
    )
    waiting = plan(
        policy, drift, now=T0, last_retrain=T0 - timedelta(hours=1), retrains=[], serving_since=T0
    )
    assert (
        waiting.action == "wait" and "cooldown" in waiting.reason and "5.0 h left" in waiting.reason
    )
    spent = [T0 - timedelta(days=1), T0 - timedelta(days=2)]
    budget = plan(policy, drift, now=T0, last_retrain=spent[0], retrains=spent, serving_since=T0)
    assert budget.action == "wait" and "max_per_week 2" in budget.reason
    manual = Retrain(on=["manual"])
    assert plan(manual, drift, now=T0, last_retrain=None, retrains=[], serving_since=T0).action == (
        "none"
    )
    scheduled = Retrain(on=["schedule"], schedule=timedelta(days=7))
    early = plan(scheduled, [], now=T0, last_retrain=None, retrains=[], serving_since=T0)
    later = plan(
        scheduled, [], now=T0 + timedelta(days=8), last_retrain=None, retrains=[], serving_since=T0
    )
    assert early.action == "none" and later.action == "retrain"
    assert later.signals[0].kind == "schedule"


@settings(max_examples=150, deadline=None)
@given(
    hours=st.lists(st.integers(0, 24 * 60), min_size=1, max_size=80),
    cooldown_h=st.integers(0, 72),
    per_week=st.integers(1, 5),
)
def test_retrains_never_break_the_cooldown_or_the_weekly_budget(
    hours: list[int], cooldown_h: int, per_week: int
) -> None:
    """Signals at random hours over two months: every retrain the policy allows is at least a
    cooldown after the previous one, no 7 days hold more than ``max_per_week``, and a signal is
    only left waiting when one of the two limits holds it."""
    policy = Retrain(cooldown=timedelta(hours=cooldown_h), max_per_week=per_week)
    done: list[datetime] = []
    for hour in sorted(hours):
        now = T0 + timedelta(hours=hour)
        decided = plan(
            policy,
            [Signal("drift", now, "drift")],
            now=now,
            last_retrain=done[-1] if done else None,
            retrains=done,
            serving_since=T0,
        )
        if decided.action == "retrain":
            done.append(now)
        else:
            assert decided.action == "wait"
            cooling = bool(done) and now - done[-1] < policy.cooldown
            spent = sum(now - t < timedelta(days=7) for t in done) >= per_week
            assert cooling or spent
    for i, moment in enumerate(done):
        if i:
            assert moment - done[i - 1] >= policy.cooldown
        assert sum(moment - timedelta(days=7) < t <= moment for t in done) <= per_week
