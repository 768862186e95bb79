"""The rollout controller: start, evaluate, advance, promote, roll back, pause and resume.

A rollout lives in the deployment's row in the store (``state["rollout"]``), so every server
process and the CLI see one rollout; each change is compare-and-set on the row's revision, so
when several processes evaluate at once exactly one decision lands (the others re-read). The
evidence comes from the prediction log (every process writes its own segments) and from the
feedback table; :func:`loopml.rollout.decide.decide` makes the call.

A rollout moves through ``steps`` (percent of traffic to the canary). With ``shadow`` it first
runs as a shadow (copies of traffic, answers logged and never returned) and becomes a canary at
the first step once the shadow passes. Passing the last step (100 %) promotes: the canary becomes
stable. Either way the model's ``champion`` alias ends on what serves, so a version the gate
blessed offline but the canary rejected stops being the champion.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from loopml.errors import RolloutError
from loopml.modeling import metrics
from loopml.predlog import read_log
from loopml.registry import load_package
from loopml.rollout.decide import Arm, Decision, Quality, decide
from loopml.spec import Spec
from loopml.store import DeploymentRecord, RolloutEventRecord, Store

logger = logging.getLogger(__name__)
ACTIVE = ("running", "paused")
_ATTEMPTS = 20
_BOOTSTRAP = 50
_MAX_BOOTSTRAP_ROWS = 2_000


@dataclass(frozen=True)
class Status:
    """A deployment, its rollout (if any) and the rollout's recorded decisions."""

    deployment: DeploymentRecord
    rollout: dict[str, Any] | None
    events: list[RolloutEventRecord]


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def active_rollout(record: DeploymentRecord) -> dict[str, Any] | None:
    """The deployment's rollout while it is running or paused, else ``None``."""
    rollout = record.state.get("rollout")
    return rollout if rollout and rollout.get("status") in ACTIVE else None


def _event(
    rollout: dict[str, Any], action: str, message: str, actor: str, weight: float, checks: Any = ()
) -> dict[str, Any]:
    return {
        "rollout_id": rollout["id"],
        "action": action,
        "model_ref": rollout["model"],
        "weight": weight,
        "message": message,
        "checks": [c if isinstance(c, dict) else c.as_dict() for c in checks],
        "actor": actor,
    }


def _change(
    store: Store, name: str, make: Callable[[DeploymentRecord], dict[str, Any] | None]
) -> DeploymentRecord:
    """Apply ``make(current)`` (keyword arguments for ``store.deployments.save``, or ``None`` for no
    change) with compare-and-set, re-reading and retrying when another process got there first."""
    for _ in range(_ATTEMPTS):
        current = store.deployments.get(name)
        change = make(current)
        if change is None:
            return current
        saved = store.deployments.save(current, **change)
        if saved is not None:
            return saved
    raise RolloutError(f"deployment '{name}' kept changing under {_ATTEMPTS} attempts; retry")


def ensure_deployment(store: Store, spec: Spec) -> DeploymentRecord:
    """The project's deployment, created serving the champion the first time it is needed."""

    def create(current: DeploymentRecord) -> dict[str, Any] | None:
        if current.stable is not None:
            return None
        return {"stable": store.models.get(f"{spec.name}@champion").ref}

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

    def begin(current: DeploymentRecord) -> dict[str, Any]:
        if (running := active_rollout(current)) is not None:
            raise RolloutError(
                f"a rollout of {running['model']} is {running['status']} on '{spec.name}'; "
                "promote or roll it back first (loopml rollout promote / rollback)"
            )
        if ref == current.stable:
            raise RolloutError(f"{ref} is already the stable version of '{spec.name}'")
        rollout = {
            "id": uuid.uuid4().hex[:12],
            "model": ref,
            "previous": current.stable,
            "mode": "shadow" if shadow else "canary",
            "steps": plan,
            "step": -1 if shadow else 0,
            "status": "running",
            "started_at": _iso(moment),
            "step_started_at": _iso(moment),
            "evaluated_at": None,
            "failed_evaluations": 0,
            "consecutive_failures": 0,
        }
        weight = 0.0 if shadow else plan[0]
        what = "as a shadow" if shadow else f"as a canary at {plan[0]:g}%"
        return {
            "stable": current.stable,
            "canary": None if shadow else ref,
            "shadow": ref if shadow else None,
            "canary_weight": weight,
            "state": {**current.state, "rollout": rollout},
            "event": _event(
                rollout, "start", f"started {ref} {what} (steps {plan})", actor, weight
            ),
        }

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
    rollout: dict[str, Any],
    *,
    promoted: bool,
    message: str,
    actor: str,
    checks: Any = (),
) -> dict[str, Any]:
    done = {
        **rollout,
        "status": "promoted" if promoted else "rolled_back",
        "ended_at": _iso(_now()),
    }
    return {
        "stable": rollout["model"] if promoted else current.stable,
        "state": {**current.state, "rollout": done},
        "event": _event(
            rollout,
            "promote" if promoted else "rollback",
            message,
            actor,
            current.canary_weight,
            checks,
        ),
        "champion": rollout["model"] if promoted else current.stable,
    }


def _require(current: DeploymentRecord, name: str) -> dict[str, Any]:
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
    def make(current: DeploymentRecord) -> dict[str, Any]:
        rollout = _require(current, spec.name)
        verb = "promoted" if promoted else "rolled back"
        why = f"{verb} {rollout['model']} by hand" + (f": {reason}" if reason else "")
        return _finish(current, rollout, promoted=promoted, message=why, actor=actor)

    return _change(store, spec.name, make)


def pause(store: Store, spec: Spec, *, actor: str = "cli") -> DeploymentRecord:
    """Freeze the rollout at its step: traffic keeps its split, no automatic decisions."""
    return _set_status(store, spec, "paused", actor)


def resume(store: Store, spec: Spec, *, actor: str = "cli") -> DeploymentRecord:
    """Continue a paused rollout; its current step starts afresh (new evidence window)."""
    return _set_status(store, spec, "running", actor)


def _set_status(store: Store, spec: Spec, status: str, actor: str) -> DeploymentRecord:
    def make(current: DeploymentRecord) -> dict[str, Any]:
        rollout = _require(current, spec.name)
        if rollout["status"] == status:
            raise RolloutError(f"the rollout of {rollout['model']} is already {status}")
        changed = {**rollout, "status": status}
        if status == "running":
            changed.update(step_started_at=_iso(_now()), consecutive_failures=0)
        verb = "pause" if status == "paused" else "resume"
        return {
            **_same_versions(current, {**current.state, "rollout": changed}),
            "event": _event(rollout, verb, f"{verb}d by {actor}", actor, current.canary_weight),
        }

    return _change(store, spec.name, make)


# --- leases ----------------------------------------------------------------------------------


def take_lease(
    store: Store, spec: Spec, name: str, holder: str, *, ttl: timedelta
) -> dict[str, Any] | None:
    """Hold lease ``name`` (say ``retrain``) on the deployment for ``holder`` until ``ttl`` from
    now, compare-and-set, so two processes never both hold it. Returns ``None`` once held, or
    the live lease someone else holds (and takes nothing). A holder that died frees it at
    ``ttl``."""
    moment = _now()
    other: dict[str, Any] = {}

    def make(current: DeploymentRecord) -> dict[str, Any] | None:
        leases = dict(current.state.get("leases", {}))
        held = leases.get(name)
        if held and held["holder"] != holder and datetime.fromisoformat(held["until"]) > moment:
            other.update(held)
            return None
        leases[name] = {"holder": holder, "since": _iso(moment), "until": _iso(moment + ttl)}
        return _same_versions(current, {**current.state, "leases": leases})

    _change(store, spec.name, make)
    return other or None


def release_lease(store: Store, spec: Spec, name: str, holder: str) -> None:
    """Give lease ``name`` back, if ``holder`` still holds it."""

    def make(current: DeploymentRecord) -> dict[str, Any] | None:
        leases = dict(current.state.get("leases", {}))
        if leases.get(name, {}).get("holder") != holder:
            return None
        del leases[name]
        return _same_versions(current, {**current.state, "leases": leases})

    _change(store, spec.name, make)


def _same_versions(current: DeploymentRecord, state: dict[str, Any]) -> dict[str, Any]:
    return {
        "stable": current.stable,
        "canary": current.canary,
        "shadow": current.shadow,
        "canary_weight": current.canary_weight,
        "state": state,
    }


def status(store: Store, spec: Spec, *, limit: int = 20) -> Status:
    """The deployment, its latest rollout and that rollout's last ``limit`` decisions."""
    record = store.deployments.get(spec.name)
    rollout = record.state.get("rollout")
    events = (
        store.deployments.list_events(spec.name, rollout_id=rollout["id"], limit=limit)
        if rollout
        else []
    )
    return Status(record, rollout, events)


# --- evaluation -------------------------------------------------------------------------------


def due(record: DeploymentRecord, spec: Spec, now: datetime | None = None) -> bool:
    """Whether the running rollout's next evaluation is due."""
    rollout = active_rollout(record)
    if rollout is None or rollout["status"] != "running":
        return False
    last = rollout.get("evaluated_at")
    if last is None:
        return True
    elapsed = ((now or _now()) - datetime.fromisoformat(last)).total_seconds()
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
    canary, stable, elapsed = gather(store, spec, log_folder, record, rollout, moment)
    decision = decide(
        canary,
        stable,
        spec.rollout,
        elapsed_s=elapsed,
        failed_evaluations=rollout["failed_evaluations"],
        consecutive_failures=rollout["consecutive_failures"],
        quality=_quality(spec),
        latency_target_ms=spec.targets.latency_p99_ms,
        probabilities=spec.task != "regression",
    )
    saved = store.deployments.save(record, **_apply(record, rollout, decision, moment, actor))
    return decision if saved is not None else None


def _apply(
    current: DeploymentRecord,
    rollout: dict[str, Any],
    decision: Decision,
    moment: datetime,
    actor: str,
) -> dict[str, Any]:
    checks = [c.as_dict() for c in decision.checks]
    if decision.action == "rollback":
        return _finish(
            current, rollout, promoted=False, message=decision.message, actor=actor, checks=checks
        )
    steps, step = rollout["steps"], rollout["step"]
    if decision.action == "advance" and step == len(steps) - 1:
        return _finish(
            current,
            rollout,
            promoted=True,
            message=f"promoted: every check passed at {steps[step]:g}%",
            actor=actor,
            checks=checks,
        )
    updated = {
        **rollout,
        "evaluated_at": _iso(moment),
        "failed_evaluations": decision.failed_evaluations,
        "consecutive_failures": decision.consecutive_failures,
    }
    canary, shadow, weight = current.canary, current.shadow, current.canary_weight
    action, message = "hold", decision.message
    if decision.action == "advance":
        step += 1
        weight = float(steps[step])
        canary, shadow = rollout["model"], None
        updated.update(step=step, step_started_at=_iso(moment), mode="canary")
        action = "advance"
        message = f"every check passed; canary now at {weight:g}%"
    return {
        "stable": current.stable,
        "canary": canary,
        "shadow": shadow,
        "canary_weight": weight,
        "state": {**current.state, "rollout": updated},
        "event": _event(rollout, action, message, actor, weight, checks),
    }


def _quality(spec: Spec) -> Quality | None:
    if spec.task == "multiclass":  # the log's score is the top probability: no AUC from it
        return None
    return Quality(spec.metric.name, spec.metric.greater_is_better, spec.metric.margin)


def gather(
    store: Store,
    spec: Spec,
    log_folder: str | Path,
    record: DeploymentRecord,
    rollout: dict[str, Any],
    now: datetime,
) -> tuple[Arm, Arm, float]:
    """The canary's and stable's evidence in the current step (the same window for both), and
    the step's age in seconds. At 100 % stable answers nothing, and only absolute limits judge.
    """
    step_start = datetime.fromisoformat(rollout["step_started_at"])
    frame = read_log(log_folder, spec.name, since=step_start)
    route = "shadow" if rollout["mode"] == "shadow" else "canary"
    candidate = frame.filter(
        (pl.col("ts") >= step_start)
        & (pl.col("route") == route)
        & (pl.col("model_version") == rollout["model"])
    )
    stable_rows = frame.filter(
        (pl.col("ts") >= step_start)
        & (pl.col("route") == "stable")
        & (pl.col("model_version") == record.stable)
        & pl.lit(record.canary_weight < 100)  # at 100 % only requests in flight: no sample
    )
    ids = pl.concat([candidate["request_id"], stable_rows["request_id"]]).to_list()
    labels = store.feedback.labels(ids) if ids else {}
    elapsed = (now - step_start).total_seconds()
    return _arm(candidate, labels, spec), _arm(stable_rows, labels, spec), elapsed


def _arm(rows: pl.DataFrame, labels: dict[str, Any], spec: Spec) -> Arm:
    errors = rows.get_column("error").is_not_null()
    answered = rows.filter(~errors)
    scores = answered.get_column("score").cast(pl.Float64).to_numpy()
    finite = np.isfinite(scores)
    ids = answered.get_column("request_id").to_list()
    pairs = [
        (labels[i], s) for i, s, ok in zip(ids, scores, finite, strict=True) if ok and i in labels
    ]
    quality, se = None, 0.0
    if len(pairs) >= spec.rollout.min_labels:
        y = metrics.encode_labels([p[0] for p in pairs], spec.task, spec.positive_class)
        score = np.array([p[1] for p in pairs], dtype=float)
        quality, se = _metric_with_error(y, score, spec)
    return Arm(
        requests=rows.height,
        errors=int(errors.sum()),
        nulls=int((~finite).sum()),
        latencies_ms=answered.get_column("latency_ms").to_numpy(),
        scores=scores[finite],
        labelled=len(pairs),
        quality=quality,
        quality_se=se,
    )


def _metric_with_error(y: np.ndarray, score: np.ndarray, spec: Spec) -> tuple[float, float]:
    """The spec's metric and its bootstrap standard error (at most 2,000 rows, 50 draws)."""
    value = metrics.one(spec.metric.name, spec.task, y, score)
    rng = np.random.default_rng(0)
    if len(y) > _MAX_BOOTSTRAP_ROWS:
        keep = rng.choice(len(y), _MAX_BOOTSTRAP_ROWS, replace=False)
        y, score = y[keep], score[keep]
    draws = []
    for _ in range(_BOOTSTRAP):
        pick = rng.integers(0, len(y), len(y))
        draws.append(metrics.one(spec.metric.name, spec.task, y[pick], score[pick]))
    finite = [d for d in draws if math.isfinite(d)]
    return float(value), float(np.std(finite)) if len(finite) > 1 else 0.0
