"""Mergeable category counts: the top ``K`` categories with a bound on every other's count.

:class:`CategoryCounts` keeps the most frequent categories with their counts and a
``freq_error`` bound on every category's true count (kept or dropped), and merges with that
bound kept honest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl

DEFAULT_TOP_K = 256


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
