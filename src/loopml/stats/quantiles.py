"""A mergeable quantile sketch: sorted points with integer weights and a tracked rank error.

:class:`QuantileSketch` answers ``quantiles(qs)`` and ``cdf(xs)`` within its stated rank error,
exact when the data has at most ``capacity`` distinct values. It is small, JSON-safe and
mergeable, so a profile of a large table can be built from profiles of its parts (chunks,
windows, workers) and drift computed from a stored profile without the data; merging keeps the
error bound honest. All work on values is vectorised NumPy; Python loops run only over the
(bounded) sketch points.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from loopml.stats.jsonsafe import FloatArray, IntArray, json_float, json_floats, parse_floats

DEFAULT_CAPACITY = 2048


def evenly_spaced_ranks(n: int, capacity: int) -> tuple[IntArray, IntArray, int]:
    """Which ranks of ``n`` sorted values a fresh sketch keeps: (positions, weights, rank error).

    The sorted values are cut into ``capacity`` consecutive blocks of ``floor(n/capacity)`` or
    ``ceil(n/capacity)`` values; each block is represented by its middle value weighted by the
    block's size. A threshold ``x`` splits at most one block, and the block's middle value puts
    at most ``floor(size/2)`` of that block on the wrong side, so the rank error is
    ``floor(ceil(n/capacity)/2)`` (about ``n/(2·capacity)``). With ``n <= capacity`` every value
    is kept and the error is 0.
    """
    if n <= capacity:
        return np.arange(n, dtype=np.int64), np.ones(n, dtype=np.int64), 0
    starts = (np.arange(capacity + 1, dtype=np.int64) * n) // capacity
    sizes = np.diff(starts)
    return starts[:-1] + (sizes - 1) // 2, sizes, int(sizes.max() // 2)


def _dedupe(values: FloatArray, weights: IntArray) -> tuple[FloatArray, IntArray]:
    """Merge equal neighbours of sorted points (exact: no effect on any rank)."""
    if values.size < 2:
        return values, weights
    first = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
    if first.size == values.size:
        return values, weights
    return values[first], np.add.reduceat(weights, first)


def _compress(
    values: FloatArray, weights: IntArray, capacity: int
) -> tuple[FloatArray, IntArray, int]:
    """Reduce sorted, distinct weighted points to at most ``capacity``; return the added rank error.

    Point ``i`` covers the cumulative-weight interval ``[start_i, start_i + w_i)``. Points are
    grouped by the bucket ``floor(start_i · capacity / n)`` their interval starts in (so at most
    ``capacity`` groups), and each group becomes its weighted median carrying the group's total
    weight ``G``. A threshold ``x`` splits at most one group, and moves at most the weight on one
    side of that group's median, so the added error is the largest such side weight — computed
    exactly here and added to the tracked bound.

    It is at most ``n/capacity`` (``s`` below): every start in a group lies in one bucket of width
    ``s``, so ``G < s + w_last``. If the last point outweighs ``G/2`` it is the median, nothing
    follows it, and what precedes it spans less than ``s``. Otherwise ``G < 2s`` and each side of
    the median holds at most ``G/2 < s``. In practice the error is about ``s/2``.
    """
    cum = np.cumsum(weights)
    total = int(cum[-1])
    starts = cum - weights
    if total < 2**62 // capacity:
        group = (starts * capacity) // total
    else:  # beyond int64 range: float grouping (the error is still computed exactly)
        group = np.minimum((starts * (capacity / total)).astype(np.int64), capacity - 1)
    first = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    group_weight = np.add.reduceat(weights, first)
    before_group = starts[first]
    median = np.searchsorted(2 * cum, 2 * before_group + group_weight, side="left")
    before = starts[median] - before_group
    after = before_group + group_weight - cum[median]
    error = int(max(before.max(), after.max()))
    return values[median], group_weight, error


class QuantileSketch:
    """A mergeable quantile sketch: sorted points with integer weights and a rank error bound.

    The sketch stands for the weighted empirical distribution of its points. For every ``x`` the
    estimated count of values ``<= x`` differs from the true count by at most ``rank_error``
    (``error = rank_error / n`` as a fraction). Built from at most ``capacity`` distinct values
    the sketch is exact (error 0); otherwise see :func:`evenly_spaced_ranks` (about
    ``1/(2·capacity)``).

    **Merging** concatenates the points: the union's estimated counts are the sums of both, so
    its error is at most ``rank_error_a + rank_error_b`` (the triangle inequality, per
    threshold). When more than ``capacity`` distinct points remain they are compressed
    (:func:`_compress`) and the compression's exact error ``c`` is added. Normalised, the merged
    error is ``(e_a·n_a + e_b·n_b)/n + c/n <= max(e_a, e_b) + 1/capacity``, and typically
    ``c/n`` is about ``1/(2·capacity)``. Each merge that compresses adds this term, so merge many
    parts as a balanced tree (:func:`loopml.data.profile.merge_profiles` does): the bound then
    grows by one term per tree level, ``log2(parts)`` in all, rather than one per part.

    NaN is not a value here (callers count it separately); ``±inf`` are ordinary values. The
    exact ``min`` and ``max`` are kept so ``quantiles([0, 1])`` and the CDF's tails are exact.
    """

    __slots__ = ("_cum", "_values", "_weights", "capacity", "max", "min", "rank_error")

    def __init__(
        self,
        values: npt.ArrayLike = (),
        weights: npt.ArrayLike | None = None,
        *,
        capacity: int = DEFAULT_CAPACITY,
        rank_error: int = 0,
        min: float | None = None,
        max: float | None = None,
    ) -> None:
        if capacity < 2:
            raise ValueError(f"capacity must be at least 2, got {capacity}")
        vals = np.asarray(values, dtype=np.float64).reshape(-1)
        wts = (
            np.ones(vals.size, dtype=np.int64)
            if weights is None
            else np.asarray(weights, dtype=np.int64).reshape(-1)
        )
        if vals.size != wts.size:
            raise ValueError(f"got {vals.size} values but {wts.size} weights")
        if np.isnan(vals).any() or (wts < 0).any() or rank_error < 0:
            raise ValueError("sketch points must be non-NaN with non-negative weights and error")
        keep = wts > 0
        if not keep.all():
            vals, wts = vals[keep], wts[keep]
        if vals.size > 1 and not (vals[1:] >= vals[:-1]).all():
            order = np.argsort(vals, kind="stable")
            vals, wts = vals[order], wts[order]
        vals, wts = _dedupe(vals, wts)
        if vals.size > capacity:
            vals, wts, added = _compress(vals, wts, capacity)
            rank_error += added
        self._values = vals
        self._weights = wts
        self._cum = np.cumsum(wts)
        for array in (self._values, self._weights, self._cum):
            array.flags.writeable = False
        self.capacity = int(capacity)
        self.rank_error = int(rank_error)
        empty = vals.size == 0
        self.min = None if empty else float(vals[0] if min is None else min)
        self.max = None if empty else float(vals[-1] if max is None else max)

    @classmethod
    def from_values(
        cls, values: npt.ArrayLike, *, capacity: int = DEFAULT_CAPACITY
    ) -> QuantileSketch:
        """Sketch raw values (NaN dropped): exact up to ``capacity`` distinct values."""
        data = np.asarray(values, dtype=np.float64).reshape(-1)
        data = np.sort(data[~np.isnan(data)])
        if data.size == 0:
            return cls(capacity=capacity)
        distinct, counts = _dedupe(data, np.ones(data.size, dtype=np.int64))
        if distinct.size <= capacity:
            return cls(distinct, counts, capacity=capacity)
        positions, weights, error = evenly_spaced_ranks(data.size, capacity)
        return cls(
            data[positions],
            weights,
            capacity=capacity,
            rank_error=error,
            min=float(data[0]),
            max=float(data[-1]),
        )

    @property
    def n(self) -> int:
        """How many values the sketch stands for."""
        return int(self._cum[-1]) if self._cum.size else 0

    @property
    def error(self) -> float:
        """Normalised rank error: ``|estimated CDF(x) − true CDF(x)| <= error`` for every x."""
        return self.rank_error / self.n if self.n else 0.0

    @property
    def values(self) -> FloatArray:
        """The sorted, distinct points (read-only)."""
        return self._values

    @property
    def weights(self) -> IntArray:
        """How many values each point stands for (read-only)."""
        return self._weights

    def quantiles(self, qs: npt.ArrayLike) -> FloatArray:
        """The lower ``q``-quantile for each ``q`` in [0, 1]: the first point whose cumulative
        weight reaches ``q·n``.

        The returned value lies between the true (lower) quantiles at ``q − error`` and
        ``q + error``; ``q = 0`` and ``q = 1`` give the exact min and max. NaN when empty.
        """
        levels = np.asarray(qs, dtype=np.float64)
        if np.isnan(levels).any() or (levels < 0).any() or (levels > 1).any():
            raise ValueError("quantile levels must lie in [0, 1]")
        if not self.n:
            return np.full(levels.shape, np.nan)
        index = np.searchsorted(self._cum, levels * self.n, side="left")
        out = self._values[np.minimum(index, self._values.size - 1)]
        assert self.min is not None and self.max is not None
        out = np.where(levels <= 0, self.min, out)
        return np.where(levels >= 1, self.max, out).astype(np.float64)

    def cdf(self, xs: npt.ArrayLike) -> FloatArray:
        """Estimated fraction of values ``<= x`` per ``x``, within ``error`` (NaN gives NaN)."""
        points = np.asarray(xs, dtype=np.float64)
        if not self.n:
            return np.full(points.shape, np.nan)
        index = np.searchsorted(self._values, points, side="right")
        cum = np.r_[0, self._cum]
        out = cum[index] / self.n
        assert self.min is not None and self.max is not None
        out = np.where(points < self.min, 0.0, np.where(points >= self.max, 1.0, out))
        return np.where(np.isnan(points), np.nan, out)

    def merge(self, other: QuantileSketch) -> QuantileSketch:
        """The sketch of both inputs' values (see the class docstring for the error bound)."""
        lows = [v for v in (self.min, other.min) if v is not None]
        highs = [v for v in (self.max, other.max) if v is not None]
        return QuantileSketch(
            np.concatenate([self._values, other._values]),
            np.concatenate([self._weights, other._weights]),
            capacity=max(self.capacity, other.capacity),
            rank_error=self.rank_error + other.rank_error,
            min=min(lows) if lows else None,
            max=max(highs) if highs else None,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (non-finite floats as strings)."""
        return {
            "n": self.n,
            "capacity": self.capacity,
            "rank_error": self.rank_error,
            "min": json_float(self.min),
            "max": json_float(self.max),
            "values": json_floats(self._values),
            "weights": self._weights.tolist(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QuantileSketch:
        """Inverse of :meth:`to_dict`."""
        sketch = cls(
            parse_floats(data["values"]),
            np.asarray(data["weights"], dtype=np.int64),
            capacity=int(data["capacity"]),
            rank_error=int(data["rank_error"]),
            min=None if data["min"] is None else float(data["min"]),
            max=None if data["max"] is None else float(data["max"]),
        )
        if "n" in data and int(data["n"]) != sketch.n:
            raise ValueError(f"sketch says n={data['n']} but its weights sum to {sketch.n}")
        return sketch

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, QuantileSketch):
            return NotImplemented
        return (
            (self.capacity, self.rank_error, self.min, self.max)
            == (other.capacity, other.rank_error, other.min, other.max)
            and np.array_equal(self._values, other._values)
            and np.array_equal(self._weights, other._weights)
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"QuantileSketch(n={self.n}, points={self._values.size}, "
            f"capacity={self.capacity}, error={self.error:.3g})"
        )
