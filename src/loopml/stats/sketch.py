"""Mergeable sketches: quantiles, distinct counts and category frequencies with stated errors.

Each sketch is small, JSON-safe and mergeable, so a profile of a large table can be built from
profiles of its parts (chunks, windows, workers) and drift can be computed from a stored profile
without the data. Every sketch states its own error bound, and merging keeps that bound honest.

- :class:`QuantileSketch` — sorted points with integer weights; answers ``quantiles(qs)`` and
  ``cdf(xs)`` with a tracked rank error (exact when the data has at most ``capacity`` distinct
  values).
- :class:`DistinctSketch` — KMV (bottom-k over 64-bit hashes); exact below ``k`` distinct values,
  relative standard error about ``1/sqrt(k-2)`` above.
- :class:`CategoryCounts` — the top ``K`` categories with counts and a ``freq_error`` bound on
  every category's true count (kept or dropped).

All work on values is vectorised NumPy; Python loops run only over the (bounded) sketch points.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

DEFAULT_CAPACITY = 2048
DEFAULT_K = 1024
DEFAULT_TOP_K = 256
_TWO_64 = float(2**64)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def json_float(value: float | None) -> float | str | None:
    """A float as JSON allows it: finite floats as they are, ``inf``/``-inf``/``nan`` as strings."""
    if value is None or math.isfinite(value):
        return value
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


def json_floats(values: npt.NDArray[Any]) -> list[Any]:
    """A float array as a JSON-safe list (non-finite values as strings, see :func:`json_float`)."""
    out: list[Any] = values.tolist()
    for i in np.flatnonzero(~np.isfinite(values)).tolist():
        out[i] = json_float(out[i])
    return out


def parse_floats(values: Sequence[Any]) -> FloatArray:
    """Inverse of :func:`json_floats`."""
    return np.asarray(values, dtype=object).astype(np.float64).reshape(-1)


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


class DistinctSketch:
    """KMV distinct-count sketch: the ``k`` smallest distinct 64-bit hashes of the values.

    Fewer than ``k`` distinct hashes means every value was seen and the count is exact.
    Otherwise, with ``h_k`` the largest kept hash, ``(k − 1) / (h_k / 2^64)`` is an unbiased
    estimate with relative standard error about ``1/sqrt(k − 2)`` (3.1 % at k = 1024). Merging
    keeps the bottom ``min(k_a, k_b)`` of the union — exactly the sketch of the combined data.

    Hashes come from Polars ``Series.hash(seed=0)``, which is stable within a Polars version.
    Sketches made under another Polars version still merge, but equal values may then hash
    differently and be counted twice, so the merged estimate loses exactness (it can overcount).
    """

    __slots__ = ("_hashes", "k")

    def __init__(self, hashes: npt.ArrayLike = (), *, k: int = DEFAULT_K) -> None:
        if k < 3:
            raise ValueError(f"k must be at least 3, got {k}")
        unique = np.unique(np.asarray(hashes, dtype=np.uint64).reshape(-1))[:k]
        unique.flags.writeable = False
        self._hashes = unique
        self.k = int(k)

    @classmethod
    def from_series(cls, series: pl.Series, *, k: int = DEFAULT_K) -> DistinctSketch:
        """Sketch a Polars series' non-null values."""
        hashes = series.drop_nulls().hash(seed=0).unique().bottom_k(k)
        return cls(hashes.to_numpy(), k=k)

    @property
    def hashes(self) -> npt.NDArray[np.uint64]:
        """The kept hashes, ascending (read-only)."""
        return self._hashes

    @property
    def exact(self) -> bool:
        """Whether :attr:`estimate` is the exact distinct count (fewer than ``k`` seen)."""
        return self._hashes.size < self.k

    @property
    def estimate(self) -> float:
        """Estimated number of distinct values."""
        if self.exact:
            return float(self._hashes.size)
        return (self.k - 1) / max(float(self._hashes[-1]) / _TWO_64, 1.0 / _TWO_64)

    @property
    def rse(self) -> float:
        """Relative standard error of :attr:`estimate` (0 when exact)."""
        return 0.0 if self.exact else 1.0 / math.sqrt(self.k - 2)

    def merge(self, other: DistinctSketch) -> DistinctSketch:
        """The sketch of both inputs' values."""
        return DistinctSketch(np.concatenate([self._hashes, other._hashes]), k=min(self.k, other.k))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict; hashes as 16-digit hex (not every JSON reader keeps 64-bit ints)."""
        return {"k": self.k, "hashes": [f"{h:016x}" for h in self._hashes.tolist()]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DistinctSketch:
        """Inverse of :meth:`to_dict`."""
        hashes = np.array([int(h, 16) for h in data["hashes"]], dtype=np.uint64)
        return cls(hashes, k=int(data["k"]))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DistinctSketch):
            return NotImplemented
        return self.k == other.k and np.array_equal(self._hashes, other._hashes)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        kind = "exact" if self.exact else f"rse={self.rse:.3f}"
        return f"DistinctSketch(estimate={self.estimate:.0f}, k={self.k}, {kind})"


def _ranked(items: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
    """Most frequent first, ties by value (deterministic)."""
    return sorted(items, key=lambda item: (-item[1], item[0]))


@dataclass(frozen=True)
class CategoryCounts:
    """The ``top_k`` most frequent categories with counts, and an error bound for all others.

    Bound: every category's true count lies in ``[estimate, estimate + freq_error]``, where the
    estimate of a category not in ``counts`` is 0 — so no dropped category occurs more than
    ``freq_error`` times. Fresh: kept counts are exact and ``freq_error`` is the count of the
    ``(top_k+1)``-th category (0 when all fit). Merge: counts add, so errors add
    (``e_a + e_b``); truncating back to ``top_k`` then raises the error by the largest dropped
    estimate, since a dropped category's true count is at most its estimate plus ``e_a + e_b``.
    ``other_count`` is the number of values not covered by ``counts`` (exact).
    """

    counts: dict[str, int] = field(default_factory=dict)
    other_count: int = 0
    freq_error: int = 0
    top_k: int = DEFAULT_TOP_K

    @classmethod
    def from_ranked(
        cls, ranked: Iterable[tuple[str, int]], *, total: int, top_k: int = DEFAULT_TOP_K
    ) -> CategoryCounts:
        """From exact (value, count) pairs (at least the ``top_k + 1`` most frequent) and total."""
        pairs = _ranked(ranked)
        kept = dict(pairs[:top_k])
        error = pairs[top_k][1] if len(pairs) > top_k else 0
        return cls(kept, total - sum(kept.values()), error, top_k)

    @classmethod
    def from_values(cls, values: Iterable[Any], *, top_k: int = DEFAULT_TOP_K) -> CategoryCounts:
        """Count non-null values (as strings, the way Polars casts them)."""
        series = pl.Series("v", list(values)).drop_nulls().cast(pl.String)
        counts = series.value_counts(name="n")
        pairs = zip(counts["v"].to_list(), counts["n"].to_list(), strict=True)
        return cls.from_ranked(pairs, total=series.len(), top_k=top_k)

    @property
    def total(self) -> int:
        """Number of values counted (kept plus other)."""
        return sum(self.counts.values()) + self.other_count

    def bounds(self, value: str) -> tuple[int, int]:
        """(lowest, highest) possible true count of ``value``."""
        estimate = self.counts.get(value, 0)
        return estimate, estimate + self.freq_error

    def frequencies(self) -> dict[str, float]:
        """Estimated share of the counted values for each kept category."""
        total = self.total
        return {value: count / total for value, count in self.counts.items()} if total else {}

    def merge(self, other: CategoryCounts) -> CategoryCounts:
        """The counts of both inputs (see the class docstring for the error bound)."""
        top_k = max(self.top_k, other.top_k)
        combined = dict(self.counts)
        for value, count in other.counts.items():
            combined[value] = combined.get(value, 0) + count
        pairs = _ranked(combined.items())
        kept = dict(pairs[:top_k])
        error = self.freq_error + other.freq_error + (pairs[top_k][1] if len(pairs) > top_k else 0)
        return CategoryCounts(kept, self.total + other.total - sum(kept.values()), error, top_k)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict; values and counts as parallel lists (their order is meaningful)."""
        return {
            "top_k": self.top_k,
            "values": list(self.counts),
            "counts": list(self.counts.values()),
            "other_count": self.other_count,
            "freq_error": self.freq_error,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CategoryCounts:
        """Inverse of :meth:`to_dict`."""
        pairs = zip(data["values"], (int(c) for c in data["counts"]), strict=True)
        return cls(
            dict(_ranked(pairs)),
            int(data["other_count"]),
            int(data["freq_error"]),
            int(data["top_k"]),
        )
