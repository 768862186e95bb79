"""Registering a trained model: package the best candidate, let the gate decide its alias.

The new version is scored against the champion and the run's baselines on the same rows (see
:mod:`loopml.registry.evidence` and :mod:`loopml.registry.gate`); a champion that cannot be loaded
or scored there is never replaced automatically. The package's
:class:`~loopml.registry.meta.PackageMeta` records the lineage and the gate's decision, and the
store's model note its reason. It also keeps what monitoring needs to estimate quality before
labels, fitted on the validation split (:func:`quality_model`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from loopml.data.profiling import profile_frame
from loopml.data.schema import Schema
from loopml.modeling.train import TrainResult
from loopml.registry.evidence import judge
from loopml.registry.gate import Comparison, GateDecision
from loopml.registry.meta import FORMAT, GateRecord, Lineage, PackageMeta
from loopml.registry.package import save_package
from loopml.spec import Spec
from loopml.stats.calibration import Calibration
from loopml.stats.error_model import ErrorModel
from loopml.stats.intervals import (
    binary_draws,
    binary_metrics,
    dispersion,
    regression_draws,
    regression_metrics,
)
from loopml.stats.quantiles import QuantileSketch
from loopml.store import ModelRecord, Store


def register(
    store: Store,
    spec: Spec,
    result: TrainResult,
    *,
    comparison: Comparison | None = None,
    champion: str | None = None,
    blessed_alias: str = "champion",
) -> tuple[ModelRecord, GateDecision]:
    """Package the best candidate of ``result``, register it, and let the gate set its alias.

    The gate compares with ``champion`` (default: the ``champion`` alias) on the test split, or
    on ``comparison`` when given. A blessed version gets ``blessed_alias`` (the maintenance loop
    uses ``challenger`` and lets the rollout make it champion), the others ``challenger``.
    """
    best = result.best
    test_rows = result.data.split.test
    judged = judge(store, spec, result, comparison=comparison, champion=champion)
    decision, where, metrics = judged.decision, judged.on, judged.metrics
    champion_ref, champion_metrics = judged.champion, judged.champion_metrics
    profile = result.dataset.profile
    # drift's reference: the held-out rows (validation and test), scored once here — out of
    # sample, unlike training rows, and over more of the training period than the test split
    held_out = np.concatenate([result.data.split.validation, test_rows])
    held_frame = result.data.frame[held_out]
    held_output = best.model.output(best.model.pipeline.transform(held_frame))
    held_scores = best.model.scores(held_output)
    n_valid = len(result.data.split.validation)
    estimation = quality_model(
        spec,
        (held_scores[:n_valid], result.data.y[result.data.split.validation]),
        (held_scores[n_valid:], result.data.y[test_rows]),
        best.model.decision_threshold,
    )
    inputs = [c for c in best.model.pipeline.input_columns_ if c in held_frame.columns]
    reference = profile_frame(held_frame, columns=inputs)
    threshold = best.model.decision_threshold if spec.task == "binary" else None
    held_stats = _held_out_stats(spec.task, result.data.y[held_out], held_scores, threshold)
    schema = Schema(
        {
            name: rule
            for name, rule in result.dataset.schema.columns.items()
            if name in set(best.model.pipeline.input_columns_)
        }
    )
    meta = PackageMeta(
        format=FORMAT,
        task=spec.task,
        candidate=best.name,
        classes=result.classes,
        threshold=best.model.threshold,
        params=best.params,
        metrics=best.metrics,
        feature_names=best.model.pipeline.feature_names_,
        input_columns=best.model.pipeline.input_columns_,
        baselines={r.name: r.metrics for r in result.results if r.baseline},
        # the held-out rows' scores: monitoring's reference for prediction drift
        score_profile=QuantileSketch.from_values(held_scores).to_dict(),
        lineage=Lineage(
            run_id=result.run_id,
            candidate_run_id=best.run_id,
            dataset=result.dataset.ref,
            dataset_hash=result.dataset.record.content_hash,
            split=result.data.split.method,
            sizes=result.data.split.sizes(),
            code_version=store.runs.get(result.run_id).code_version,
            spec=spec.model_dump(mode="json"),
        ),
        gate=GateRecord(
            blessed=decision.blessed,
            on=where,
            checks=decision.checks,
            metrics=metrics,
            champion=champion_ref,
            champion_metrics=champion_metrics,
        ),
        held_out=held_stats,
        **estimation,
    )
    record = save_package(
        store,
        spec.name,
        best.model,
        meta,
        schema,
        profile,
        reference=reference,
        run_id=best.run_id,
        metrics=best.metrics["test"],
    )
    alias = blessed_alias if decision.blessed else "challenger"
    store.models.set_alias(spec.name, alias, record.version)
    record = store.models.set_note(record.ref, decision.reason)
    return record, decision


def _held_out_stats(
    task: str, y: np.ndarray, scores: np.ndarray, threshold: float | None
) -> dict[str, float]:
    """The held-out rows' label rate (or mean and std) and predicted-positive rate: what
    :func:`loopml.monitoring.shift.shift_metrics` compares a window with."""
    if task == "binary" and len(y):
        stats = {"rows": float(len(y)), "label_rate": float(np.mean(y))}
        if threshold is not None and len(scores):
            stats["predicted_positive"] = float(np.mean(scores >= threshold))
        return stats
    if task == "regression" and len(y) > 1:
        return {
            "rows": float(len(y)),
            "label_mean": float(np.mean(y)),
            "label_std": float(np.std(y, ddof=1)),
        }
    return {}


Labelled = tuple[np.ndarray, np.ndarray]  # a split's scores (or predictions) and labels


def quality_model(
    spec: Spec, validation: Labelled, test: Labelled, threshold: float = 0.5
) -> dict[str, Any]:
    """What estimated quality needs, as ``meta.json`` keys: a binary classifier's isotonic
    calibration map (``calibration``) or a regression's binned residuals (``error_model``), fitted
    on the ``validation`` split's scores and labels, with the dispersion of the ``test`` split's
    windows in their order (time order for a time split: how much wider than independent rows'
    the intervals must be). None for multiclass (the log keeps only the top class's score) or
    too few rows (monitoring then trusts the raw scores)."""
    (scores, y), (test_scores, test_y) = validation, test
    if spec.task == "binary":
        calibration = Calibration.fit(scores, y)
        if calibration is None:
            return {}
        p = np.clip(calibration.apply(test_scores), 0.0, 1.0)
        spread = dispersion(
            lambda rows: binary_draws(p[rows], test_scores[rows], threshold, draws=200),
            lambda rows: binary_metrics(test_y[rows], test_scores[rows], threshold),
            len(test_scores),
        )
        return {"calibration": replace(calibration, dispersion=spread).to_dict()}
    if spec.task == "regression":
        errors = ErrorModel.fit(scores, y)
        if errors is None:
            return {}
        spread = dispersion(
            lambda rows: regression_draws(test_scores[rows], errors, draws=200),
            lambda rows: regression_metrics(test_scores[rows], test_y[rows]),
            len(test_scores),
        )
        return {"error_model": replace(errors, dispersion=spread).to_dict()}
    return {}
