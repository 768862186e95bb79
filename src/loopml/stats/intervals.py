"""How far a window's labelled quality may fall from its estimate: simulated labels.

If the probabilities are calibrated, each row's label is an independent Bernoulli draw with its
probability as the bias (a Poisson-binomial window); the quality the labels will show is then a
random variable whose spread comes from the window's size and its rows' uncertainty. Drawing
:data:`DRAWS` label vectors, computing the metric on each (the model's own scores rank the rows,
as the labelled metric does) and taking the central :data:`LEVEL` quantiles gives a *prediction
interval* for the labelled value: a labelled value outside it says the calibration no longer
holds — the inputs now mean other labels (concept shift), and the estimate cannot be trusted.

For regression the draws are residuals from :class:`~loopml.stats.error_model.ErrorModel`: each
row's |residual| comes from its predicted value's bin by inverse CDF, and each draw shifts the
bins' means by their standard error on the validation split (the error model is itself an
estimate from a few thousand rows).

Vectorised: each batch of draws is one (draws × rows) array, the ROC AUC a rank sum (a matrix
product with the scores' mid-ranks), the PR AUC (average precision, ties grouped as scikit-learn
does) a cumulative sum over the rows ranked by score. A 10,000-row window costs 0.1–0.4 s.
The generator is seeded, so recomputing a window gives the same interval.

The draws assume independent rows; rows close in time are not (:func:`dispersion`, measured at
registration on the held-out test split, widens the interval by as much as it needs there).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from scipy.stats import rankdata

from loopml.stats.error_model import LEVELS, ErrorModel

DRAWS = 400
LEVEL = 0.9
SEED = 20261203
#: the dispersion's chunks of held-out rows: about CHUNKS of them, each at least MIN_CHUNK rows
CHUNKS, MIN_CHUNK, MIN_CHUNKS = 12, 200, 4
_BATCH_CELLS = 2_000_000  # draws × rows per batch: ~16 MB of float64

Array = npt.NDArray[np.float64]


def interval(values: Array, level: float = LEVEL) -> tuple[float, float]:
    """The central ``level`` quantiles of ``values`` (NaN draws ignored; NaN when all are)."""
    finite = values[np.isfinite(values)]
    if not finite.size:
        return float("nan"), float("nan")
    low, high = np.quantile(finite, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def _batches(rows: int, draws: int) -> list[int]:
    size = max(1, min(draws, _BATCH_CELLS // max(rows, 1)))
    return [min(size, draws - start) for start in range(0, draws, size)]


class _Ranked:
    """A window's rows ranked by score, for the metrics of many label vectors at once."""

    def __init__(self, scores: Array, threshold: float) -> None:
        self.order = np.argsort(-scores, kind="stable")
        ranked = scores[self.order]
        self.ranks = rankdata(scores)[self.order]  # mid-ranks: a tie counts half, as sklearn
        self.ends = np.flatnonzero(np.r_[ranked[1:] != ranked[:-1], True])  # tie groups' ends
        self.predicted = (scores >= threshold)[self.order]

    def metrics(self, labels: npt.NDArray[np.bool_]) -> dict[str, Array]:
        """ROC AUC, PR AUC (average precision) and accuracy of each row of ``labels`` (label
        vectors in ranked order)."""
        n = labels.shape[1]
        positives = labels.sum(axis=1).astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            rank_sum = labels.astype(np.float64) @ self.ranks
            auc = (rank_sum - positives * (positives + 1) / 2) / (positives * (n - positives))
            hits = np.cumsum(labels, axis=1, dtype=np.int32)[:, self.ends].astype(np.float64)
            gained = np.diff(hits, axis=1, prepend=0.0)
            pr_auc = (gained * hits / (self.ends + 1.0)).sum(axis=1) / positives
        accuracy = (labels == self.predicted).mean(axis=1)
        return {"roc_auc": auc, "pr_auc": pr_auc, "accuracy": accuracy}


def binary_draws(
    probabilities: Array, scores: Array, threshold: float, draws: int = DRAWS, seed: int = SEED
) -> dict[str, Array]:
    """ROC AUC, PR AUC and accuracy of ``draws`` label vectors drawn from ``probabilities``,
    with the rows ranked by ``scores`` and predicted positive at ``scores >= threshold``."""
    rng = np.random.default_rng(seed)
    ranked = _Ranked(scores, threshold)
    p_ranked = probabilities[ranked.order]
    found: dict[str, list[Array]] = {"roc_auc": [], "pr_auc": [], "accuracy": []}
    for size in _batches(scores.size, draws):
        for name, values in ranked.metrics(rng.random((size, scores.size)) < p_ranked).items():
            found[name].append(values)
    return {name: np.concatenate(parts) for name, parts in found.items()}


def binary_metrics(labels: Array, scores: Array, threshold: float) -> dict[str, float]:
    """The labelled ROC AUC, PR AUC and accuracy of one window (NaN where undefined)."""
    ranked = _Ranked(scores, threshold)
    found = ranked.metrics((labels[ranked.order] == 1)[None, :])
    return {name: float(values[0]) for name, values in found.items()}


def regression_draws(
    predictions: Array, model: ErrorModel, draws: int = DRAWS, seed: int = SEED
) -> dict[str, Array]:
    """RMSE and MAE of ``draws`` residual vectors, each row's |residual| drawn from its bin."""
    n = predictions.size
    rng = np.random.default_rng(seed)
    which = model.bin_of(predictions)
    levels = np.linspace(0, 1, LEVELS)
    bins = np.unique(which)
    share = np.array([np.mean(which == b) for b in bins])
    # how well the validation split knows each bin's mean |r| and r² (their standard errors)
    quantiles = np.asarray(model.quantiles)[bins]
    counts = np.asarray(model.counts, dtype=np.float64)[bins]
    fit_sd = {
        "abs": quantiles.std(axis=1) / np.sqrt(counts),
        "sq": (quantiles**2).std(axis=1) / np.sqrt(counts),
    }
    found: dict[str, list[Array]] = {"rmse": [], "mae": []}
    for size in _batches(n, draws):
        u = rng.random((size, n))
        residual = np.empty_like(u)
        for b in bins:
            columns = which == b
            residual[:, columns] = np.interp(u[:, columns], levels, model.quantiles[b])
        shift = {
            k: rng.normal(0.0, 1.0, (size, bins.size)) @ (share * sd) for k, sd in fit_sd.items()
        }
        found["mae"].append(residual.mean(axis=1) + shift["abs"])
        found["rmse"].append(np.sqrt(np.maximum(np.mean(residual**2, axis=1) + shift["sq"], 0.0)))
    draws_of = {name: np.concatenate(parts) for name, parts in found.items()}
    # the stored quantiles give the spread; the bins' exact means give the centre (the quantile
    # sketch thins the tails, so its draws alone would sit a little low)
    centre = regression_expected(predictions, model)
    return {name: values + (centre[name] - values.mean()) for name, values in draws_of.items()}


def regression_expected(predictions: Array, model: ErrorModel) -> dict[str, float]:
    """The expected MAE and RMSE of rows predicting ``predictions``: their bins' means."""
    which = model.bin_of(predictions)
    return {
        "mae": float(np.mean(np.asarray(model.mean_abs)[which])),
        "rmse": float(np.sqrt(np.mean(np.asarray(model.mean_sq)[which]))),
    }


def regression_metrics(predictions: Array, targets: Array) -> dict[str, float]:
    """The labelled MAE and RMSE of one window."""
    residual = targets - predictions
    return {"mae": float(np.abs(residual).mean()), "rmse": float(np.sqrt(np.mean(residual**2)))}


def dispersion(
    estimate: Callable[[npt.NDArray[np.intp]], dict[str, Array]],
    realised: Callable[[npt.NDArray[np.intp]], dict[str, float]],
    rows: int,
) -> dict[str, float]:
    """How much more the labelled value strays from the estimate than independent rows would
    let it, per metric: over consecutive chunks of held-out rows (in time order for a time
    split), the mean squared gap between the labelled value and the simulated mean, divided by
    the mean simulated variance; at least 1 (independent rows give about 1).

    Rows close in time share causes no feature records (a storm delays a whole afternoon's
    flights), so a window's labels are not the independent draws the simulation assumes and its
    spread is too narrow by the square root of this factor; the estimate's interval is widened
    by it. ``estimate(rows)`` gives a chunk's draws, ``realised(rows)`` its labelled metrics.
    Empty when the rows make fewer than :data:`MIN_CHUNKS` chunks of :data:`MIN_CHUNK` rows."""
    chunk = max(MIN_CHUNK, rows // CHUNKS)
    if rows // chunk < MIN_CHUNKS:
        return {}
    gaps: dict[str, list[float]] = {}
    spreads: dict[str, list[float]] = {}
    for start in range(0, rows - chunk + 1, chunk):
        part = np.arange(start, start + chunk)
        draws, truth = estimate(part), realised(part)
        for name, values in draws.items():
            finite = values[np.isfinite(values)]
            if finite.size > 1 and np.isfinite(truth.get(name, np.nan)):
                gaps.setdefault(name, []).append(float((truth[name] - finite.mean()) ** 2))
                spreads.setdefault(name, []).append(float(finite.var()))
    found = {}
    for name, gap in gaps.items():
        if len(gap) >= MIN_CHUNKS:
            spread = max(float(np.mean(spreads[name])), 1e-12)
            found[name] = max(1.0, float(np.mean(gap)) / spread)
    return found
