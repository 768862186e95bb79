"""The policy's memory in the audit log: only attempts that stored something count against the
cooldown and the weekly budget; any attempt that deployed nothing waits for new labels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from loopml.loop.policy import Signal, plan
from loopml.loop.retrain import STARTED, history
from loopml.spec import Spec, parse_spec
from loopml.store import Store

SPEC = (
    "name: flights\ntask: binary\ntarget: late\n"
    "features: {numeric: [distance]}\nmetric: {name: roc_auc}\n"
    "retrain: {cooldown: 1d, max_per_week: 2}\n"
)


def attempt(store: Store, spec: Spec, end: str | None) -> None:
    store.audit.add(spec.name, STARTED, "retraining flights@1 (drift)")
    if end is not None:
        store.audit.add(spec.name, end, f"the retrain ended: {end}")


def test_an_attempt_that_stored_nothing_leaves_the_cooldown_and_budget_alone(store: Store) -> None:
    spec = parse_spec(SPEC)
    drift = [Signal("drift", datetime.now(UTC), "drift[*] on temp")]

    def decided() -> str:
        found = history(store, spec)
        now = datetime.now(UTC) + timedelta(seconds=1)
        decision = plan(spec.retrain, drift, now=now, history=found, serving_since=None,
                        new_labels=100)  # fmt: skip
        return decision.action + (f":{decision.why}" if decision.why else "")

    attempt(store, spec, "invalid")  # the data broke the schema: nothing stored
    store.audit.add(spec.name, "failed", "retrain failed reading its data",
                    evidence={"started": False})  # fmt: skip
    attempt(store, spec, "failed")  # a crash
    found = history(store, spec)
    assert found.attempts == [] and found.last_outcome == "failed"
    assert found.last_tried is not None
    assert decided() == "wait:labels", "a crash is retried only with new labels, not every pass"
    store.feedback.add([(f"r{i}", True) for i in range(100)])
    assert decided() == "retrain", "no cooldown: nothing was stored"
    attempt(store, spec, "rejected")  # a challenger was trained: it counts
    found = history(store, spec)
    assert len(found.attempts) == 1 and found.last_outcome == "rejected"
    assert decided() == "wait:cooldown"
    attempt(store, spec, None)  # one still running counts too
    found = history(store, spec)
    assert len(found.attempts) == 2 and found.last_outcome is None
