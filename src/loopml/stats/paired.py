"""Is one model better than another on the same rows beyond the noise of those rows?

:func:`paired_difference` scores two models on the same labelled rows and resamples the rows
(blocks of consecutive rows, see :class:`~loopml.stats.resampled.Blocks`) **together** for both:
what a hard stretch of rows costs one model it mostly costs the other, so the difference is
judged against its own noise, far smaller than either metric's. The interval is the percentile
interval of the resampled differences at ``confidence``; a model *beats* the other when the whole
interval lies above the margin (:meth:`PairedDifference.beats`), so a model compared with itself
never does. ROC AUC, whose resamples would cost ``draws × rows`` rankings, takes DeLong's
variance instead, summed over the same blocks (:mod:`loopml.stats.delong`), with a normal
interval. Under :data:`MIN_BLOCKS` blocks (about 40 rows) there is too little to measure noise
with: the interval is undefined and nothing beats anything.

:func:`metric_interval` gives one model's metric with its interval on its rows: how precisely a
test split measured it (the gate's check that validation and test agree).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats

from loopml.spec import METRICS, Task
from loopml.stats.delong import block_sd, influence, multiclass_influence
from loopml.stats.resampled import Blocks, resampled

#: resamples per interval: the 2.5 % and 97.5 % percentiles rest on about 25 draws each
DRAWS = 1000
#: rows × draws weighed at once by PR AUC's resamples (memory: 8 bytes each)
CHUNK = 2_000_000
#: PR AUC's budget of rows × draws (about 10 s of one core at 2·10^7)
RANKED = 20_000_000
#: fewer resampled blocks than this say nothing of the noise (a handful of rows)
MIN_BLOCKS = 10


@dataclass(frozen=True)
class PairedDifference:
    """``new`` against ``old`` on the same ``rows``: the metric's values, the ``gain`` (new
    minus old when greater is better, old minus new otherwise: positive means new is better)
    and its interval [``low``, ``high``] at ``confidence``."""

    metric: str
    new: float
    old: float
    gain: float
    low: float
    high: float
    confidence: float
    rows: int
    block: int  # rows per resampled block

    def beats(self, margin: float = 0.0) -> bool:
        """Whether new is better than old by more than ``margin`` beyond noise: the whole
        interval above it (never when the interval is undefined)."""
        return math.isfinite(self.low) and self.low > margin

    def worse(self) -> bool:
        """Whether new is worse than old beyond noise: the whole interval below 0."""
        return math.isfinite(self.high) and self.high < 0

    def describe(self) -> str:
        """``gain +0.0200, 95% interval [+0.0050, +0.0350] on 4,000 rows``."""
        return (
            f"gain {self.gain:+.4f}, {self.confidence:.0%} interval "
            f"[{self.low:+.4f}, {self.high:+.4f}] on {self.rows:,} rows"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Estimate:
    """One model's ``metric`` on ``rows``: its ``value`` and interval at ``confidence``."""

    metric: str
    value: float
    low: float
    high: float
    confidence: float
    rows: int

    def covers(self, value: float) -> bool:
        return self.low <= value <= self.high


def paired_difference(
    metric: str,
    task: Task,
    y: np.ndarray,
    new: np.ndarray,
    old: np.ndarray,
    *,
    new_threshold: float | None = None,
    old_threshold: float | None = None,
    old_y: np.ndarray | None = None,
    confidence: float = 0.95,
    draws: int = DRAWS,
    seed: int = 0,
) -> PairedDifference:
    """Compare the outputs ``new`` and ``old`` of two models (probabilities in the same class
    order, or values) on the same rows with labels ``y`` (``old_y``: the same labels in the old
    model's class order, when it differs); binary decisions at each model's own threshold. Rows
    are resampled in their order's blocks (see the module doc)."""
    old_y = y if old_y is None else old_y
    _check(metric, task, y, confidence, new, old, old_y)
    draws = _affordable(metric, draws, len(y))
    blocks = Blocks.of(len(y))
    sign = 1.0 if METRICS[metric][1] else -1.0
    if metric == "roc_auc":
        value_new, psi_new = _auc(task, y, new)
        value_old, psi_old = _auc(task, old_y, old)
        gain = value_new - value_old
        low, high = _normal(gain, block_sd(psi_new - psi_old, blocks), confidence, blocks)
    else:
        ones = np.ones((1, blocks.count))
        value_new = float(resampled(metric, task, y, new, blocks, ones, new_threshold)[0])
        value_old = float(resampled(metric, task, old_y, old, blocks, ones, old_threshold)[0])
        gain = sign * (value_new - value_old)
        gains = []
        for counts in _chunks(blocks, len(y), draws, seed):
            a = resampled(metric, task, y, new, blocks, counts, new_threshold)
            b = resampled(metric, task, old_y, old, blocks, counts, old_threshold)
            gains.append(sign * (a - b))
        low, high = _percentiles(np.concatenate(gains), confidence, blocks)
    return PairedDifference(
        metric,
        value_new,
        value_old,
        gain,
        low,
        high,
        confidence,
        len(y),
        blocks.length,
    )


def metric_interval(
    metric: str,
    task: Task,
    y: np.ndarray,
    output: np.ndarray,
    *,
    threshold: float | None = None,
    confidence: float = 0.95,
    draws: int = DRAWS,
    seed: int = 0,
) -> Estimate:
    """One model's ``metric`` on its rows, with the percentile interval of its block
    resamples at ``confidence``."""
    _check(metric, task, y, confidence, output)
    draws = _affordable(metric, draws, len(y))
    blocks = Blocks.of(len(y))
    if metric == "roc_auc":
        value, psi = _auc(task, y, output)
        low, high = _normal(value, block_sd(psi, blocks), confidence, blocks)
    else:
        ones = np.ones((1, blocks.count))
        value = float(resampled(metric, task, y, output, blocks, ones, threshold)[0])
        values = np.concatenate(
            [
                resampled(metric, task, y, output, blocks, counts, threshold)
                for counts in _chunks(blocks, len(y), draws, seed)
            ]
        )
        low, high = _percentiles(values, confidence, blocks)
    return Estimate(metric, value, low, high, confidence, len(y))


def _check(metric: str, task: Task, y: np.ndarray, confidence: float, *outputs: np.ndarray) -> None:
    if metric not in METRICS or task not in METRICS[metric][0]:
        raise ValueError(f"metric {metric!r} does not apply to a {task} task")
    if not 0 < confidence < 1:
        raise ValueError(f"expected a confidence between 0 and 1 (such as 0.95), got {confidence}")
    if len(y) < 2:
        raise ValueError(f"expected at least 2 labelled rows to compare on, got {len(y)}")
    for output in outputs:
        if len(output) != len(y):
            raise ValueError(
                f"expected one output per labelled row ({len(y)}), got {len(output)}: score "
                "both models on the same rows"
            )


def _affordable(metric: str, draws: int, rows: int) -> int:
    """PR AUC weighs every row in every resample: at most :data:`RANKED` row-resamples in all
    (at least 200 draws, whose 2.5 % tails still rest on 5 each)."""
    return min(draws, max(200, RANKED // max(rows, 1))) if metric == "pr_auc" else draws


def _chunks(blocks: Blocks, rows: int, draws: int, seed: int) -> list[np.ndarray]:
    """``draws`` block resamples from ``seed``, in chunks of at most :data:`CHUNK` weights."""
    rng = np.random.default_rng(seed)
    size = max(1, CHUNK // max(rows, 1))
    return [blocks.draws(rng, min(size, draws - start)) for start in range(0, draws, size)]


def _auc(task: Task, y: np.ndarray, output: np.ndarray) -> tuple[float, np.ndarray]:
    """ROC AUC and the rows' influences on it (binary: the positive class's score)."""
    if task == "binary":
        return influence(y, output[:, 1] if output.ndim == 2 else output)
    return multiclass_influence(y, output)


def _normal(value: float, sd: float, confidence: float, blocks: Blocks) -> tuple[float, float]:
    """The normal interval ``value ± z·sd``; NaN under :data:`MIN_BLOCKS` blocks."""
    if blocks.count < MIN_BLOCKS or not (np.isfinite(value) and np.isfinite(sd)):
        return math.nan, math.nan
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    return value - z * sd, value + z * sd


def _percentiles(values: np.ndarray, confidence: float, blocks: Blocks) -> tuple[float, float]:
    """The central ``confidence`` interval of ``values``; NaN under :data:`MIN_BLOCKS` blocks,
    or when more than the tails' share of resamples left the metric undefined (too few rows of
    a class to say anything)."""
    finite = values[np.isfinite(values)]
    tail = (1 - confidence) / 2
    if blocks.count < MIN_BLOCKS or len(finite) < (1 - tail) * len(values):
        return math.nan, math.nan
    low, high = np.quantile(finite, [tail, 1 - tail])
    return float(low), float(high)
