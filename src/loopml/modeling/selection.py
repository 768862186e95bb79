"""Choosing among candidates: the score each is ranked by, and k-fold cross-validation.

A candidate is ranked by its cross-validated mean when ``model.cv_folds`` is set, else by its
validation score; the test split never takes part in the choice, so the leaderboard's test column
shows how each candidate would do on later data.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from loopml.features.pipeline import FeaturePipeline
from loopml.modeling import metrics as M
from loopml.modeling.fitting import fit_candidate
from loopml.modeling.prepare import TrainingData
from loopml.modeling.splits import Split
from loopml.spec import Spec


def selection_score(
    cv: dict[str, Any] | None, validation: dict[str, float], metric: str
) -> float | None:
    """The cross-validated mean when folds were run, else the validation score."""
    return float(cv["mean"]) if cv else validation.get(metric)


def rank_value(value: float | None, metric: str) -> float:
    """``value`` as a key where higher is better for any metric; a missing or non-finite score
    ranks last."""
    if value is None or not np.isfinite(value):
        return -np.inf
    return value if M.greater_is_better(metric) else -value


def cross_validate(
    name: str,
    params: dict[str, Any],
    data: TrainingData,
    spec: Spec,
    pipeline: FeaturePipeline,
    classes: list[Any],
) -> dict[str, Any]:
    """The primary metric on k folds of the training and validation rows (test rows untouched).

    With a time column the folds are time-ordered (each fold is scored on rows after the ones it
    trained on); otherwise they are stratified by class (plain k-fold for regression). LightGBM
    stops early on the scored fold, which flatters it slightly; the test split stays honest.
    """
    from sklearn.model_selection import KFold, StratifiedKFold, TimeSeriesSplit

    k = spec.model.cv_folds or 5
    rows = np.concatenate([data.split.train, data.split.validation])
    if spec.time_column:  # in time order, so each fold scores rows after the ones it fits on
        times = data.frame[spec.time_column].to_numpy()[rows]
        rows = rows[np.argsort(times, kind="stable")]
    X = pipeline.transform(data.frame[rows])
    y = data.y[rows]
    w = None if data.weight is None else data.weight[rows]
    if spec.time_column:
        splitter: Any = TimeSeriesSplit(n_splits=k)
    elif spec.task == "regression":
        splitter = KFold(n_splits=k, shuffle=True, random_state=spec.model.seed)
    else:
        splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=spec.model.seed)
    scores = []
    for fit_rows, score_rows in splitter.split(X, y):
        fold = TrainingData(
            frame=data.frame.clear(),
            y=y,
            weight=w,
            split=Split(fit_rows, score_rows, score_rows, "fold"),
            X={"train": X[fit_rows], "validation": X[score_rows], "test": X[score_rows]},
            dropped_rows=0,
        )
        model = fit_candidate(name, params, fold, spec, pipeline, classes)
        output = model.output(X[score_rows])
        w_fold = None if w is None else w[score_rows]
        threshold = (
            M.choose_threshold(y[score_rows], output[:, 1], w_fold)
            if spec.task == "binary"
            else None
        )
        metrics = M.compute(spec.task, y[score_rows], output, threshold=threshold, weight=w_fold)
        scores.append(metrics[spec.metric.name])
    return {
        "metric": spec.metric.name,
        "folds": scores,
        "mean": float(np.mean(scores)),
        "std": float(np.std(scores)),
        "method": type(splitter).__name__,
    }
