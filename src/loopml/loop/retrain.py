"""Retraining: fresh labelled data → a new dataset version → training → gate → canary.

``retrain`` is the one path for ``loopml retrain`` and the maintenance loop:

1. The **labelled production rows** of the serving model's deployment that its training data
   lacks are the fresh data, less the rows **quarantined** under an input incident
   (:mod:`loopml.loop.production`: counted per incident in the audit entry and the retrain's
   facts; the retrain goes on with the rest). The most recent of them (``model.test_fraction``
   of them, at least ``monitoring.min_samples``) are the **comparison window**, which neither
   model trains on.
2. The training data follows ``retrain.data``: ``append`` adds the other fresh rows to the
   serving model's training dataset; ``window`` keeps only the most recent ``retrain.window``
   (by the time column) and/or ``retrain.window_rows`` of both.
3. It is **validated** against the original dataset's schema; errors stop the retrain with the
   report (nothing is stored or deployed). Otherwise it is stored as the next version of that
   dataset, with the report beside it (``validations/<name>/<version>.json``).
4. The same feature and model search as the original training runs, with the tuning budget
   halved and warm-started from the serving model's best parameters.
5. The **gate** compares the challenger with the serving model on the comparison window. A
   blessed challenger starts a canary rollout (``retrain.approval: auto``) or waits as a
   proposal for ``loopml retrain approve`` (``manual``); the rollout's promotion makes it
   champion. Every step is written to the audit log with its evidence.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import orjson
import polars as pl

from loopml.data.validate import ValidationReport, validate
from loopml.data.versions import DatasetVersion, add_frame, get_version, load_frame
from loopml.errors import RetrainError, ValidationFailed
from loopml.loop.fresh import FreshData, split_fresh, training_frame
from loopml.loop.policy import History
from loopml.loop.production import labelled_production, quarantine_spans
from loopml.modeling.progress import OnProgress, StageStarted, ignore
from loopml.predlog import log_folder as default_log_folder
from loopml.registry import Comparison, Package, load_package
from loopml.rollout import controller
from loopml.spec import Spec
from loopml.store import AuditRecord, DeploymentRecord, Store
from loopml.store.leases import release_lease, take_lease
from loopml.workflows import TrainOutcome, train_model

#: audit actions that mark one retrain attempt's start and its possible ends
STARTED, ENDS = "retrain", ("invalid", "rejected", "proposed", "rollout", "failed")
#: the ends of an attempt that stored nothing: they do not count against the cooldown or budget
STORED_NOTHING = ("invalid", "failed")
#: how long a retrain may hold the deployment's retrain lease (one retrain at a time); a
#: process that died frees it then
LEASE = timedelta(hours=6)


@dataclass
class RetrainOutcome:
    """What one retrain did: the data, the challenger, the gate's verdict and what followed."""

    status: Literal["rollout", "proposed", "rejected"]
    dataset: DatasetVersion
    training: TrainOutcome
    facts: dict[str, Any]  # the data: rows, policy, the comparison window's span
    deployment: DeploymentRecord | None

    @property
    def model(self) -> str:
        return self.training.model.ref


def serving_model(store: Store, spec: Spec) -> tuple[DeploymentRecord, Package]:
    """The deployment (created serving the champion if new) and the package its stable is."""
    record = controller.ensure_deployment(store, spec)
    assert record.stable is not None
    return record, load_package(store, record.stable)


def retrain(
    store: Store,
    spec: Spec,
    *,
    reason: str = "manual",
    actor: str = "cli",
    evidence: dict[str, Any] | None = None,
    log_folder: str | Path | None = None,
    tune_trials: int | None = None,
    on_event: OnProgress | None = None,
) -> RetrainOutcome:
    """Retrain the deployment's serving model on fresh labelled data (see the module doc).

    One retrain at a time per deployment (a lease in the store). Raises
    :class:`RetrainError` when it cannot start (a rollout or another retrain runs, too few
    labels), :class:`ValidationFailed` when the new data breaks the original schema; a crash is
    recorded as ``failed`` and re-raised. In every case the serving model keeps serving.
    """
    record, serving = serving_model(store, spec)
    if (running := controller.active_rollout(record)) is not None:
        raise RetrainError(
            f"a rollout of {running.model} is {running.status} on '{spec.name}': let it "
            "finish (or roll it back) before retraining"
        )
    holder = f"{actor} on {socket.gethostname()}, pid {os.getpid()}"
    if (other := take_lease(store, spec.name, "retrain", holder, ttl=LEASE)) is not None:
        raise RetrainError(
            f"a retrain of '{spec.name}' by {other.holder} is running since "
            f"{other.since.isoformat()}: wait for it (its lease ends at "
            f"{other.until.isoformat()} at the latest)"
        )
    try:
        return _retrain(
            store, spec, serving, reason, actor, evidence, log_folder, tune_trials, on_event
        )
    finally:
        release_lease(store, spec.name, "retrain", holder)


def _retrain(
    store: Store,
    spec: Spec,
    serving: Package,
    reason: str,
    actor: str,
    evidence: dict[str, Any] | None,
    log_folder: str | Path | None,
    tune_trials: int | None,
    on_event: OnProgress | None,
) -> RetrainOutcome:
    emit = on_event or ignore
    try:
        base = _lineage_dataset(store, serving)
        emit(StageStarted(f"reading {base.ref} and the labelled production log"))
        base_frame = load_frame(store, base)
        labelled = labelled_production(
            store,
            spec,
            log_folder or default_log_folder(store),
            base_frame.schema,
            quarantine_spans(store, spec),
            base.schema,
            base.profile,
        )
        production = labelled.rows
    except Exception as exc:  # e.g. the training data's snapshot is gone
        store.audit.add(
            spec.name,
            "failed",
            f"retrain failed reading its data: {type(exc).__name__}: {exc}; "
            f"{serving.record.ref} keeps serving",
            evidence={
                **(evidence or {}),
                "started": False,
                "error": f"{type(exc).__name__}: {exc}",
            },
            model_ref=serving.record.ref,
            actor=actor,
        )
        raise
    fresh = split_fresh(production, base_frame, spec, quarantined=labelled.left_out)
    frame = training_frame(base_frame, fresh.train, spec)
    facts = {
        "serving": serving.record.ref,
        "base_dataset": base.ref,
        "labelled_production_rows": production.height,
        "quarantined_rows": labelled.left_out,
        "quarantine": labelled.report(),
        **fresh.describe(spec),
        "policy": spec.retrain.data,
        "training_rows": frame.height,
    }
    store.audit.add(
        spec.name,
        STARTED,
        f"retraining {serving.record.ref} ({reason}): {frame.height:,} rows "
        f"({spec.retrain.data} policy), compared on the {fresh.comparison.height:,} most "
        f"recent labelled rows{_quarantine_note(labelled.report(), labelled.left_out)}",
        evidence={**(evidence or {}), **facts, "reason": reason},
        model_ref=serving.record.ref,
        actor=actor,
    )
    try:
        return _finish(store, spec, serving, base, frame, fresh, facts, actor, tune_trials, emit)
    except ValidationFailed:
        raise
    except BaseException as exc:
        store.audit.add(
            spec.name,
            "failed",
            f"retrain failed: {type(exc).__name__}: {exc}; {serving.record.ref} keeps serving",
            evidence={**facts, "error": f"{type(exc).__name__}: {exc}"},
            model_ref=serving.record.ref,
            actor=actor,
        )
        raise


def _quarantine_note(report: list[dict[str, Any]], rows: int) -> str:
    """The audit's words for the rows left out, such as "; 510 labelled rows quarantined
    (incident 3: missing values on 1 feature: distance; distance: values beyond 10× its
    training range's width)", or nothing."""
    if not rows:
        return ""
    which = "; ".join(
        f"incident {i['incident']}: {i['title']}" if i["incident"] is not None else i["title"]
        for i in report[:3]
    )
    more = f"; and {len(report) - 3} more" if len(report) > 3 else ""
    return f"; {rows:,} labelled rows quarantined ({which}{more})"


def _lineage_dataset(store: Store, serving: Package) -> DatasetVersion:
    return get_version(store, serving.meta.lineage.dataset)


def _finish(
    store: Store,
    spec: Spec,
    serving: Package,
    base: DatasetVersion,
    frame: pl.DataFrame,
    fresh: FreshData,
    facts: dict[str, Any],
    actor: str,
    tune_trials: int | None,
    emit: OnProgress,
) -> RetrainOutcome:
    emit(StageStarted(f"validating {frame.height:,} rows against {base.ref}'s schema"))
    report = validate(frame, base.schema)
    if not report.ok:
        store.audit.add(
            spec.name,
            "invalid",
            f"retrain stopped: the new training data breaks {base.ref}'s schema "
            f"({len(report.errors)} error(s): "
            f"{'; '.join(v.column + ' ' + v.rule for v in report.errors[:3])}); nothing deployed",
            evidence={**facts, "validation": report.to_dict()},
            model_ref=serving.record.ref,
            actor=actor,
        )
        raise ValidationFailed(
            f"the retrain's training data breaks {base.ref}'s schema: nothing was stored or "
            "deployed; fix the inputs (or the labels) at their source, or widen the schema with "
            "data.expectations in the spec",
            report,
        )
    version = add_frame(
        store,
        frame,
        name=base.record.name,
        source=(
            f"retrain of {serving.record.ref}: {base.ref} + {fresh.train.height:,} labelled "
            f"production rows ({spec.retrain.data})"
        ),
    )
    _save_validation(store, version, report)
    trials = (spec.model.tune if tune_trials is None else tune_trials) // 2
    warm = {serving.meta.candidate: dict(serving.meta.params)}
    comparison = Comparison(
        fresh.comparison,
        f"the {fresh.comparison.height:,} most recent labelled production rows",
    )
    training = train_model(
        store,
        spec,
        version.ref,
        tune_trials=trials,
        on_event=emit,
        warm_start=warm,
        comparison=comparison,
        champion=serving.record.ref,
        blessed_alias="challenger",
    )
    decision = training.decision
    gate = training.model.ref
    facts = {
        **facts,
        "dataset": version.ref,
        "run_id": training.result.run_id,
        "tune_trials": trials,
    }
    checks = {"gate": {"blessed": decision.blessed, "checks": decision.checks}}
    if not decision.blessed:
        store.audit.add(
            spec.name,
            "rejected",
            f"{gate} not deployed: {decision.reason}; {serving.record.ref} keeps serving",
            evidence={**facts, **checks},
            model_ref=gate,
            actor=actor,
        )
        return RetrainOutcome("rejected", version, training, facts, None)
    if spec.retrain.approval == "manual":
        store.audit.add(
            spec.name,
            "proposed",
            f"{gate} beat {serving.record.ref} on the comparison window ({decision.reason}); "
            f"waiting for approval: loopml retrain approve {training.model.version}",
            evidence={**facts, **checks},
            model_ref=gate,
            actor=actor,
        )
        return RetrainOutcome("proposed", version, training, facts, None)
    deployment = _roll_out(store, spec, gate, actor, f"{decision.reason}", {**facts, **checks})
    return RetrainOutcome("rollout", version, training, facts, deployment)


def _roll_out(
    store: Store, spec: Spec, ref: str, actor: str, why: str, evidence: dict[str, Any]
) -> DeploymentRecord:
    deployment = controller.start(store, spec, ref, actor=actor)
    store.audit.add(
        spec.name,
        "rollout",
        f"canary rollout of {ref} started (steps {spec.rollout.steps}): {why}",
        evidence=evidence,
        model_ref=ref,
        actor=actor,
    )
    return deployment


def _save_validation(store: Store, version: DatasetVersion, report: ValidationReport) -> None:
    key = f"validations/{version.record.name}/{version.record.version}.json"
    store.artifacts.put_bytes(key, orjson.dumps(report.to_dict()))


def pending_proposal(store: Store, spec: Spec) -> AuditRecord | None:
    """The challenger waiting for approval, if the latest retrain ended in a proposal."""
    for entry in store.audit.list(spec.name, actions=[STARTED, *ENDS, "approved"], limit=20):
        if entry.action == "proposed":
            return entry
        if entry.action in (STARTED, "approved", "rollout"):
            return None
    return None


def approve(
    store: Store, spec: Spec, version: str | None = None, *, actor: str = "cli"
) -> DeploymentRecord:
    """Approve the pending proposal (or ``version``, which must be it): start its rollout."""
    proposal = pending_proposal(store, spec)
    if proposal is None or proposal.model_ref is None:
        raise RetrainError(
            f"no retrained model of '{spec.name}' waits for approval (see loopml audit)"
        )
    if version is not None:
        wanted = store.models.get(version if "@" in version else f"{spec.name}@{version}").ref
        if wanted != proposal.model_ref:
            raise RetrainError(
                f"{wanted} is not the pending proposal; {proposal.model_ref} is "
                f"(approve it with: loopml retrain approve {proposal.model_ref})"
            )
    serving = store.deployments.get(spec.name).stable
    if proposal.evidence.get("serving") != serving:
        raise RetrainError(
            f"{proposal.model_ref} was compared with {proposal.evidence.get('serving')}, but "
            f"{serving} serves now: retrain again (loopml retrain) to compare with what serves"
        )
    deployment = controller.start(store, spec, proposal.model_ref, actor=actor)
    store.audit.add(
        spec.name,
        "approved",
        f"{proposal.model_ref} approved by {actor}: canary rollout started "
        f"(steps {spec.rollout.steps})",
        evidence={"proposal": proposal.id},
        model_ref=proposal.model_ref,
        actor=actor,
    )
    return deployment


def history(store: Store, spec: Spec) -> History:
    """The policy's memory, kept in the audit log: the attempts that count against the cooldown
    and the budget (a retrain started that stored a challenger, or still runs), how the last
    attempt of any kind ended, when it was tried, and the labels fed back since."""
    entries = store.audit.list(spec.name, actions=[STARTED, *ENDS])[::-1]  # oldest first
    tried: list[tuple[datetime, str | None]] = []  # each attempt's start and end
    for entry in entries:
        if entry.action == STARTED:
            tried.append((entry.at, None))
        elif entry.action == "failed" and not entry.evidence.get("started", True):
            tried.append((entry.at, "failed"))  # failed before it could start
        elif tried and tried[-1][1] is None:
            tried[-1] = (tried[-1][0], entry.action)
    counted = [at for at, end in reversed(tried) if end not in STORED_NOTHING]
    last_tried, outcome = tried[-1] if tried else (None, None)
    labels = store.feedback.count(since=last_tried) if last_tried is not None else 0
    return History(counted, outcome, labels, last_tried)
