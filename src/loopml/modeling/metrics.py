"""Metrics per task, the binary decision threshold, and which direction is better.

Classification metrics take class probabilities (columns in the model's class order); binary
metrics also take the decision threshold chosen on validation data, so accuracy, precision,
recall and F1 describe the decisions the model will really make.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn import metrics as skm

from loopml.spec import METRICS, Task

THRESHOLD_GRID = np.round(np.linspace(0.02, 0.98, 49), 2)


def greater_is_better(name: str) -> bool:
    return METRICS[name][1]


def better(a: float, b: float, name: str) -> bool:
    """Whether metric value ``a`` is better than ``b``."""
    return a > b if greater_is_better(name) else a < b


def choose_threshold(y: np.ndarray, score: np.ndarray, weight: np.ndarray | None = None) -> float:
    """The probability threshold that maximises F1 on (validation) data."""
    best, best_f1 = 0.5, -1.0
    for threshold in THRESHOLD_GRID:
        f1 = skm.f1_score(y, score >= threshold, sample_weight=weight, zero_division=0)
        if f1 > best_f1:
            best, best_f1 = float(threshold), float(f1)
    return best


def threshold_table(
    y: np.ndarray,
    score: np.ndarray,
    thresholds: np.ndarray | None = None,
    weight: np.ndarray | None = None,
) -> list[dict[str, float]]:
    """Precision, recall, F1 and the (weighted) share flagged at each threshold."""
    rows = []
    for threshold in THRESHOLD_GRID[::4] if thresholds is None else thresholds:
        decided = score >= threshold
        w = {"sample_weight": weight, "zero_division": 0}
        rows.append(
            {
                "threshold": float(threshold),
                "precision": float(skm.precision_score(y, decided, **w)),
                "recall": float(skm.recall_score(y, decided, **w)),
                "f1": float(skm.f1_score(y, decided, **w)),
                "flagged": float(np.average(decided, weights=weight)),
            }
        )
    return rows


def compute(
    task: Task,
    y: np.ndarray,
    output: np.ndarray,
    *,
    threshold: float | None = None,
    weight: np.ndarray | None = None,
) -> dict[str, float]:
    """Every metric of ``task``: ``output`` is probabilities (classification) or values."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # undefined metrics on tiny slices become NaN, not noise
        if task == "regression":
            return _regression(y, output, weight)
        if task == "binary":
            return _binary(y, output, threshold if threshold is not None else 0.5, weight)
        return _multiclass(y, output, weight)


def one(name: str, task: Task, y: np.ndarray, output: np.ndarray) -> float:
    """Just metric ``name`` (threshold 0.5 for binary decisions): cheap enough to bootstrap."""
    score = output[:, 1] if task == "binary" and output.ndim == 2 else output
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if task == "binary" and name == "roc_auc":
            return _safe(skm.roc_auc_score, y, score)
        if task == "binary" and name == "pr_auc":
            return _safe(skm.average_precision_score, y, score)
        if task == "regression" and name == "mae":
            return float(skm.mean_absolute_error(y, score))
    return compute(task, y, output).get(name, float("nan"))


def encode_labels(values: list[Any], task: Task, positive: Any = None) -> np.ndarray:
    """Labels as they arrive in feedback (``True``, ``"yes"``, ``1.0``) as metric inputs: floats
    for regression; for binary, 1 where the label is ``positive`` (compared as text the way
    training encodes the target: ``true``, ``1``) and, without one, the last label in sorted
    order, as training's class order puts the positive class last."""
    if task == "regression":
        return np.array(values, dtype=float)
    texts = [label_text(v) for v in values]
    wanted = label_text(positive) if positive is not None else max(set(texts), default="")
    return np.array([t == wanted for t in texts], dtype=int)


def label_text(value: Any) -> str:
    """A label as text, the way training names classes: ``true``, ``1`` (not ``1.0``)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _safe(fn: Any, *args: Any, **kwargs: Any) -> float:
    try:
        return float(fn(*args, **kwargs))
    except ValueError:  # e.g. one class present in a slice
        return float("nan")


def _binary(
    y: np.ndarray, proba: np.ndarray, threshold: float, w: np.ndarray | None
) -> dict[str, float]:
    score = proba[:, 1] if proba.ndim == 2 else proba
    decided = (score >= threshold).astype(int)
    return {
        "roc_auc": _safe(skm.roc_auc_score, y, score, sample_weight=w),
        "pr_auc": _safe(skm.average_precision_score, y, score, sample_weight=w),
        "log_loss": _safe(
            skm.log_loss, y, np.clip(score, 1e-15, 1 - 1e-15), sample_weight=w, labels=[0, 1]
        ),
        "accuracy": _safe(skm.accuracy_score, y, decided, sample_weight=w),
        "balanced_accuracy": _safe(skm.balanced_accuracy_score, y, decided, sample_weight=w),
        "precision": _safe(skm.precision_score, y, decided, sample_weight=w, zero_division=0),
        "recall": _safe(skm.recall_score, y, decided, sample_weight=w, zero_division=0),
        "f1": _safe(skm.f1_score, y, decided, sample_weight=w, zero_division=0),
        "positive_rate": float(np.average(y, weights=w)),
        "threshold": float(threshold),
    }


def _multiclass(y: np.ndarray, proba: np.ndarray, w: np.ndarray | None) -> dict[str, float]:
    labels = np.arange(proba.shape[1])
    decided = proba.argmax(axis=1)
    return {
        "roc_auc": _safe(
            skm.roc_auc_score, y, proba, multi_class="ovr", labels=labels, sample_weight=w
        ),
        "log_loss": _safe(skm.log_loss, y, proba, labels=labels, sample_weight=w),
        "accuracy": _safe(skm.accuracy_score, y, decided, sample_weight=w),
        "balanced_accuracy": _safe(skm.balanced_accuracy_score, y, decided, sample_weight=w),
        "f1": _safe(skm.f1_score, y, decided, average="macro", sample_weight=w, zero_division=0),
    }


def _regression(y: np.ndarray, pred: np.ndarray, w: np.ndarray | None) -> dict[str, float]:
    return {
        "rmse": float(np.sqrt(skm.mean_squared_error(y, pred, sample_weight=w))),
        "mae": float(skm.mean_absolute_error(y, pred, sample_weight=w)),
        "r2": _safe(skm.r2_score, y, pred, sample_weight=w),
    }
