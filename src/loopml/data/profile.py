"""Data profiles: a compact, mergeable, JSON-safe summary of every column of a frame.

A profile is the common currency of validation, drift and monitoring: the training profile
travels inside the model package, so serving and monitoring never need the training data.
Per column it holds the non-null count, nulls, an approximate distinct count
(:class:`~loopml.stats.distinct.DistinctSketch`), and by kind:

- **numeric** (integers, floats, decimals) and **datetime** (date, datetime, time, duration):
  :class:`NumericStats` — NaN count, min, max, mean, M2 (so std) and a
  :class:`~loopml.stats.quantiles.QuantileSketch`. Temporal values are summarised as integer
  **microseconds** (since the Unix epoch in UTC for dates and datetimes, since midnight for
  times), whatever the time unit, so profiles of the same column at different units merge and
  compare; min and max are also given in ISO format.
- **categorical** (string, categorical, enum) and **boolean**:
  :class:`~loopml.stats.categories.CategoryCounts` — the top categories as strings (booleans as
  ``"true"``/``"false"``, as Polars casts them). Nested and binary columns are "categorical"
  with counts and a distinct estimate only.

Nulls are never a value: they are counted in ``nulls`` only. NaN is counted in ``nan_count`` and
kept out of min/max/mean/std and the sketch; ``±inf`` are values (mean and std then become
``inf``/NaN, as in Polars). Mean and variance use float64, so integers beyond 2**53 are
summarised approximately. Every statistic merges exactly or with a stated error (see
:mod:`loopml.stats`): ``profile(A ∪ B) == merge(profile(A), profile(B))`` up to those bounds.

This module is the data model: the profiles, their merge and their JSON form.
:func:`loopml.data.profiling.profile_frame` computes one from a Polars frame.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from loopml.errors import DataError, unknown_column
from loopml.stats.categories import CategoryCounts
from loopml.stats.distinct import DistinctSketch
from loopml.stats.jsonsafe import json_float
from loopml.stats.quantiles import QuantileSketch

Kind = Literal["numeric", "categorical", "boolean", "datetime"]
FORMAT = "loopml.profile/1"


def _nan_equal(a: Any, b: Any) -> bool:
    both_nan = isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)
    return both_nan or a == b


def _load_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _load_number(value: Any) -> int | float | None:
    """Integers stay integers (exact min/max of int columns); strings are non-finite floats."""
    return value if value is None or isinstance(value, int) else float(value)


@dataclass(frozen=True, eq=False)
class NumericStats:
    """Moments, extremes and quantiles of a numeric (or temporal, in µs) column's non-NaN values.

    ``count`` counts the non-null, non-NaN values these statistics describe; ``m2`` is the sum
    of squared deviations from the mean, merged with Chan et al.'s parallel formula.
    """

    count: int
    nan_count: int
    min: int | float | None
    max: int | float | None
    mean: float | None
    m2: float
    sketch: QuantileSketch
    min_iso: str | None = None
    max_iso: str | None = None

    @property
    def variance(self) -> float | None:
        """Sample variance (ddof=1, as Polars); None below two values."""
        return self.m2 / (self.count - 1) if self.count > 1 else None

    @property
    def std(self) -> float | None:
        """Sample standard deviation (ddof=1, as Polars); None below two values."""
        variance = self.variance
        return None if variance is None else math.sqrt(variance) if variance >= 0 else math.nan

    def merge(self, other: NumericStats) -> NumericStats:
        """Statistics of both inputs' values (exact to float rounding; sketch within its error)."""
        nan_count = self.nan_count + other.nan_count
        sketch = self.sketch.merge(other.sketch)
        if not other.count or not self.count:
            base = self if self.count else other
            return NumericStats(
                base.count,
                nan_count,
                base.min,
                base.max,
                base.mean,
                base.m2,
                sketch,
                base.min_iso,
                base.max_iso,
            )
        assert self.mean is not None and other.mean is not None
        n = self.count + other.count
        share = other.count / n
        delta = other.mean - self.mean
        if math.isfinite(delta):
            mean = self.mean + delta * share
            m2 = self.m2 + other.m2 + delta * delta * self.count * share
        else:  # an infinite mean on either side: the weighted sum gives inf or NaN, as Polars does
            mean = self.mean * (1 - share) + other.mean * share
            m2 = math.nan
        assert self.min is not None and other.min is not None
        assert self.max is not None and other.max is not None
        low = self if self.min <= other.min else other
        high = self if self.max >= other.max else other
        return NumericStats(
            n, nan_count, low.min, high.max, mean, m2, sketch, low.min_iso, high.max_iso
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (non-finite floats as strings)."""
        return {
            "count": self.count,
            "nan_count": self.nan_count,
            "min": self.min if isinstance(self.min, int) else json_float(self.min),
            "max": self.max if isinstance(self.max, int) else json_float(self.max),
            "min_iso": self.min_iso,
            "max_iso": self.max_iso,
            "mean": json_float(self.mean),
            "m2": json_float(self.m2),
            "sketch": self.sketch.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NumericStats:
        """Inverse of :meth:`to_dict`."""
        return cls(
            count=int(data["count"]),
            nan_count=int(data["nan_count"]),
            min=_load_number(data["min"]),
            max=_load_number(data["max"]),
            mean=_load_float(data["mean"]),
            m2=float(data["m2"]),
            sketch=QuantileSketch.from_dict(data["sketch"]),
            min_iso=data.get("min_iso"),
            max_iso=data.get("max_iso"),
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NumericStats):
            return NotImplemented
        names = ("count", "nan_count", "min", "max", "mean", "m2", "sketch", "min_iso", "max_iso")
        return all(_nan_equal(getattr(self, n), getattr(other, n)) for n in names)

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True)
class ColumnProfile:
    """One column's summary. ``count`` is non-null values (NaN included); ``nulls`` the rest."""

    name: str
    dtype: str
    kind: Kind
    count: int
    nulls: int
    distinct_sketch: DistinctSketch = field(default_factory=DistinctSketch)
    numeric: NumericStats | None = None
    categories: CategoryCounts | None = None

    @property
    def distinct(self) -> int:
        """Estimated number of distinct non-null values (exact below the sketch's ``k``)."""
        return round(self.distinct_sketch.estimate)

    @property
    def missing_fraction(self) -> float:
        """Share of rows that are null (0 for an empty column)."""
        rows = self.count + self.nulls
        return self.nulls / rows if rows else 0.0

    def merge(self, other: ColumnProfile) -> ColumnProfile:
        """This column over both inputs' rows. A column with no values merges with any kind."""
        if self.kind != other.kind and self.count and other.count:
            raise DataError(
                f"cannot merge column '{self.name}': it is {self.kind} ({self.dtype}) in one "
                f"profile and {other.kind} ({other.dtype}) in the other; profile both from data "
                "with the same column types"
            )
        if self.kind != other.kind:
            base, empty = (other, self) if other.count else (self, other)
            return ColumnProfile(
                self.name,
                base.dtype,
                base.kind,
                base.count,
                base.nulls + empty.nulls,
                base.distinct_sketch,
                base.numeric,
                base.categories,
            )
        numeric = (
            self.numeric.merge(other.numeric)
            if self.numeric is not None and other.numeric is not None
            else None
        )
        categories = (
            self.categories.merge(other.categories)
            if self.categories is not None and other.categories is not None
            else None
        )
        return ColumnProfile(
            self.name,
            _merged_dtype(self, other),
            self.kind,
            self.count + other.count,
            self.nulls + other.nulls,
            self.distinct_sketch.merge(other.distinct_sketch),
            numeric,
            categories,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict; ``distinct`` is the estimate, for readers who skip the sketch."""
        return {
            "name": self.name,
            "dtype": self.dtype,
            "kind": self.kind,
            "count": self.count,
            "nulls": self.nulls,
            "distinct": self.distinct,
            "distinct_sketch": self.distinct_sketch.to_dict(),
            "numeric": None if self.numeric is None else self.numeric.to_dict(),
            "categories": None if self.categories is None else self.categories.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnProfile:
        """Inverse of :meth:`to_dict`."""
        return cls(
            name=str(data["name"]),
            dtype=str(data["dtype"]),
            kind=data["kind"],
            count=int(data["count"]),
            nulls=int(data["nulls"]),
            distinct_sketch=DistinctSketch.from_dict(data["distinct_sketch"]),
            numeric=None if data["numeric"] is None else NumericStats.from_dict(data["numeric"]),
            categories=(
                None if data["categories"] is None else CategoryCounts.from_dict(data["categories"])
            ),
        )


def _merged_dtype(a: ColumnProfile, b: ColumnProfile) -> str:
    """Same kind, different dtypes (Int64 in one window, Float64 in another): keep the wider."""
    if a.dtype == b.dtype or b.dtype == "Null":
        return a.dtype
    if a.dtype == "Null" or (a.kind == "numeric" and "Float" in b.dtype and "Float" not in a.dtype):
        return b.dtype
    return a.dtype


@dataclass(frozen=True)
class Profile:
    """Column profiles in the frame's column order, plus the row count."""

    n_rows: int
    columns: dict[str, ColumnProfile] = field(default_factory=dict)

    def __getitem__(self, name: str) -> ColumnProfile:
        try:
            return self.columns[name]
        except KeyError:
            raise unknown_column(name, self.columns, where="the profile") from None

    def __iter__(self) -> Iterator[ColumnProfile]:
        return iter(self.columns.values())

    def __len__(self) -> int:
        return len(self.columns)

    def merge(self, other: Profile) -> Profile:
        """The profile of both inputs' rows; both must have the same column names."""
        if set(self.columns) != set(other.columns):
            only_self = [c for c in self.columns if c not in other.columns]
            only_other = [c for c in other.columns if c not in self.columns]
            raise DataError(
                "cannot merge profiles with different columns: "
                f"only in the first: {', '.join(only_self) or '-'}; "
                f"only in the second: {', '.join(only_other) or '-'}"
            )
        return Profile(
            self.n_rows + other.n_rows,
            {name: column.merge(other.columns[name]) for name, column in self.columns.items()},
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (columns as a list: JSON objects do not keep order everywhere)."""
        return {
            "format": FORMAT,
            "n_rows": self.n_rows,
            "columns": [column.to_dict() for column in self.columns.values()],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Profile:
        """Inverse of :meth:`to_dict`; a malformed document raises :class:`DataError`."""
        try:
            if data.get("format", FORMAT) != FORMAT:
                raise ValueError(f"unsupported format {data['format']!r}, expected {FORMAT!r}")
            columns = [ColumnProfile.from_dict(item) for item in data["columns"]]
            return cls(int(data["n_rows"]), {column.name: column for column in columns})
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DataError(f"malformed profile document: {exc!r}") from exc


def merge_profiles(profiles: Iterable[Profile]) -> Profile:
    """Merge profiles of disjoint parts of one table, pairwise as a balanced tree.

    The tree keeps the quantile sketches' error near ``log2(parts)`` compressions instead of one
    per part.
    """
    level = list(profiles)
    if not level:
        raise DataError("no profiles to merge; pass at least one")
    while len(level) > 1:
        pairs = range(0, len(level) - 1, 2)
        level = [level[i].merge(level[i + 1]) for i in pairs] + level[len(level) // 2 * 2 :]
    return level[0]
