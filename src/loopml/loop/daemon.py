"""The maintenance loop: one bounded pass at a time, until stopped.

Each pass (:func:`run_pass`):

1. **drives a running rollout** one evaluation further (the controller's decision, compare-and-set
   in the store, so servers running the same controller never double a step). A loop restarted
   mid-rollout therefore picks the rollout up from the store;
2. **monitors**: computes the new windows and fires their alerts (:func:`loopml.monitoring.
   monitor.run`);
3. **decides** with :mod:`loopml.loop.policy` whether the alerts on the serving model, the
   evidence of its windows (new labels, a quality drop, drift that matters:
   :func:`loopml.loop.evidence.gather`), or the schedule call for a retrain, unless a rollout
   runs or a proposal waits for approval;
4. **retrains** when they do (:func:`loopml.loop.retrain.retrain`). A retrain that fails is
   audited and the pass returns: the serving model keeps serving and the loop keeps running.

Waiting is audited once per reason and set of alerts, not once per pass.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from loopml.errors import RetrainError, ValidationFailed
from loopml.loop.evidence import gather
from loopml.loop.policy import Plan, plan, signals_from_alerts
from loopml.loop.retrain import RetrainOutcome, history, pending_proposal, retrain
from loopml.monitoring import monitor
from loopml.predlog import log_folder as default_log_folder
from loopml.rollout import controller
from loopml.rollout.decide import Decision
from loopml.spec import Spec
from loopml.store import AlertRecord, Store

logger = logging.getLogger(__name__)
ACTOR = "loop"


@dataclass
class PassResult:
    """What one pass saw and did."""

    rollout: Decision | None = None
    windows: int = 0
    alerts: list[AlertRecord] = field(default_factory=list)
    plan: Plan | None = None
    outcome: RetrainOutcome | None = None
    error: str | None = None


def run_pass(store: Store, spec: Spec, *, log_folder: str | Path | None = None) -> PassResult:
    """One pass of the loop (see the module doc)."""
    folder = log_folder or default_log_folder(store)
    result = PassResult()
    result.rollout = controller.evaluate(store, spec, folder, actor=ACTOR)
    monitored = monitor.run(store, spec, folder)
    result.windows, result.alerts = len(monitored.windows), monitored.alerts
    record = controller.ensure_deployment(store, spec)
    if (running := controller.active_rollout(record)) is not None:
        what = f"a rollout of {running.model} is {running.status}"
        result.plan = Plan("wait", what, why="rollout")
        return result
    if (proposal := pending_proposal(store, spec)) is not None:
        result.plan = Plan("wait", f"{proposal.model_ref} waits for approval", why="approval")
        return result
    assert record.stable is not None
    signals = signals_from_alerts(
        store.monitoring.list_alerts(deployment=spec.name, status="open"), record.stable
    )
    result.plan = decided = plan(
        spec.retrain,
        signals,
        now=datetime.now(UTC),
        history=history(store, spec),
        serving_since=_serving_since(store, spec, record.stable),
        new_labels=spec.monitoring.min_samples,
        evidence=gather(store, spec, record.stable) if _weighs(spec) else None,
    )
    if decided.action == "wait":
        _audit_wait(store, spec, decided.reason, decided.evidence())
    if decided.action != "retrain":
        return result
    try:
        result.outcome = retrain(
            store,
            spec,
            reason=decided.reason,
            actor=ACTOR,
            evidence=decided.evidence(),
            log_folder=folder,
        )
    except RetrainError as exc:  # e.g. too few labels yet: the trigger stays pending
        result.error = str(exc)
        reason = f"retrain wanted ({decided.reason}) but {exc}"
        _audit_wait(store, spec, reason, {**decided.evidence(), "why": "cannot"})
    except ValidationFailed as exc:  # audited as 'invalid' by retrain
        result.error = str(exc)
    except Exception as exc:  # audited as 'failed' by retrain; the loop goes on
        logger.exception("retrain failed; %s keeps serving", record.stable)
        result.error = f"{type(exc).__name__}: {exc}"
    return result


def _weighs(spec: Spec) -> bool:
    """Whether a trigger of the policy weighs evidence beyond alerts and the schedule."""
    return bool({"labels", "drift", "quality"} & set(spec.retrain.on))


def _serving_since(store: Store, spec: Spec, stable: str) -> datetime:
    """When ``stable`` started serving: its promotion, else its registration."""
    for event in reversed(store.deployments.list_events(spec.name)):
        if event.action == "promote" and event.model_ref == stable:
            return event.at
    return store.models.get(stable).created_at


def _audit_wait(store: Store, spec: Spec, reason: str, evidence: dict[str, Any]) -> None:
    """Record a wait once per reason and set of alerts, not once per pass."""

    def key(evidence: dict[str, Any]) -> tuple[Any, ...]:
        signals = evidence.get("signals", [])
        return evidence.get("why"), sorted((s["kind"], s["alert_id"] or 0) for s in signals)

    latest = store.audit.list(spec.name, limit=1)
    if latest and latest[0].action == "wait" and key(latest[0].evidence) == key(evidence):
        return
    store.audit.add(spec.name, "wait", reason, evidence=evidence, actor=ACTOR)


def run_loop(
    store: Store,
    spec: Spec,
    *,
    interval: timedelta,
    max_passes: int | None = None,
    stop: threading.Event | None = None,
    log_folder: str | Path | None = None,
    on_pass: Callable[[int, PassResult], None] | None = None,
) -> int:
    """Run passes every ``interval`` until ``stop`` is set or ``max_passes`` ran; how many ran.

    A pass that raises (say the store is briefly unreachable) is logged and the loop goes on.
    """
    stop = stop or threading.Event()
    passes = 0
    while not stop.is_set() and (max_passes is None or passes < max_passes):
        started = datetime.now(UTC)
        try:
            outcome = run_pass(store, spec, log_folder=log_folder)
        except Exception as exc:
            logger.exception("maintenance pass failed")
            outcome = PassResult(error=f"{type(exc).__name__}: {exc}")
        passes += 1
        if on_pass is not None:
            on_pass(passes, outcome)
        if max_passes is not None and passes >= max_passes:
            break
        spent = (datetime.now(UTC) - started).total_seconds()
        stop.wait(max(0.0, interval.total_seconds() - spent))
    return passes
