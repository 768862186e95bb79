"""ROC AUC's noise without resampling: DeLong's placement values, summed over blocks of rows.

The AUC is the mean over positives of each one's *placement* (the share of negatives scored below
it, ties half) and, equally, over negatives of theirs. It is asymptotically linear in those
placements (DeLong, DeLong & Clarke-Pearson, 1988): ``AUC − θ ≈ Σ ψ`` with one influence value
``ψ`` per row, ``(V − AUC)/m`` for the ``m`` positives and ``(V − AUC)/n`` for the ``n``
negatives. Its variance is then the sum of squared influences, DeLong's own estimate when the
rows are independent; summed first over blocks of consecutive rows
(:class:`~loopml.stats.resampled.Blocks`), it keeps what neighbouring rows share, as the block
bootstrap does for the other metrics, in ``O(rows log rows)`` instead of ``draws × rows``.
Two models' influences on the same rows subtract: the paired difference's variance.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from loopml.stats.resampled import Blocks


def influence(y: np.ndarray, score: np.ndarray) -> tuple[float, np.ndarray]:
    """``(auc, ψ)``: the binary ROC AUC of ``score`` against ``y`` (0/1) and each row's
    influence on it; NaN and zeros when one class is missing."""
    positive = y.astype(bool)
    m, n = int(positive.sum()), int((~positive).sum())
    if m == 0 or n == 0:
        return float("nan"), np.zeros(len(y))
    ranks = stats.rankdata(score)  # midranks: ties count half
    placement = np.empty(len(y))
    # a positive's placement: negatives below it; a negative's: positives above it
    placement[positive] = (ranks[positive] - stats.rankdata(score[positive])) / n
    placement[~positive] = 1 - (ranks[~positive] - stats.rankdata(score[~positive])) / m
    auc = float(placement[positive].mean())
    psi = np.where(positive, (placement - auc) / m, (placement - auc) / n)
    return auc, psi


def multiclass_influence(y: np.ndarray, proba: np.ndarray) -> tuple[float, np.ndarray]:
    """One class against the rest, averaged over classes (scikit-learn's ``ovr`` macro AUC),
    and the rows' influences on that average."""
    parts = [influence((y == c).astype(int), proba[:, c]) for c in range(proba.shape[1])]
    return (
        float(np.mean([auc for auc, _ in parts])),
        np.mean([psi for _, psi in parts], axis=0),
    )


def block_sd(psi: np.ndarray, blocks: Blocks) -> float:
    """The standard deviation of a statistic with influences ``psi`` over ``blocks``: the
    spread of its block sums (NaN under two blocks)."""
    if blocks.count < 2:
        return float("nan")
    sums = blocks.sums(psi)
    return float(np.sqrt(blocks.count / (blocks.count - 1) * np.sum(sums**2)))
