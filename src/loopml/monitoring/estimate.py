"""Quality before labels: what a classifier's own probabilities say its accuracy and AUC are.

Labels arrive late (a flight's delay is known hours later, a loan's default months later), but a
**calibrated** classifier's scores already say how often it should be right: if a row scores
0.8, the positive label turns up 80 % of the time. Treating every label as a coin flip with its
row's score as the bias gives the expected accuracy and ROC AUC of a window today — the idea of
NannyML's confidence-based performance estimation (CBPE).

These estimates are only as good as the calibration: a model whose scores are overconfident
(say 0.95 for rows that are positive 80 % of the time) overestimates its own quality, and the
estimate cannot see concept drift (the same inputs now meaning other labels) — only the labels
can. They do see covariate shift: a window full of rows the model is unsure of scores lower.
Calibrate on held-out data (and check it with a reliability curve) before trusting them.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from loopml.errors import DataError


def _probabilities(scores: npt.ArrayLike, what: str) -> npt.NDArray[np.float64]:
    values = np.asarray(scores, dtype=np.float64)
    if values.size and not ((values >= 0) & (values <= 1)).all():
        bad = values[~((values >= 0) & (values <= 1))][0]
        raise DataError(
            f"{what} must be probabilities in [0, 1] (no NaN), got {bad!r}; pass the model's "
            "predicted probabilities, not labels, logits or a regression output"
        )
    return values


def expected_accuracy(scores: npt.ArrayLike, threshold: float = 0.5) -> float:
    """Expected accuracy of a binary classifier from ``scores`` = P(positive), before labels.

    A row is predicted positive when its score reaches ``threshold``; it is then right with
    probability ``p``, and otherwise with probability ``1 − p``. The mean over the rows is the
    expected accuracy if the scores are calibrated. NaN for no rows.
    """
    p = _probabilities(scores, "scores").reshape(-1)
    if not p.size:
        return math.nan
    return float(np.mean(np.where(p >= threshold, p, 1.0 - p)))


def expected_roc_auc(scores: npt.ArrayLike) -> float:
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
    """
    p = np.sort(_probabilities(scores, "scores").reshape(-1))
    if p.size < 2:
        return math.nan
    starts = np.flatnonzero(np.r_[True, p[1:] != p[:-1]])
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
