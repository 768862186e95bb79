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
- **categorical** (string, categorical, enum) and **boolean**: :class:`CategoryCounts` — the top
  categories as strings (booleans as ``"true"``/``"false"``, as Polars casts them). Nested and
  binary columns are "categorical" with counts and a distinct estimate only.

Nulls are never a value: they are counted in ``nulls`` only. NaN is counted in ``nan_count`` and
kept out of min/max/mean/std and the sketch; ``±inf`` are values (mean and std then become
``inf``/NaN, as in Polars). Mean and variance use float64, so integers beyond 2**53 are
summarised approximately. Every statistic merges exactly or with a stated error (see
:mod:`loopml.stats`): ``profile(A ∪ B) == merge(profile(A), profile(B))`` up to those bounds.

Speed: two parallel passes over the frame. Pass 1 is one Polars ``select`` of every scalar
aggregate plus the numeric hashes for the distinct sketch. Pass 2 (through ``collect_all``) runs
one group-by per categorical column next to one ``select`` that fetches each numeric column's
sketch points: ``value_counts`` when pass 1 found at most ``capacity`` distinct values, else a
sort gathering only the ``capacity`` evenly spaced ranks. Nothing but those points reaches NumPy.
Larger-than-memory data is profiled by slices and combined with :func:`merge_profiles`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import numpy as np
import polars as pl

from loopml.errors import DataError, unknown_column
from loopml.stats.categories import DEFAULT_TOP_K, CategoryCounts
from loopml.stats.distinct import DEFAULT_K, DistinctSketch
from loopml.stats.jsonsafe import json_float
from loopml.stats.quantiles import DEFAULT_CAPACITY, QuantileSketch, evenly_spaced_ranks

Kind = Literal["numeric", "categorical", "boolean", "datetime"]
FORMAT = "loopml.profile/1"
_EPOCH = datetime(1970, 1, 1)


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


# --- profiling a frame ------------------------------------------------------------------------


def _kind(name: str, dtype: pl.DataType) -> Kind:
    if dtype == pl.Boolean:
        return "boolean"
    if dtype.is_temporal():
        return "datetime"
    if dtype.is_numeric():
        return "numeric"
    if dtype == pl.Object:
        raise DataError(
            f"cannot profile column '{name}' of dtype Object; convert it to a number, "
            "string or date first"
        )
    return "categorical"


def _as_number(name: str, dtype: pl.DataType) -> pl.Expr:
    """The column as the numbers its statistics describe (temporal values in microseconds)."""
    col = pl.col(name)
    if dtype == pl.Date:
        return col.cast(pl.Datetime("us")).dt.epoch("us")
    if isinstance(dtype, pl.Datetime):
        return col.dt.epoch("us")
    if dtype == pl.Time:
        return col.to_physical() // 1000
    if isinstance(dtype, pl.Duration):
        return col.dt.total_microseconds()
    if dtype.is_integer() or dtype == pl.Float64:
        return col
    return col.cast(pl.Float64)


def _iso(value: int | float | None, dtype: pl.DataType) -> str | None:
    """A temporal min or max (µs) in ISO 8601; None for durations and out-of-range values."""
    if value is None or not dtype.is_temporal() or isinstance(dtype, pl.Duration):
        return None
    try:
        moment = _EPOCH + timedelta(microseconds=int(value))
    except (OverflowError, ValueError):
        return None
    if dtype == pl.Date:
        return moment.date().isoformat()
    if dtype == pl.Time:
        return moment.time().isoformat()
    if isinstance(dtype, pl.Datetime) and dtype.time_zone:
        return moment.replace(tzinfo=UTC).isoformat()
    return moment.isoformat()


def _cells(frame: pl.DataFrame) -> dict[str, Any]:
    """The single row of a one-row result by column name (list cells as Polars series)."""
    return {name: frame.get_column(name)[0] for name in frame.columns}


@dataclass(frozen=True)
class _Column:
    """One column being profiled, with the names of its result fields."""

    index: int
    name: str
    dtype: pl.DataType
    kind: Kind

    def key(self, stat: str) -> str:
        return f"{self.index}:{stat}"

    @property
    def is_float(self) -> bool:
        return self.kind == "numeric" and not self.dtype.is_integer()

    def valid(self) -> pl.Expr:
        """Non-NaN numbers (nulls still present; aggregations skip them)."""
        number = _as_number(self.name, self.dtype)
        return number.drop_nans() if self.is_float else number

    def hashed(self) -> pl.Expr:
        """The numbers as distinct counting sees them: 1 and 1.0 alike, so Int64 and Float64
        profiles of one feature merge; temporal values as exact integer microseconds."""
        number = _as_number(self.name, self.dtype)
        return number.cast(pl.Float64) if self.kind == "numeric" else number

    def distinct(self, hashes: pl.Series | None, nulls: int, k: int) -> DistinctSketch:
        """The distinct sketch from pass 1's smallest hashes, without the hash of null."""
        if hashes is None:
            return DistinctSketch(k=k)
        found = hashes.to_numpy()
        if nulls and self.kind in ("numeric", "datetime"):
            dtype = pl.Float64 if self.kind == "numeric" else pl.Int64
            null_hash = pl.Series([None], dtype=dtype).hash(seed=0)[0]
            found = found[found != null_hash]
        return DistinctSketch(found, k=k)


def _scalar_exprs(column: _Column, k: int) -> list[pl.Expr]:
    """The one-pass aggregates for ``column`` (all scalars, to run in a single select)."""
    exprs = [pl.col(column.name).null_count().alias(column.key("nulls"))]
    if column.kind in ("numeric", "datetime"):
        number, valid = _as_number(column.name, column.dtype), column.valid()
        nan = number.is_nan().sum() if column.is_float else pl.lit(0, dtype=pl.UInt32)
        exprs += [
            nan.alias(column.key("nan")),
            (number.count() - nan).alias(column.key("valid")),
            number.min().alias(column.key("min")),  # Polars' min and max skip NaN
            number.max().alias(column.key("max")),
            valid.mean().alias(column.key("mean")),
            valid.var().alias(column.key("var")),
            # nulls are hashed too (no filtered copy) and their hash removed afterwards
            column.hashed().hash(seed=0).unique().bottom_k(k + 1).implode().alias(column.key("h")),
        ]
    elif column.kind == "categorical" and not _countable(column.dtype):
        hashes = pl.col(column.name).drop_nulls().hash(seed=0).unique().bottom_k(k)
        exprs.append(hashes.implode().alias(column.key("h")))
    return exprs


def _countable(dtype: pl.DataType) -> bool:
    return dtype in (pl.String, pl.Boolean) or isinstance(dtype, pl.Categorical | pl.Enum)


def _category_query(frame: pl.DataFrame, column: _Column, k: int, top_k: int) -> pl.LazyFrame:
    """Counts per category: the ``top_k + 1`` most frequent (ties by value), hashes, total."""
    groups = (
        frame.lazy()
        .select(pl.col(column.name).alias("v"))
        .drop_nulls()
        .group_by("v")
        .agg(pl.len().alias("n"))
        .with_columns(pl.col("v").cast(pl.String))
    )
    top = pl.struct("v", "n").top_k_by(["n", "v"], k=top_k + 1, reverse=[False, True])
    return groups.select(
        top.implode().alias("top"),
        pl.col("v").hash(seed=0).bottom_k(k).implode().alias("h"),
        pl.col("n").sum().alias("total"),
    )


def _points_expr(column: _Column, valid: int, distinct: DistinctSketch, capacity: int) -> pl.Expr:
    """Sketch points for a numeric column: every distinct value with its count when few, else
    the sorted values at evenly spaced ranks.

    Both work on the raw column to avoid filtered copies: null and NaN groups are dropped from
    the (small) counts afterwards, and a sort puts NaN then nulls after every valid value.
    """
    values = _as_number(column.name, column.dtype).alias("v")
    if distinct.exact and distinct.hashes.size <= capacity:
        return values.value_counts(name="n").implode().alias(column.key("points"))
    positions, _, _ = evenly_spaced_ranks(valid, capacity)
    ranked = values.sort(nulls_last=True).gather(pl.Series(positions))
    return ranked.implode().alias(column.key("points"))


def _numeric_stats(
    column: _Column, row: Mapping[str, Any], points: pl.Series | None, capacity: int
) -> NumericStats:
    valid = int(row[column.key("valid")])
    low, high = row[column.key("min")], row[column.key("max")]
    if points is None or not valid:
        low = high = None
        sketch = QuantileSketch(capacity=capacity)
    elif points.dtype == pl.Struct:
        table = points.struct.unnest()
        values = table["v"].cast(pl.Float64).to_numpy()  # null → NaN
        keep = ~np.isnan(values)
        sketch = QuantileSketch(values[keep], table["n"].to_numpy()[keep], capacity=capacity)
    else:
        _, weights, error = evenly_spaced_ranks(valid, capacity)
        sketch = QuantileSketch(
            points.cast(pl.Float64).to_numpy(),
            weights,
            capacity=capacity,
            rank_error=error,
            min=float(low),
            max=float(high),
        )
    var = row[column.key("var")]
    return NumericStats(
        count=valid,
        nan_count=int(row[column.key("nan")]),
        min=low,
        max=high,
        mean=None if row[column.key("mean")] is None else float(row[column.key("mean")]),
        m2=float(var) * (valid - 1) if var is not None and valid > 1 else 0.0,
        sketch=sketch,
        min_iso=_iso(low, column.dtype),
        max_iso=_iso(high, column.dtype),
    )


def profile_frame(
    frame: pl.DataFrame | pl.LazyFrame,
    *,
    columns: list[str] | None = None,
    capacity: int = DEFAULT_CAPACITY,
    k: int = DEFAULT_K,
    top_k: int = DEFAULT_TOP_K,
) -> Profile:
    """Profile ``frame`` (all columns, or ``columns`` in the order given).

    ``capacity`` sets the quantile sketches' size (rank error about ``1/(2·capacity)``), ``k``
    the distinct sketches' (relative standard error about ``1/sqrt(k-2)``), and ``top_k`` how
    many categories are kept per column. A LazyFrame is collected first (only the needed
    columns); profile larger-than-memory data in slices and :func:`merge_profiles` them.
    """
    names = frame.collect_schema().names()
    if columns is not None:
        for name in columns:
            if name not in names:
                raise unknown_column(name, names, where="the frame")
        names = list(dict.fromkeys(columns))
        frame = frame.select(names)
    data = frame.collect() if isinstance(frame, pl.LazyFrame) else frame
    plan = [
        _Column(i, name, dtype, _kind(name, dtype))
        for i, (name, dtype) in enumerate(data.schema.items())
    ]
    if not plan:
        return Profile(data.height, {})
    # pass 1: every scalar aggregate (and the numeric hashes) in one parallel select
    row = _cells(data.lazy().select(e for c in plan for e in _scalar_exprs(c, k)).collect())
    distinct = {c.index: c.distinct(row.get(c.key("h")), row[c.key("nulls")], k) for c in plan}
    # pass 2: quantile points (sized by pass 1's counts) alongside the category group-bys
    exprs = [
        _points_expr(c, row[c.key("valid")], distinct[c.index], capacity)
        for c in plan
        if c.kind in ("numeric", "datetime") and row[c.key("valid")]
    ]
    counted = [c for c in plan if c.kind in ("categorical", "boolean") and _countable(c.dtype)]
    queries = [_category_query(data, c, k, top_k) for c in counted]
    results = pl.collect_all([data.lazy().select(exprs), *queries])
    points = _cells(results[0]) if exprs else {}
    groups = {c.index: _cells(found) for c, found in zip(counted, results[1:], strict=True)}

    profiles: dict[str, ColumnProfile] = {}
    for c in plan:
        nulls = int(row[c.key("nulls")])
        counts: CategoryCounts | None = None
        if c.index in groups:
            found = groups[c.index]
            distinct[c.index] = DistinctSketch(found["h"].to_numpy(), k=k)
            top = found["top"].struct.unnest()
            pairs = zip(top["v"].to_list(), top["n"].to_list(), strict=True)
            counts = CategoryCounts.from_ranked(pairs, total=found["total"] or 0, top_k=top_k)
        elif c.dtype == pl.Null:
            counts = CategoryCounts(top_k=top_k)
        numeric = c.kind in ("numeric", "datetime")
        stats = _numeric_stats(c, row, points.get(c.key("points")), capacity) if numeric else None
        profiles[c.name] = ColumnProfile(
            name=c.name,
            dtype=str(c.dtype),
            kind=c.kind,
            count=data.height - nulls,
            nulls=nulls,
            distinct_sketch=distinct[c.index],
            numeric=stats,
            categories=counts,
        )
    return Profile(data.height, profiles)
