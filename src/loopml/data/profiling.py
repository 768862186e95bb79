"""Profiling a Polars frame: :func:`profile_frame` builds a :class:`~loopml.data.profile.Profile`.

Speed: two parallel passes over the frame. Pass 1 is one Polars ``select`` of every scalar
aggregate plus the numeric hashes for the distinct sketch. Pass 2 (through ``collect_all``) runs
one group-by per categorical column next to one ``select`` that fetches each numeric column's
sketch points: ``value_counts`` when pass 1 found at most ``capacity`` distinct values, else a
sort gathering only the ``capacity`` evenly spaced ranks. Nothing but those points reaches NumPy.
Larger-than-memory data is profiled by slices and combined with
:func:`~loopml.data.profile.merge_profiles`.

What each statistic means (kinds, temporal values in microseconds, nulls and NaN) is described
with the data model, in :mod:`loopml.data.profile`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from loopml.data.profile import ColumnProfile, Kind, NumericStats, Profile
from loopml.errors import DataError, unknown_column
from loopml.stats.categories import DEFAULT_TOP_K, CategoryCounts
from loopml.stats.distinct import DEFAULT_K, DistinctSketch
from loopml.stats.quantiles import DEFAULT_CAPACITY, QuantileSketch, evenly_spaced_ranks

_EPOCH = datetime(1970, 1, 1)


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
    columns); profile larger-than-memory data in slices and
    :func:`~loopml.data.profile.merge_profiles` them.
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
