"""Is one model better than another on the same rows beyond the noise of those rows?

:func:`paired_difference` scores two models on the same labelled rows and resamples the rows
(blocks of consecutive rows, see :class:`~loopml.stats.resampled.Blocks`) **together** for both:
what a hard stretch of rows costs one model it mostly costs the other, so the difference is
judged against its own noise, far smaller than either metric's. The interval is the percentile
interval of the resampled differences at ``confidence``; a model *beats* the other when the whole
interval lies above the margin (:meth:`PairedDifference.beats`), so a model compared with itself
never does. One method serves every metric of the spec (ROC AUC too, where DeLong's variance
would assume independent rows, which rows in time order are not).

:func:`metric_interval` gives one model's metric with its interval on its rows: how precisely a
test split measured it (the gate's check that validation and test agree).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from loopml.spec import METRICS, Task
from loopml.stats.resampled import Blocks, resampled

#: resamples per interval: the 2.5 % and 97.5 % percentiles rest on about 25 draws each
DRAWS = 1000
#: rows × draws weighed at once by the ranking metrics (memory: 8 bytes each)
CHUNK = 2_000_000


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
    _check(y, confidence, new, old, old_y)
    blocks = Blocks.of(len(y))
    sign = 1.0 if METRICS[metric][1] else -1.0
    ones = np.ones((1, blocks.count))
    value_new = float(resampled(metric, task, y, new, blocks, ones, new_threshold)[0])
    value_old = float(resampled(metric, task, old_y, old, blocks, ones, old_threshold)[0])
    gains = []
    for counts in _chunks(blocks, len(y), draws, seed):
        a = resampled(metric, task, y, new, blocks, counts, new_threshold)
        b = resampled(metric, task, old_y, old, blocks, counts, old_threshold)
        gains.append(sign * (a - b))
    low, high = _percentiles(np.concatenate(gains), confidence)
    return PairedDifference(
        metric,
        value_new,
        value_old,
        sign * (value_new - value_old),
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
    _check(y, confidence, output)
    blocks = Blocks.of(len(y))
    ones = np.ones((1, blocks.count))
    value = float(resampled(metric, task, y, output, blocks, ones, threshold)[0])
    values = np.concatenate(
        [
            resampled(metric, task, y, output, blocks, counts, threshold)
            for counts in _chunks(blocks, len(y), draws, seed)
        ]
    )
    low, high = _percentiles(values, confidence)
    return Estimate(metric, value, low, high, confidence, len(y))


def _check(y: np.ndarray, confidence: float, *outputs: np.ndarray) -> None:
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


def _chunks(blocks: Blocks, rows: int, draws: int, seed: int) -> list[np.ndarray]:
    """``draws`` block resamples from ``seed``, in chunks of at most :data:`CHUNK` weights."""
    rng = np.random.default_rng(seed)
    size = max(1, CHUNK // max(rows, 1))
    return [blocks.draws(rng, min(size, draws - start)) for start in range(0, draws, size)]


def _percentiles(values: np.ndarray, confidence: float) -> tuple[float, float]:
    """The central ``confidence`` interval of ``values``; NaN when more than the tails' share
    of resamples left the metric undefined (too few rows of a class to say anything)."""
    finite = values[np.isfinite(values)]
    if len(finite) < (1 - (1 - confidence) / 2) * len(values):
        return math.nan, math.nan
    tail = (1 - confidence) / 2
    low, high = np.quantile(finite, [tail, 1 - tail])
    return float(low), float(high)
