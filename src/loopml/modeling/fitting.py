"""Fitting one candidate on a run's encoded training split, and scoring it on every split.

:func:`fit_candidate` builds the estimator from its parameters and fits it (LightGBM stops early
on the validation split and, inside a tuning trial, reports to Optuna's pruner); :func:`evaluate`
chooses a binary model's threshold on the validation split, then computes the metrics per split.
"""

from __future__ import annotations

from typing import Any

import optuna

from loopml.features.pipeline import FeaturePipeline
from loopml.modeling import metrics as M
from loopml.modeling.candidates import build, fit
from loopml.modeling.model import TrainedModel
from loopml.modeling.prepare import SPLITS, TrainingData
from loopml.modeling.tune import LIGHTGBM_METRIC, lightgbm_pruning_callback
from loopml.spec import Spec

#: LightGBM treats a categorical column natively only up to this many levels: beyond it, native
#: splits overfit (measured on flights' ~4,000 tail numbers: test ROC AUC 0.65 natively vs 0.70
#: with the frequency-ordered codes as a number).
MAX_NATIVE_LEVELS = 200


def fit_candidate(
    name: str,
    params: dict[str, Any],
    data: TrainingData,
    spec: Spec,
    pipeline: FeaturePipeline,
    classes: list[Any],
    trial: optuna.Trial | None = None,
) -> TrainedModel:
    """Fit candidate ``name`` with ``params`` on ``data``'s training split (encoded by
    ``pipeline``); LightGBM stops early on the validation split and reports to ``trial``."""
    X, y, w = data.part("train")
    X_valid, y_valid, _ = data.part("validation")
    extra = dict(params)
    callbacks = []
    if name == "lightgbm" and spec.metric.name in LIGHTGBM_METRIC:
        extra["metric"] = LIGHTGBM_METRIC[spec.metric.name]
        if trial is not None:
            callbacks.append(lightgbm_pruning_callback(trial, spec.metric.name))
    estimator = build(
        name, spec.task, extra, pipeline.categorical_indices_, X.shape[1], spec.model.seed
    )
    native = pipeline.categorical_indices_
    if name == "lightgbm":  # codes of high-cardinality columns stay ordinal (by frequency)
        native = [
            index
            for index, levels in zip(native, pipeline.categorical_levels_, strict=True)
            if levels <= MAX_NATIVE_LEVELS
        ]
    estimator = fit(
        estimator,
        name,
        X,
        y,
        w,
        categorical=native,
        X_valid=X_valid,
        y_valid=y_valid,
        callbacks=callbacks,
    )
    return TrainedModel(spec.task, name, pipeline, estimator, classes, params=params)


def evaluate(model: TrainedModel, data: TrainingData, spec: Spec) -> dict[str, dict[str, float]]:
    """The metrics of ``model`` per split; a binary model's threshold is set on validation."""
    outputs = {name: model.output(data.X[name]) for name in SPLITS}
    if spec.task == "binary":
        _, y_valid, w_valid = data.part("validation")
        model.threshold = M.choose_threshold(y_valid, outputs["validation"][:, 1], w_valid)
    result = {}
    for name in SPLITS:
        _, y, w = data.part(name)
        result[name] = M.compute(spec.task, y, outputs[name], threshold=model.threshold, weight=w)
    return result
