"""Profiles and their sketches: every stated error bound is checked against the true data.

The core helper, :func:`assert_honest`, recomputes each statistic from the raw values (NumPy and
``collections.Counter``, not Polars) and checks the profile against it: exact counts, min and max;
mean and std to float tolerance; every quantile within the sketch's stated rank error; every
category (kept or dropped) within ``[estimate, estimate + freq_error]``. The property tests then
apply it to profiles built directly, merged in different orders, and merged from many chunks.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import json
import math
from collections import Counter
from fractions import Fraction
from typing import Any

import numpy as np
import orjson
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loopml.data.profile import ColumnProfile, NumericStats, Profile, merge_profiles
from loopml.data.profiling import profile_frame
from loopml.errors import DataError
from loopml.stats.categories import CategoryCounts
from loopml.stats.distinct import DistinctSketch
from loopml.stats.quantiles import QuantileSketch, evenly_spaced_ranks

SMALL = {"capacity": 16, "k": 8, "top_k": 3}
LEVELS = np.linspace(0.0, 1.0, 41)
PROPERTY = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- checking a profile against the data --------------------------------------------------------


def assert_sketch_honest(sketch: QuantileSketch, data: np.ndarray) -> None:
    """Every quantile and CDF value of ``sketch`` is within its stated rank error of ``data``."""
    values = np.sort(data[~np.isnan(data)])
    n = values.size
    assert sketch.n == n
    if n == 0:
        assert np.isnan(sketch.quantiles([0.5])).all()
        return
    slack = sketch.rank_error
    got = sketch.quantiles(LEVELS)
    for q, value in zip(LEVELS, got, strict=True):
        target = Fraction(float(q * n))  # the rank asked for, as the sketch computes it; then exact
        low = values[min(max(math.ceil(target - slack), 1), n) - 1]
        high = values[min(max(math.ceil(target + slack), 1), n) - 1]
        assert low <= value <= high, (q, value, low, high, sketch)
    assert got[0] == values[0] and got[-1] == values[-1]
    with np.errstate(invalid="ignore", over="ignore"):  # -inf + inf, 1e308 + 1e308
        points = np.unique(np.r_[values, (values[:-1] + values[1:]) / 2])
    points = points[np.isfinite(points)]
    true_cdf = np.searchsorted(values, points, side="right") / n
    assert np.all(np.abs(sketch.cdf(points) - true_cdf) <= sketch.error + 1e-12)


def _close(a: float | None, b: float | None, scale: float) -> bool:
    if a is None or b is None:
        return a is b
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return math.isclose(a, b, rel_tol=1e-7, abs_tol=1e-9 * max(scale, 1.0))


def assert_honest(profile: Profile, frame: pl.DataFrame) -> None:
    """``profile`` describes ``frame`` within every stated bound."""
    assert profile.n_rows == frame.height
    assert list(profile.columns) == frame.columns
    for name in frame.columns:
        column, values = profile[name], frame[name].to_list()
        present = [v for v in values if v is not None]
        assert (column.count, column.nulls) == (len(present), len(values) - len(present))
        if column.kind == "numeric":
            assert column.numeric is not None
            data = np.asarray(present, dtype=np.float64)
            finite = data[~np.isnan(data)]
            stats = column.numeric
            assert (stats.count, stats.nan_count) == (finite.size, data.size - finite.size)
            if finite.size:
                assert stats.min == min(v for v in present if v == v)
                assert stats.max == max(v for v in present if v == v)
                scale = float(np.max(np.abs(finite[np.isfinite(finite)]), initial=1.0))
                with np.errstate(invalid="ignore", over="ignore"):
                    assert _close(stats.mean, float(np.mean(finite)), scale)
                    if finite.size > 1:
                        std = float(np.std(finite, ddof=1))
                        assert _close(stats.std, std, scale), (stats.std, std)
            assert_sketch_honest(stats.sketch, finite)
        else:
            assert column.categories is not None
            truth = Counter(str(v).lower() if isinstance(v, bool) else v for v in present)
            counts = column.categories
            assert counts.total == len(present)
            assert len(counts.counts) <= counts.top_k
            for value, count in truth.items():
                low, high = counts.bounds(value)
                assert low <= count <= high, (value, count, counts)
            assert set(counts.counts) <= set(truth)
        distinct = (
            len(set(present))
            if column.kind != "numeric"
            else len({("nan" if v != v else float(v)) for v in present})
        )
        sketch = column.distinct_sketch
        if sketch.exact:
            assert column.distinct == distinct
        else:
            assert distinct >= sketch.k


def assert_same_exact_parts(a: Profile, b: Profile) -> None:
    """The parts of a profile that merge exactly agree."""
    assert a.n_rows == b.n_rows
    for name in a.columns:
        x, y = a[name], b[name]
        assert (x.kind, x.count, x.nulls) == (y.kind, y.count, y.nulls)
        assert x.distinct_sketch == y.distinct_sketch  # bottom-k of a union is exact
        if x.numeric is not None and y.numeric is not None:
            assert (x.numeric.count, x.numeric.nan_count) == (y.numeric.count, y.numeric.nan_count)
            assert (x.numeric.min, x.numeric.max) == (y.numeric.min, y.numeric.max)
        if x.categories is not None and y.categories is not None:
            assert x.categories.total == y.categories.total


# --- strategies ---------------------------------------------------------------------------------

_special = st.sampled_from([math.nan, math.inf, -math.inf])
_floats = st.one_of(st.none(), st.floats(-1e6, 1e6), st.integers(-3, 3).map(float), _special)
_ints = st.one_of(st.none(), st.integers(-50, 50), st.integers(-(2**40), 2**40))
_words = st.one_of(st.none(), st.sampled_from(["a", "b", "c", "d", "e", "é", "日本", "🙂", ""]))
_flags = st.one_of(st.none(), st.booleans())


@st.composite
def frames(draw: st.DrawFn, min_rows: int = 0, max_rows: int = 60) -> pl.DataFrame:
    n = draw(st.integers(min_rows, max_rows))
    return pl.DataFrame(
        {
            "x": pl.Series([draw(_floats) for _ in range(n)], dtype=pl.Float64),
            "i": pl.Series([draw(_ints) for _ in range(n)], dtype=pl.Int64),
            "s": pl.Series([draw(_words) for _ in range(n)], dtype=pl.String),
            "b": pl.Series([draw(_flags) for _ in range(n)], dtype=pl.Boolean),
        }
    )


def _split(frame: pl.DataFrame, cuts: list[int]) -> list[pl.DataFrame]:
    bounds = [0, *sorted(min(c, frame.height) for c in cuts), frame.height]
    return [frame[lo:hi] for lo, hi in itertools.pairwise(bounds)]


# --- property tests -----------------------------------------------------------------------------


@PROPERTY
@given(frames(), st.integers(0, 60))
def test_merge_of_parts_matches_profile_of_union(frame: pl.DataFrame, cut: int) -> None:
    a, b = _split(frame, [cut])
    whole = profile_frame(frame, **SMALL)
    merged = profile_frame(a, **SMALL).merge(profile_frame(b, **SMALL))
    assert_honest(whole, frame)
    assert_honest(merged, frame)
    assert_same_exact_parts(whole, merged)


@PROPERTY
@given(frames(), st.integers(0, 60), st.integers(0, 60))
def test_merge_is_associative_and_commutative_within_error(
    frame: pl.DataFrame, c1: int, c2: int
) -> None:
    pa, pb, pc = (profile_frame(part, **SMALL) for part in _split(frame, [c1, c2]))
    orders = [pa.merge(pb).merge(pc), pa.merge(pb.merge(pc)), pc.merge(pa).merge(pb)]
    for merged in orders:
        assert_honest(merged, frame)
        assert_same_exact_parts(merged, orders[0])


@PROPERTY
@given(
    st.lists(st.floats(-1e3, 1e3) | st.integers(-5, 5).map(float), max_size=400),
    st.integers(2, 40),
)
def test_quantile_sketch_states_its_rank_error(values: list[float], capacity: int) -> None:
    data = np.asarray(values, dtype=np.float64)
    sketch = QuantileSketch.from_values(data, capacity=capacity)
    assert_sketch_honest(sketch, data)
    assert len(sketch.values) <= capacity
    if len(set(values)) <= capacity:
        assert sketch.rank_error == 0
    half = len(values) // 2
    a = QuantileSketch.from_values(data[:half], capacity=capacity)
    b = QuantileSketch.from_values(data[half:], capacity=capacity)
    merged = a.merge(b)
    assert_sketch_honest(merged, data)
    # the merge adds at most one compression's error, n/capacity
    assert merged.rank_error <= a.rank_error + b.rank_error + len(values) // capacity


def test_many_small_merges_keep_the_stated_error_honest() -> None:
    rng = np.random.default_rng(7)
    frame = pl.DataFrame(
        {
            "x": rng.lognormal(size=20_000),
            "i": rng.integers(0, 5_000, 20_000),
            "s": [f"c{v}" for v in rng.zipf(1.3, 20_000) % 500],
        }
    )
    options = {"capacity": 64, "k": 64, "top_k": 20}
    parts = [profile_frame(chunk, **options) for chunk in frame.iter_slices(1_000)]
    assert len(parts) == 20
    tree = merge_profiles(parts)
    chain = functools.reduce(Profile.merge, parts)
    for merged in (tree, chain):
        assert_honest(merged, frame)
        assert_same_exact_parts(merged, profile_frame(frame, **options))
    fresh = parts[0]["x"].numeric.sketch.error  # type: ignore[union-attr]
    error = tree["x"].numeric.sketch.error  # type: ignore[union-attr]
    # a balanced tree compresses once per level (5 levels for 20 parts), each level adding
    # at most 1/capacity to the bound (about 1/(2·capacity) in practice)
    assert fresh < error <= fresh + 5 / 64
    assert tree["s"].categories.freq_error > 0  # type: ignore[union-attr]


def test_distinct_estimate_is_within_its_standard_error() -> None:
    a = pl.DataFrame({"v": np.arange(0, 150_000)})
    b = pl.DataFrame({"v": np.arange(100_000, 250_000)})
    pa, pb, whole = (profile_frame(f) for f in (a, b, pl.concat([a, b])))
    merged = pa.merge(pb)
    assert merged["v"].distinct_sketch == whole["v"].distinct_sketch
    sketch = merged["v"].distinct_sketch
    assert not sketch.exact and sketch.rse == pytest.approx(1 / math.sqrt(1022))
    assert abs(sketch.estimate / 250_000 - 1) <= 4 * sketch.rse
    small = profile_frame(pl.DataFrame({"v": np.arange(1_023) % 1_000}))["v"]
    assert small.distinct_sketch.exact and small.distinct == 1_000


# --- the profile of a realistic frame -----------------------------------------------------------


def test_profile_of_flights_sample_is_honest() -> None:
    from loopml import datasets

    path = next(iter(datasets.__path__)) + "/flights.parquet"
    frame = pl.read_parquet(path, columns=["distance", "temp", "humid", "carrier", "tailnum"])
    frame = frame.head(30_000)
    profile = profile_frame(frame, capacity=256, top_k=50)
    assert_honest(profile, frame)
    assert profile["humid"].numeric.sketch.rank_error > 0  # type: ignore[union-attr]
    assert profile["tailnum"].categories.freq_error > 0  # type: ignore[union-attr]
    assert profile_frame(frame.lazy(), capacity=256, top_k=50) == profile


# --- JSON ---------------------------------------------------------------------------------------


@PROPERTY
@given(frames())
def test_json_round_trip_is_exact(frame: pl.DataFrame) -> None:
    profile = profile_frame(frame, **SMALL)
    document = profile.to_dict()
    text = json.dumps(document, allow_nan=False)  # strictly valid JSON: no NaN/Infinity tokens
    assert Profile.from_dict(json.loads(text)) == profile
    assert Profile.from_dict(orjson.loads(orjson.dumps(document))) == profile
    assert Profile.from_dict(json.loads(text)).to_dict() == document


# --- edge cases ---------------------------------------------------------------------------------


def _round_trip(profile: Profile) -> Profile:
    return Profile.from_dict(orjson.loads(orjson.dumps(profile.to_dict())))


def test_empty_frames() -> None:
    empty = pl.DataFrame(schema={"x": pl.Float64, "s": pl.String})
    profile = profile_frame(empty)
    assert profile.n_rows == 0 and profile["x"].missing_fraction == 0.0
    stats = profile["x"].numeric
    assert stats is not None and stats.count == 0 and stats.min is None and stats.std is None
    assert np.isnan(stats.sketch.quantiles([0.5])).all() and np.isnan(stats.sketch.cdf([0.0])).all()
    assert stats.sketch.error == 0.0
    assert profile["s"].categories == CategoryCounts()
    assert _round_trip(profile) == profile
    full = profile_frame(pl.DataFrame({"x": [1.0, 2.0], "s": ["a", "b"]}))
    assert profile.merge(full) == full.merge(profile)
    assert profile.merge(full)["x"].numeric == full["x"].numeric
    no_columns = profile_frame(pl.DataFrame())
    assert no_columns == Profile(0, {}) and _round_trip(no_columns) == no_columns


def test_all_null_columns_merge_with_any_kind() -> None:
    nulls = pl.DataFrame(
        {"x": pl.Series([None, None], dtype=pl.Float64), "n": [None, None], "s": [None, None]}
    )
    profile = profile_frame(nulls)
    assert profile["x"].kind == "numeric" and profile["n"].kind == "categorical"
    assert profile["x"].missing_fraction == 1.0 and profile["x"].distinct == 0
    assert profile["x"].numeric.count == 0  # type: ignore[union-attr]
    values = profile_frame(pl.DataFrame({"x": ["a", "b"], "n": [1.5, 2.5], "s": ["c", None]}))
    merged = profile.merge(values)
    assert merged["x"].kind == "categorical" and merged["x"].nulls == 2
    assert merged["n"].dtype == "Float64" and merged["n"].count == 2
    assert values.merge(profile)["n"] == merged["n"]
    assert merged["s"].dtype == "String" and merged["s"].nulls == 3


def test_single_value() -> None:
    stats = profile_frame(pl.DataFrame({"x": [3.5]}))["x"].numeric
    assert stats is not None
    assert (stats.min, stats.max, stats.mean) == (3.5, 3.5, 3.5)
    assert stats.std is None and stats.variance is None
    assert stats.sketch.quantiles([0, 0.5, 1]).tolist() == [3.5, 3.5, 3.5]
    assert stats.sketch.cdf([3.4, 3.5]).tolist() == [0.0, 1.0]


def test_nan_and_infinities() -> None:
    frame = pl.DataFrame({"x": [1.0, math.nan, math.inf, -math.inf, None, math.nan, 2.0]})
    profile = profile_frame(frame)
    column = profile["x"]
    stats = column.numeric
    assert stats is not None
    assert (column.count, column.nulls, stats.count, stats.nan_count) == (6, 1, 4, 2)
    assert (stats.min, stats.max) == (-math.inf, math.inf)
    assert stats.mean is not None and math.isnan(stats.mean)
    assert stats.sketch.quantiles([0, 0.5, 1]).tolist() == [-math.inf, 1.0, math.inf]
    assert column.distinct == 5  # NaN is one distinct value, as in Polars' n_unique
    assert _round_trip(profile) == profile
    only_nan = profile_frame(pl.DataFrame({"x": [math.nan, None]}))["x"].numeric
    assert only_nan is not None and (only_nan.min, only_nan.max, only_nan.mean) == (None,) * 3
    assert only_nan.nan_count == 1 and only_nan.count == 0
    only_inf = profile_frame(pl.DataFrame({"x": [math.inf, math.inf]}))
    merged = only_inf.merge(only_inf)["x"].numeric
    assert merged is not None and merged.mean == math.inf
    mixed = only_inf.merge(profile_frame(pl.DataFrame({"x": [-math.inf, 0.0]})))["x"].numeric
    assert mixed is not None and mixed.mean is not None and math.isnan(mixed.mean)


def test_integer_extremes_do_not_overflow() -> None:
    low, high = -(2**63), 2**63 - 1
    frame = pl.DataFrame({"v": pl.Series([low, high, high, 0], dtype=pl.Int64)})
    profile = profile_frame(frame)
    stats = profile["v"].numeric
    assert stats is not None and (stats.min, stats.max) == (low, high)
    assert stats.mean == pytest.approx((low + 2 * high) / 4, rel=1e-12)
    halves = profile_frame(frame[:2]).merge(profile_frame(frame[2:]))["v"].numeric
    assert halves is not None and halves.mean == pytest.approx(stats.mean, rel=1e-12)
    assert halves.std == pytest.approx(stats.std, rel=1e-9)
    assert _round_trip(profile)["v"].numeric.min == low  # type: ignore[union-attr]
    unsigned = profile_frame(pl.DataFrame({"u": pl.Series([2**64 - 1, 0], dtype=pl.UInt64)}))
    assert unsigned["u"].numeric.max == 2**64 - 1  # type: ignore[union-attr]
    assert _round_trip(unsigned) == unsigned


def test_temporal_columns_are_microseconds_with_iso_extremes() -> None:
    moments = [dt.datetime(2024, 1, 1, 12, 30), dt.datetime(2023, 6, 1), None]
    frame = pl.DataFrame(
        {
            "us": pl.Series(moments, dtype=pl.Datetime("us")),
            "ns": pl.Series(moments, dtype=pl.Datetime("ns")),
            "utc": pl.Series(moments, dtype=pl.Datetime("ms", "UTC")),
            "day": [dt.date(2024, 2, 29), dt.date(1969, 12, 31), None],
            "time": [dt.time(23, 59, 59, 5), dt.time(0, 0), None],
            "wait": [dt.timedelta(seconds=90), dt.timedelta(days=-1), None],
        }
    )
    profile = profile_frame(frame)
    assert {c.kind for c in profile} == {"datetime"}
    us, ns = profile["us"], profile["ns"]
    assert us.numeric == ns.numeric and us.distinct_sketch == ns.distinct_sketch
    assert us.merge(ns).count == 4  # different units merge
    stats = us.numeric
    assert stats is not None
    assert stats.min == int(dt.datetime(2023, 6, 1, tzinfo=dt.UTC).timestamp() * 1_000_000)
    assert (stats.min_iso, stats.max_iso) == ("2023-06-01T00:00:00", "2024-01-01T12:30:00")
    assert profile["utc"].numeric.max_iso == "2024-01-01T12:30:00+00:00"  # type: ignore[union-attr]
    day = profile["day"].numeric
    assert day is not None and (day.min_iso, day.max_iso) == ("1969-12-31", "2024-02-29")
    assert day.min == -86_400_000_000
    time = profile["time"].numeric
    assert time is not None and (time.min_iso, time.max_iso) == ("00:00:00", "23:59:59.000005")
    wait = profile["wait"].numeric
    assert wait is not None and (wait.min, wait.max) == (-86_400_000_000, 90_000_000)
    assert wait.max_iso is None
    merged = profile_frame(frame[:1]).merge(profile_frame(frame[1:]))
    assert merged["day"].numeric.min_iso == "1969-12-31"  # type: ignore[union-attr]
    assert merged["day"].numeric.max_iso == "2024-02-29"  # type: ignore[union-attr]
    assert _round_trip(profile) == profile


def test_other_numeric_dtypes_and_far_dates() -> None:
    frame = pl.DataFrame(
        {
            "f32": pl.Series([1.5, None, 2.5], dtype=pl.Float32),
            "dec": pl.Series(["1.25", "2.50", None]).cast(pl.Decimal(10, 2)),
            "far": pl.Series([2**62, 0, None]).cast(pl.Datetime("us")),
        }
    )
    profile = profile_frame(frame)
    assert profile["f32"].numeric.mean == 2.0  # type: ignore[union-attr]
    assert profile["dec"].numeric.max == 2.5 and profile["dec"].kind == "numeric"  # type: ignore[union-attr]
    far = profile["far"].numeric
    assert far is not None and far.max == 2**62 and far.max_iso is None  # beyond year 9999
    assert far.min_iso == "1970-01-01T00:00:00"


def test_booleans_are_categories() -> None:
    profile = profile_frame(pl.DataFrame({"b": [True, False, True, None]}))
    column = profile["b"]
    assert column.kind == "boolean" and column.numeric is None
    assert column.categories == CategoryCounts({"true": 2, "false": 1})
    assert column.categories.frequencies() == {"true": 2 / 3, "false": 1 / 3}


def test_categorical_and_enum_match_strings() -> None:
    values = ["ü", "b", "ü", None, "🙂", "b", "ü"]
    frame = pl.DataFrame(
        {
            "s": pl.Series(values, dtype=pl.String),
            "c": pl.Series(values, dtype=pl.Categorical),
            "e": pl.Series(values, dtype=pl.Enum(["🙂", "b", "ü", "unused"])),
        }
    )
    profile = profile_frame(frame, top_k=2)
    for name in ("c", "e"):
        assert profile[name].kind == "categorical"
        assert profile[name].categories == profile["s"].categories
        assert profile[name].distinct_sketch == profile["s"].distinct_sketch
    counts = profile["s"].categories
    assert counts == CategoryCounts({"ü": 3, "b": 2}, other_count=1, freq_error=1, top_k=2)
    assert counts.bounds("🙂") == (0, 1) and counts.bounds("ü") == (3, 4)
    assert _round_trip(profile) == profile


def test_category_ties_break_by_value_and_truncation_error_accumulates() -> None:
    a = CategoryCounts.from_values(["z", "y", "x", "x"], top_k=2)
    assert list(a.counts.items()) == [("x", 2), ("y", 1)] and a.freq_error == 1
    b = CategoryCounts.from_values(["z", "z", "w"], top_k=2)
    merged = a.merge(b)
    assert merged.counts == {"z": 2, "x": 2} and merged.other_count == 3
    assert merged.freq_error == 1 + 0 + 1  # both errors plus the largest dropped estimate
    truth = Counter(["z", "y", "x", "x", "z", "z", "w"])
    for value, count in truth.items():
        low, high = merged.bounds(value)
        assert low <= count <= high
    assert CategoryCounts().frequencies() == {}


def test_category_ties_at_the_cut_keep_the_smallest_values() -> None:
    frame = pl.DataFrame({"s": ["c", "b", "a", "c", "a", "b", "d"]})
    counts = profile_frame(frame, top_k=2)["s"].categories
    assert counts == CategoryCounts({"a": 2, "b": 2}, other_count=3, freq_error=2, top_k=2)
    assert profile_frame(frame.reverse(), top_k=2)["s"].categories == counts


def test_int_and_float_profiles_of_one_feature_merge() -> None:
    ints = profile_frame(pl.DataFrame({"v": [1, 2, 3]}))
    floats = profile_frame(pl.DataFrame({"v": [1.0, 2.5]}))
    merged = ints.merge(floats)
    assert merged["v"].dtype == "Float64" and floats.merge(ints)["v"].dtype == "Float64"
    assert merged["v"].distinct == 4  # 1 and 1.0 hash alike
    assert merged["v"].numeric.max == 3  # type: ignore[union-attr]


# --- errors -------------------------------------------------------------------------------------


def test_unknown_columns_suggest_close_matches() -> None:
    frame = pl.DataFrame({"dep_delay": [1.0], "origin": ["JFK"]})
    profile = profile_frame(frame)
    with pytest.raises(DataError, match="did you mean 'dep_delay'"):
        profile["dep_dela"]
    with pytest.raises(DataError, match=r"unknown column 'orgin'.*did you mean 'origin'"):
        profile_frame(frame, columns=["orgin"])
    with pytest.raises(DataError, match="unknown column"):
        profile_frame(frame.lazy(), columns=["nope"])
    picked = profile_frame(frame.lazy(), columns=["origin", "dep_delay", "origin"])
    assert list(picked.columns) == ["origin", "dep_delay"] and len(picked) == 2


def test_merging_mismatched_profiles_names_the_problem() -> None:
    a = profile_frame(pl.DataFrame({"x": [1.0], "y": ["a"]}))
    b = profile_frame(pl.DataFrame({"x": [1.0], "z": ["a"]}))
    with pytest.raises(DataError, match="only in the first: y; only in the second: z"):
        a.merge(b)
    c = profile_frame(pl.DataFrame({"x": ["1"], "y": ["a"]}))
    with pytest.raises(DataError, match=r"column 'x'.*numeric.*categorical"):
        a.merge(c)
    with pytest.raises(DataError, match="no profiles"):
        merge_profiles([])
    assert merge_profiles([a]) is a


def test_malformed_documents_and_unsupported_dtypes() -> None:
    with pytest.raises(DataError, match="malformed profile"):
        Profile.from_dict({"n_rows": 1})
    with pytest.raises(DataError, match="unsupported format"):
        Profile.from_dict({"format": "other/9", "n_rows": 0, "columns": []})
    document = profile_frame(pl.DataFrame({"x": [1.0, 2.0]})).to_dict()
    document["columns"][0]["numeric"]["sketch"]["n"] = 5
    with pytest.raises(DataError, match="weights sum to 2"):
        Profile.from_dict(document)
    with pytest.raises(DataError, match="dtype Object"):
        profile_frame(pl.DataFrame({"o": pl.Series([object()], dtype=pl.Object)}))


def test_nested_columns_get_counts_and_distinct_only() -> None:
    profile = profile_frame(pl.DataFrame({"l": [[1], [2], None, [1]]}))
    column = profile["l"]
    assert (column.kind, column.count, column.distinct) == ("categorical", 3, 2)
    assert column.categories is None and column.numeric is None
    assert column.merge(column).categories is None
    assert _round_trip(profile) == profile


# --- the sketches on their own ------------------------------------------------------------------


def test_quantile_sketch_contract() -> None:
    sketch = QuantileSketch([3.0, 1.0, 1.0, 2.0], [1, 2, 0, 1])
    assert sketch.values.tolist() == [1.0, 2.0, 3.0] and sketch.weights.tolist() == [2, 1, 1]
    assert sketch.n == 4 and sketch.error == 0.0 and "n=4" in repr(sketch)
    assert sketch.cdf([0.5, 1.0, 2.5, math.nan, 9.0])[:3].tolist() == [0.0, 0.5, 0.75]
    assert np.isnan(sketch.cdf([math.nan])).all()
    assert sketch.quantiles(0.5) == 1.0 and sketch.quantiles([0.51]).tolist() == [2.0]
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        sketch.quantiles([1.5])
    with pytest.raises(ValueError, match="capacity"):
        QuantileSketch(capacity=1)
    with pytest.raises(ValueError, match="weights"):
        QuantileSketch([1.0], [1, 2])
    with pytest.raises(ValueError, match="non-NaN"):
        QuantileSketch([math.nan])
    assert sketch != "sketch" and sketch == QuantileSketch.from_dict(sketch.to_dict())
    with pytest.raises(TypeError):
        hash(sketch)


def test_compressed_sketches_state_their_error() -> None:
    data = np.random.default_rng(3).normal(size=5_000)
    sketch = QuantileSketch.from_values(data, capacity=100)
    assert sketch.rank_error == 25 and len(sketch.values) == 100  # floor(ceil(5000/100) / 2)
    assert_sketch_honest(sketch, data)
    # weights too large for exact int64 grouping still compress within the bound
    huge = QuantileSketch(np.arange(50.0), np.full(50, 2**55), capacity=8)
    assert len(huge.values) <= 8 and huge.rank_error <= huge.n // 8


def test_evenly_spaced_ranks_cover_every_value_once() -> None:
    positions, weights, error = evenly_spaced_ranks(10, 4)
    assert weights.sum() == 10 and error == 1 and positions.tolist() == [0, 3, 5, 8]
    positions, weights, error = evenly_spaced_ranks(3, 4)
    assert positions.tolist() == [0, 1, 2] and weights.tolist() == [1, 1, 1] and error == 0


def test_distinct_sketch_contract() -> None:
    series = pl.Series([1, 2, 2, None, 3])
    sketch = DistinctSketch.from_series(series, k=4)
    assert sketch.exact and sketch.estimate == 3 and sketch.rse == 0 and "exact" in repr(sketch)
    assert DistinctSketch.from_dict(json.loads(json.dumps(sketch.to_dict()))) == sketch
    assert all(len(h) == 16 for h in sketch.to_dict()["hashes"])
    big = DistinctSketch.from_series(pl.Series(range(1_000)), k=16)
    assert not big.exact and "rse" in repr(big) and big.hashes.size == 16
    assert big.merge(sketch).k == 4 and sketch != "sketch"
    with pytest.raises(ValueError, match="k must be"):
        DistinctSketch(k=2)


def test_column_profile_dict_has_readable_estimates() -> None:
    column = profile_frame(pl.DataFrame({"x": [1, 2, 2]}))["x"]
    document: dict[str, Any] = column.to_dict()
    assert document["distinct"] == 2 and document["numeric"]["min"] == 1
    assert ColumnProfile.from_dict(document) == column
    stats = column.numeric
    assert stats is not None and NumericStats.from_dict(stats.to_dict()) == stats
    assert stats != "stats"
