"""Every metric of the spec, computed at once for many bootstrap resamples of the same rows.

A resample is a row of **block counts**: how often each block of consecutive rows was drawn
(:class:`Blocks`). Every row of a block carries its block's count as a weight, so one resample is
one weighted metric, and a matrix of counts (``draws × blocks``) gives every resample's value in
a few array operations instead of a loop of scikit-learn calls. With one draw of all ones the
values are the metrics of the rows themselves, equal to :func:`loopml.modeling.metrics.compute`'s
(a property test keeps them so).

Sums of per-row terms (errors, log losses, confusion counts) are added up per block first, so
their cost is ``draws × blocks``; the ranking metrics (ROC AUC, PR AUC) weigh every row
(``draws × rows``), ties grouped as scikit-learn groups them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from loopml.spec import METRICS, Task

Values = np.ndarray  # one metric value per resample


@dataclass(frozen=True)
class Blocks:
    """Rows cut into consecutive blocks of ``length`` rows (the last may be shorter).

    Resampling blocks rather than rows keeps what neighbouring rows share (a hard day, a
    storm): rows close in time are not independent, and resampling them one by one would
    understate the noise. The length grows as the cube root of the row count, the rate that
    estimates a variance best (Hall, Horowitz & Jing, 1995); rows in random order lose nothing
    by it but a little efficiency."""

    of_row: np.ndarray
    count: int
    length: int

    @classmethod
    def of(cls, rows: int) -> Blocks:
        length = max(1, math.ceil(rows ** (1 / 3)))
        of_row = np.arange(rows) // length
        return cls(of_row, int(of_row[-1]) + 1 if rows else 0, length)

    def draws(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` resamples: each block's count in a draw of ``count`` blocks with
        replacement (``size × count``, floats)."""
        uniform = np.full(self.count, 1.0 / self.count)
        return rng.multinomial(self.count, uniform, size=size).astype(float)

    def sums(self, terms: np.ndarray) -> np.ndarray:
        """Per-row ``terms`` (rows, or rows × k) added up per block (blocks, or blocks × k)."""
        if terms.ndim == 1:
            return np.bincount(self.of_row, weights=terms, minlength=self.count)
        return np.stack([self.sums(terms[:, j]) for j in range(terms.shape[1])], axis=1)


def resampled(
    name: str,
    task: Task,
    y: np.ndarray,
    output: np.ndarray,
    blocks: Blocks,
    counts: np.ndarray,
    threshold: float | None = None,
) -> Values:
    """Metric ``name`` of a model's ``output`` (probabilities, or values) against ``y`` for each
    row of block ``counts``; NaN where a resample leaves it undefined (one class only)."""
    if name not in METRICS or task not in METRICS[name][0]:
        raise ValueError(f"metric {name!r} does not apply to a {task} task")
    with np.errstate(divide="ignore", invalid="ignore"):
        if task == "regression":
            return _regression(name, y.astype(float), output.astype(float), blocks, counts)
        if task == "binary":
            score = output[:, 1] if output.ndim == 2 else output
            cut = 0.5 if threshold is None else threshold
            return _binary(name, y.astype(int), score.astype(float), cut, blocks, counts)
        return _multiclass(name, y.astype(int), output.astype(float), blocks, counts)


def _regression(
    name: str, y: np.ndarray, pred: np.ndarray, blocks: Blocks, counts: np.ndarray
) -> Values:
    error = y - pred
    terms = np.stack([np.ones_like(y), error**2, np.abs(error), y, y**2], axis=1)
    n, sse, sae, sy, syy = (counts @ blocks.sums(terms)).T
    if name == "rmse":
        return np.sqrt(sse / n)
    if name == "mae":
        return sae / n
    sst = syy - sy * sy / n
    sst = np.where(np.abs(sst) <= 1e-12 * np.maximum(syy, 1.0), 0.0, sst)
    # scikit-learn's r2 for constant labels: 1 for a perfect fit, else 0
    return np.where(sst > 0, 1 - sse / np.where(sst > 0, sst, 1.0), np.where(sse == 0, 1.0, 0.0))


def _binary(
    name: str,
    y: np.ndarray,
    score: np.ndarray,
    threshold: float,
    blocks: Blocks,
    counts: np.ndarray,
) -> Values:
    if name in ("roc_auc", "pr_auc"):
        ranking = _roc_auc if name == "roc_auc" else _average_precision
        return ranking(y, score, counts, blocks.of_row)
    if name == "log_loss":
        p = np.clip(score, 1e-15, 1 - 1e-15)
        loss = -(y * np.log(p) + (1 - y) * np.log(1 - p))
        n, total = (counts @ blocks.sums(np.stack([np.ones_like(p), loss], axis=1))).T
        return total / n
    decided = (score >= threshold).astype(float)
    positive = y.astype(float)
    terms = np.stack([decided * positive, decided * (1 - positive), (1 - decided) * positive,
                      (1 - decided) * (1 - positive)], axis=1)  # fmt: skip
    tp, fp, fn, tn = (counts @ blocks.sums(terms)).T
    return _from_confusion(name, tp, fp, fn, tn)


def _from_confusion(name: str, tp: Values, fp: Values, fn: Values, tn: Values) -> Values:
    def ratio(top: Values, bottom: Values) -> Values:  # zero_division=0, as in metrics.py
        return np.where(bottom > 0, top / np.where(bottom > 0, bottom, 1.0), 0.0)

    rules: dict[str, Callable[[], Values]] = {
        "accuracy": lambda: (tp + tn) / (tp + fp + fn + tn),
        "precision": lambda: ratio(tp, tp + fp),
        "recall": lambda: ratio(tp, tp + fn),
        "f1": lambda: ratio(2 * tp, 2 * tp + fp + fn),
        "balanced_accuracy": lambda: _mean_present(
            np.stack([tp / (tp + fn), tn / (tn + fp)], axis=1)
        ),
    }
    return rules[name]()


def _mean_present(per_class: np.ndarray) -> Values:
    """The mean over the classes present (not NaN) in each resample, as scikit-learn does."""
    present = np.isfinite(per_class)
    total = np.where(present, per_class, 0.0).sum(axis=1)
    kept = present.sum(axis=1)
    return np.where(kept > 0, total / np.maximum(kept, 1), np.nan)


def _roc_auc(y: np.ndarray, score: np.ndarray, counts: np.ndarray, of_row: np.ndarray) -> Values:
    """Weighted ROC AUC per row of block ``counts`` (``of_row``: each row's block): each
    positive's share of negatives scored below it, ties counting half."""
    order = np.argsort(score, kind="mergesort")
    starts = _tie_starts(score[order])
    weights = counts[:, of_row[order]]
    pos = np.add.reduceat(weights * y[order], starts, axis=1)
    neg = np.add.reduceat(weights * (1 - y[order]), starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg
    total_pos, total_neg = pos.sum(axis=1), neg.sum(axis=1)
    area = (pos * (below + 0.5 * neg)).sum(axis=1)
    return np.where((total_pos > 0) & (total_neg > 0), area / (total_pos * total_neg), np.nan)


def _average_precision(
    y: np.ndarray, score: np.ndarray, counts: np.ndarray, of_row: np.ndarray
) -> Values:
    """Weighted average precision per row of block ``counts`` (scikit-learn's step-wise sum
    of precision times the gain in recall, over thresholds from the highest score down)."""
    order = np.argsort(-score, kind="mergesort")
    starts = _tie_starts(score[order])
    weights = counts[:, of_row[order]]
    tp = np.cumsum(np.add.reduceat(weights * y[order], starts, axis=1), axis=1)
    fp = np.cumsum(np.add.reduceat(weights * (1 - y[order]), starts, axis=1), axis=1)
    total = tp[:, -1:]
    precision = np.where(tp + fp > 0, tp / np.where(tp + fp > 0, tp + fp, 1.0), 0.0)
    gained = np.diff(tp, axis=1, prepend=0.0)
    value = (precision * gained).sum(axis=1) / total[:, 0]
    return np.where(total[:, 0] > 0, value, np.nan)


def _tie_starts(sorted_scores: np.ndarray) -> np.ndarray:
    """Where each run of equal scores begins in ``sorted_scores``."""
    return np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])


def _multiclass(
    name: str, y: np.ndarray, proba: np.ndarray, blocks: Blocks, counts: np.ndarray
) -> Values:
    k = proba.shape[1]
    if name == "roc_auc":  # one class against the rest, averaged over classes
        per_class = np.stack(
            [_roc_auc((y == c).astype(int), proba[:, c], counts, blocks.of_row) for c in range(k)],
            axis=1,
        )
        return np.where(np.isfinite(per_class).all(axis=1), per_class.mean(axis=1), np.nan)
    if name == "log_loss":
        p = proba / proba.sum(axis=1, keepdims=True)
        eps = np.finfo(p.dtype).eps
        loss = -np.log(np.clip(p[np.arange(len(y)), y], eps, 1 - eps))
        n, total = (counts @ blocks.sums(np.stack([np.ones_like(loss), loss], axis=1))).T
        return total / n
    truth = np.eye(k)[y]
    decided = np.eye(k)[proba.argmax(axis=1)]
    hits = counts @ blocks.sums(truth * decided)  # draws × classes
    actual = counts @ blocks.sums(truth)
    predicted = counts @ blocks.sums(decided)
    if name == "accuracy":
        return hits.sum(axis=1) / actual.sum(axis=1)
    if name == "balanced_accuracy":
        return _mean_present(np.where(actual > 0, hits / np.where(actual > 0, actual, 1), np.nan))
    # macro F1 over the classes seen among the labels or the decisions
    bottom = actual + predicted
    f1 = np.where(bottom > 0, 2 * hits / np.where(bottom > 0, bottom, 1), np.nan)
    return _mean_present(f1)
