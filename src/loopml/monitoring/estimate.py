"""Quality before labels: what a classifier's own probabilities say its accuracy and AUC are.

Labels arrive late (a flight's delay is known hours later, a loan's default months later), but a
**calibrated** classifier's scores already say how often it should be right: if a row scores
0.8, the positive label turns up 80 % of the time. Treating every label as a coin flip with its
row's score as the bias gives the expected accuracy and ROC AUC of a window today — the idea of
NannyML's confidence-based performance estimation (CBPE).

These estimates are only as good as the calibration: a model whose scores are overconfident
(say 0.95 for rows that are positive 80 % of the time) overestimates its own quality. So the
scores are first mapped through the package's isotonic map, fitted on the validation split at
registration (:class:`~loopml.stats.calibration.Calibration`); the model's raw scores still rank
the rows and decide its predictions, as they do for the labelled metrics. The estimate cannot see
concept drift (the same inputs now meaning other labels) — only the labels can, and a labelled
value outside the estimate's interval (:mod:`loopml.stats.intervals`) says so. It does see
covariate shift: a window full of rows the model is unsure of scores lower.

:func:`estimate_binary` and :func:`estimate_regression` give a window's estimates with their
intervals (``<metric>``, ``<metric>_low``, ``<metric>_high``); a regression's expected error comes
from its binned validation residuals (:class:`~loopml.stats.error_model.ErrorModel`, NannyML's
DLE idea).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from loopml.errors import DataError
from loopml.stats.calibration import Calibration
from loopml.stats.error_model import ErrorModel
from loopml.stats.intervals import (
    LEVEL,
    binary_draws,
    interval,
    regression_draws,
    regression_expected,
)


def _probabilities(scores: npt.ArrayLike, what: str) -> npt.NDArray[np.float64]:
    values = np.asarray(scores, dtype=np.float64)
    if values.size and not ((values >= 0) & (values <= 1)).all():
        bad = values[~((values >= 0) & (values <= 1))][0]
        raise DataError(
            f"{what} must be probabilities in [0, 1] (no NaN), got {bad!r}; pass the model's "
            "predicted probabilities, not labels, logits or a regression output"
        )
    return values


def _ranking(ranking: npt.ArrayLike | None, p: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    if ranking is None:
        return p
    s = np.asarray(ranking, dtype=np.float64).reshape(-1)
    if s.shape != p.shape:
        raise DataError(
            f"ranking must hold one score per probability, got {s.size} scores for {p.size} "
            "probabilities; pass the raw scores of the same rows"
        )
    return s


def expected_accuracy(
    scores: npt.ArrayLike, threshold: float = 0.5, ranking: npt.ArrayLike | None = None
) -> float:
    """Expected accuracy of a binary classifier from ``scores`` = P(positive), before labels.

    A row is predicted positive when its score (its ``ranking`` score when given: the model's
    raw score, beside calibrated ``scores``) reaches ``threshold``; it is then right with
    probability ``p``, and otherwise with probability ``1 − p``. The mean over the rows is the
    expected accuracy if the scores are calibrated. NaN for no rows.
    """
    p = _probabilities(scores, "scores").reshape(-1)
    if not p.size:
        return math.nan
    decided = _ranking(ranking, p)
    return float(np.mean(np.where(decided >= threshold, p, 1.0 - p)))


def expected_roc_auc(scores: npt.ArrayLike, ranking: npt.ArrayLike | None = None) -> float:
    """Expected ROC AUC of a binary classifier from ``scores`` = P(positive), before labels.

    With each label an independent Bernoulli(``p_i``) draw, row ``i`` is a positive and row
    ``j`` a negative with probability ``p_i (1 − p_j)``; AUC counts such a pair when ``i``
    scores higher (a tie counts half). The estimate is the ratio of the expected counts::

        sum_{i != j} p_i (1 − p_j) [s_i > s_j  (+ 1/2 if s_i == s_j)]  /  sum_{i != j} p_i (1 − p_j)

    (a ratio of expectations, not the expectation of the ratio: the two differ by O(1/n), which
    is negligible for windows of a few hundred rows). Computed in O(n log n): sorted by
    score, each group of tied scores pairs with the cumulative ``1 − p`` of all lower groups,
    and half of its own pairs. NaN for fewer than two rows, or when no pair can be a positive
    and a negative (every score 0, or every score 1).

    ``ranking`` (one per row): the scores that order the rows, when ``scores`` are calibrated
    probabilities of the model's raw scores (``s`` above; ``p`` stays the probability).
    """
    p = _probabilities(scores, "scores").reshape(-1)
    s = _ranking(ranking, p)
    order = np.argsort(s, kind="stable")
    p, s = p[order], s[order]
    if p.size < 2:
        return math.nan
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    positive = np.add.reduceat(p, starts)  # expected positives per group of tied scores
    negative = np.add.reduceat(1.0 - p, starts)
    both = np.add.reduceat(p * (1.0 - p), starts)  # a row never pairs with itself
    below = np.cumsum(negative) - negative  # expected negatives scoring lower than the group
    pairs = positive.sum() * negative.sum() - both.sum()
    if pairs <= 0:
        return math.nan
    ordered = np.sum(positive * below) + 0.5 * np.sum(positive * negative - both)
    return float(min(1.0, max(0.0, ordered / pairs)))


def expected_multiclass_accuracy(probabilities: npt.ArrayLike) -> float:
    """Expected accuracy of a multiclass classifier: the mean of each row's top probability.

    ``probabilities`` is an (n rows × k classes) array of calibrated class probabilities; the
    predicted class is the most probable one, right with that probability. NaN for no rows.
    """
    table = _probabilities(probabilities, "probabilities")
    if table.ndim != 2:
        raise DataError(
            f"probabilities must be a 2-D array (rows × classes), got {table.ndim} dimensions"
        )
    if not table.shape[0] or not table.shape[1]:
        return math.nan
    return float(np.mean(table.max(axis=1)))


def estimate_binary(
    scores: npt.ArrayLike,
    calibration: Calibration | None = None,
    threshold: float = 0.5,
    level: float = LEVEL,
) -> dict[str, float]:
    """A binary classifier's expected ``accuracy``, ``roc_auc`` and ``pr_auc`` on rows scoring
    ``scores``, each with ``_low``/``_high``: the central ``level`` interval of the labelled value
    (:mod:`loopml.stats.intervals`). Scores are calibrated by ``calibration`` when given
    (else taken as probabilities). ROC AUC and accuracy are the exact expectations, PR AUC the
    mean of the simulated values (it has no closed form). Empty for no rows."""
    raw = _probabilities(scores, "scores").reshape(-1)
    if not raw.size:
        return {}
    p = raw if calibration is None else np.clip(calibration.apply(raw), 0.0, 1.0)
    draws = binary_draws(p, raw, threshold)
    found = {
        "accuracy": expected_accuracy(p, threshold, ranking=raw),
        "roc_auc": expected_roc_auc(p, ranking=raw),
        "pr_auc": _mean(draws["pr_auc"]),
    }
    spread = calibration.dispersion if calibration is not None else {}
    return _with_intervals(found, draws, level, spread, upper=1.0)


def estimate_regression(
    predictions: npt.ArrayLike, model: ErrorModel, level: float = LEVEL
) -> dict[str, float]:
    """A regression's expected ``mae`` and ``rmse`` on rows predicting ``predictions``, from
    ``model``'s binned validation residuals, each with ``_low``/``_high`` (the central ``level``
    interval of the labelled value). Empty for no finite prediction."""
    pred = np.asarray(predictions, dtype=np.float64).reshape(-1)
    pred = pred[np.isfinite(pred)]
    if not pred.size:
        return {}
    return _with_intervals(
        regression_expected(pred, model), regression_draws(pred, model), level, model.dispersion
    )


def _mean(values: npt.NDArray[np.float64]) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else math.nan


def _with_intervals(
    found: dict[str, float],
    draws: dict[str, npt.NDArray[np.float64]],
    level: float,
    dispersion: dict[str, float],
    upper: float = math.inf,
) -> dict[str, float]:
    """Each estimate with its interval: the draws' central ``level`` quantiles, widened about the
    estimate by the square root of the metric's ``dispersion`` (rows close in time are not
    independent: :func:`loopml.stats.intervals.dispersion`), within [0, ``upper``]."""
    result = {}
    for name, value in found.items():
        low, high = interval(draws[name], level)
        if math.isfinite(value):
            # the exact expectation can sit a hair outside a narrow simulated band: widen to it
            low, high = min(low, value), max(high, value)
            widen = math.sqrt(max(1.0, dispersion.get(name, 1.0)))
            low = max(0.0, value - widen * (value - low))
            high = min(upper, value + widen * (high - value))
        result[name] = value
        result[f"{name}_low"] = low
        result[f"{name}_high"] = high
    return result
