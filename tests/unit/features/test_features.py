"""The feature pipeline: batch/record identity (property-based), real flights data, persistence.

Real data is the bundled flights table: fit on 20,000 January–March flights (the session's
``flights_sample``), transform April. Edge cases use a small synthetic frame holding every kind
and awkward dtype (booleans and floats as categories, a Date and a zoned Datetime column, text,
an all-missing column).

The identity tests compare three paths on the same record: ``transform_record(r)``, the row of
``transform_records([..., r, ...])`` and ``transform(one_row_frame(r, schema))`` — see
:func:`one_row_frame` for how that frame is typed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import lightgbm as lgb
import numpy as np
import orjson
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
from sklearn.metrics import roc_auc_score

from loopml.errors import DataError, FeatureError, LoopmlError, NotFittedError
from loopml.features import FeaturePipeline
from loopml.spec import Features

FLIGHTS = Features(
    numeric=[
        "distance", "temp", "dewp", "humid", "wind_dir", "wind_speed", "wind_gust", "precip",
        "pressure", "visib", "plane_year", "engines", "seats", "hour", "minute", "day_of_week",
        "month", "day",
    ],
    categorical=["carrier", "origin", "dest", "tailnum", "plane_type"],
    datetime=["scheduled_departure"],
)  # fmt: skip
SYNTHETIC = Features(
    numeric=["amount", "flag", "count", "empty"],
    categorical=["color", "active", "size", "code"],
    datetime=["day", "at"],
    text=["note"],
)
WORDS = ["storm", "delay", "crew", "gate", "snow", "on", "time", "late", "fog", "de-icing"]


def one_row_frame(record: Mapping[str, Any], schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    """The frame a batch caller would build from one record, typed like the training data.

    A column takes the training dtype when the record's value is missing (an absent key or
    None) or is a Python type that dtype holds (an int for Int64, an int or float for Float64,
    a str for String, a bool for Boolean, a naive datetime for a naive Datetime, a date for
    Date). Any other value gets the dtype Polars infers for it alone: a numeric string makes a
    String column, NaN in an integer column a Float64 column, a zoned datetime a zoned Datetime
    column, an int beyond Int8 an Int64 column. The batch path accepts all of these, so the
    comparison checks the batch path's handling of mistyped columns as well as the record path.
    """
    columns = []
    for name, dtype in schema.items():
        value = record.get(name)
        column = None
        if value is None or _fits(value, dtype):
            try:
                column = pl.Series(name, [value], dtype=dtype)
            except (TypeError, OverflowError, pl.exceptions.PolarsError):
                column = None  # out of the dtype's range (e.g. 362880 in Int8): infer
        columns.append(pl.Series(name, [value]) if column is None else column)
    return pl.DataFrame(columns)


def _fits(value: Any, dtype: pl.DataType) -> bool:
    if isinstance(value, bool):
        return dtype == pl.Boolean
    if isinstance(value, int):
        return dtype.is_integer() or dtype.is_float()
    if isinstance(value, float):
        return dtype.is_float()
    if isinstance(value, str):
        return dtype == pl.String
    if isinstance(value, datetime):
        return isinstance(dtype, pl.Datetime) and (value.tzinfo is None) == (
            dtype.time_zone is None
        )
    if isinstance(value, date):
        return dtype == pl.Date
    return False


def assert_same(a: np.ndarray, b: np.ndarray) -> None:
    assert a.shape == b.shape and a.dtype == b.dtype == np.float64
    assert np.array_equal(a, b, equal_nan=True), np.flatnonzero(~((a == b) | np.isnan(a)))


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def train(flights_sample: pl.DataFrame) -> pl.DataFrame:
    return flights_sample


@pytest.fixture(scope="module")
def april(flights: pl.DataFrame) -> pl.DataFrame:
    return flights.filter(pl.col("month") == 4)


@pytest.fixture(scope="module")
def pipeline(train: pl.DataFrame) -> FeaturePipeline:
    return FeaturePipeline(FLIGHTS).fit(train)


@pytest.fixture(scope="module")
def flight_rows(train: pl.DataFrame, april: pl.DataFrame) -> list[dict[str, Any]]:
    columns = FLIGHTS.all
    return [*train.select(columns).head(300).rows(named=True), *april.head(300).rows(named=True)]


def synthetic_frame(n: int = 400, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    holes = (rng.random(n) < 0.1).nonzero()[0]
    start = datetime(2024, 3, 1, 8, 30)
    return pl.DataFrame(
        {
            "amount": pl.Series(rng.normal(50, 10, n)).scatter(holes, None),
            "flag": rng.random(n) < 0.3,
            "count": pl.Series(rng.poisson(3, n)).scatter(holes, None),
            "empty": pl.Series([None] * n, dtype=pl.Float64),
            "color": pl.Series(rng.choice(["red", "blue", "vert"], n)).scatter(holes, None),
            "active": rng.random(n) < 0.5,
            "size": rng.choice([0.5, 1.0, 2.0, 1e20, -3.25], n),
            "code": rng.choice([100, 200, 300, 4000], n),
            "day": [date(2024, 1, 1) + timedelta(days=int(d)) for d in rng.integers(0, 365, n)],
            "at": pl.Series(
                [start + timedelta(minutes=int(m)) for m in rng.integers(0, 200_000, n)]
            ).dt.replace_time_zone("UTC").dt.convert_time_zone("Europe/Paris"),
            "note": [
                None if g else " ".join(rng.choice(WORDS, rng.integers(0, 6)))
                for g in rng.random(n) < 0.15
            ],
        }
    )  # fmt: skip


@pytest.fixture(scope="module")
def synthetic() -> pl.DataFrame:
    return synthetic_frame()


@pytest.fixture(scope="module")
def synthetic_pipeline(synthetic: pl.DataFrame) -> FeaturePipeline:
    return FeaturePipeline(SYNTHETIC, text_features=32).fit(synthetic)


# -- record strategies -------------------------------------------------------------------------

offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
moments = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2035, 12, 31))


def numeric_value(value: Any) -> st.SearchStrategy[Any]:
    as_text = st.just(value).map(repr) if value is not None else st.just("12.5")
    return st.one_of(
        st.just(value),
        st.sampled_from([None, math.nan, math.inf, -math.inf, "", "  ", True, False]),
        as_text,
        as_text.map(lambda s: f" {s}\t"),
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(-(10**6), 10**6),
    )


def category_value(value: Any) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.just(value),
        st.sampled_from([None, math.nan, True, False, "true", "", "1", 1, 1.0, 2, 0.5, 1e20]),
        st.text(max_size=12),
        st.integers(-1000, 5000),
        st.floats(allow_nan=True, allow_infinity=True),
    )


def datetime_value(value: Any) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.just(value),
        st.sampled_from([None, "", math.nan]),
        moments,
        moments.map(datetime.isoformat),
        moments.map(lambda m: m.isoformat(sep=" ", timespec="minutes")),
        moments.map(lambda m: m.strftime("%Y-%m-%dT%H:%M:%SZ")),
        st.builds(lambda m, tz: m.replace(tzinfo=tz), moments, offsets),
        st.builds(lambda m, tz: m.replace(tzinfo=tz).isoformat(), moments, offsets),
        st.dates(min_value=date(1990, 1, 1), max_value=date(2035, 12, 31)),
        st.dates(min_value=date(1990, 1, 1), max_value=date(2035, 12, 31)).map(date.isoformat),
    )


def text_value(value: Any) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.just(value),
        st.just(None),
        st.text(max_size=40),
        st.lists(st.sampled_from(WORDS), max_size=8).map(" ".join),
    )


VALUES = {
    "numeric": numeric_value,
    "categorical": category_value,
    "datetime": datetime_value,
    "text": text_value,
}


def mutate(data: st.DataObject, row: dict[str, Any], features: Features) -> dict[str, Any]:
    """A copy of ``row`` with some fields replaced by awkward values and some keys dropped."""
    record = dict(row)
    for kind, columns in features.by_kind().items():
        for column in columns:
            action = data.draw(st.sampled_from(["keep", "keep", "replace", "drop"]))
            if action == "drop":
                record.pop(column, None)
            elif action == "replace":
                record[column] = data.draw(VALUES[kind](row.get(column)))
    return record


def check_paths_agree(
    pipeline: FeaturePipeline, records: list[dict[str, Any]], schema: Mapping[str, pl.DataType]
) -> None:
    many = pipeline.transform_records(records)
    assert many.shape == (len(records), pipeline.n_features_out_)
    for i, record in enumerate(records):
        single = pipeline.transform_record(record)
        assert_same(single, pipeline.transform(one_row_frame(record, schema)))
        assert_same(single, many[i : i + 1])
        assert np.isfinite(single).all()


# -- identity ------------------------------------------------------------------------------------


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_record_equals_batch_row_on_real_flights(
    pipeline: FeaturePipeline,
    train: pl.DataFrame,
    flight_rows: list[dict[str, Any]],
    data: st.DataObject,
) -> None:
    rows = data.draw(st.lists(st.sampled_from(flight_rows), min_size=1, max_size=3))
    records = [mutate(data, row, FLIGHTS) for row in rows]
    schema = {c: train.schema[c] for c in pipeline.input_columns_}
    check_paths_agree(pipeline, records, schema)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_record_equals_batch_row_on_every_kind(
    synthetic_pipeline: FeaturePipeline, synthetic: pl.DataFrame, data: st.DataObject
) -> None:
    rows = synthetic.head(50).rows(named=True)
    chosen = data.draw(st.lists(st.sampled_from(rows), min_size=1, max_size=3))
    records = [mutate(data, row, SYNTHETIC) for row in chosen]
    check_paths_agree(synthetic_pipeline, records, dict(synthetic.schema))


def test_records_match_frame_on_real_rows(pipeline: FeaturePipeline, april: pl.DataFrame) -> None:
    part = april.head(3000)
    assert_same(pipeline.transform_records(part.rows(named=True)), pipeline.transform(part))


def test_synthetic_records_match_frame(
    synthetic_pipeline: FeaturePipeline, synthetic: pl.DataFrame
) -> None:
    frame = synthetic_frame(300, seed=1)
    assert_same(synthetic_pipeline.transform_records(frame.rows(named=True)),
                synthetic_pipeline.transform(frame))  # fmt: skip


# -- real data -------------------------------------------------------------------------------------


def test_output_layout_on_flights(pipeline: FeaturePipeline, train: pl.DataFrame) -> None:
    names = pipeline.feature_names_
    assert pipeline.input_columns_ == FLIGHTS.all
    for column in FLIGHTS.numeric:  # an indicator where training had >= 0.1 % missing
        flagged = train[column].null_count() / train.height >= 0.001
        assert (f"{column}__missing" in names) == flagged
    assert names[:3] == ["distance", "temp", "dewp"]  # temp: 0.099 % missing, under the bar
    assert names[names.index("plane_year") + 1] == "plane_year__missing"  # 18 % missing
    assert [names[i] for i in pipeline.categorical_indices_] == FLIGHTS.categorical
    assert names[-6:] == [
        f"scheduled_departure__{part}"
        for part in ("year", "month", "day", "day_of_week", "hour", "minute")
    ]
    out = pipeline.transform(train)
    assert out.shape == (train.height, len(names)) == (train.height, pipeline.n_features_out_)
    assert out.dtype == np.float64 and out.flags.c_contiguous
    assert np.isfinite(out).all()
    assert "24 inputs" in repr(pipeline) and f"{len(names)} outputs" in repr(pipeline)


def test_datetime_parts_agree_with_the_tables_own_columns(
    pipeline: FeaturePipeline, train: pl.DataFrame
) -> None:
    out = pipeline.transform(train)
    column = {name: out[:, i] for i, name in enumerate(pipeline.feature_names_)}
    for part in ("month", "day", "hour", "minute", "day_of_week"):  # day_of_week: Monday = 1
        assert np.array_equal(column[f"scheduled_departure__{part}"], train[part].to_numpy())
    assert (column["scheduled_departure__year"] == 2013).all()


def test_april_after_fitting_on_the_first_quarter(
    pipeline: FeaturePipeline, train: pl.DataFrame, april: pl.DataFrame
) -> None:
    out = pipeline.transform(april)
    assert np.isfinite(out).all()
    tailnum = pipeline.feature_names_.index("tailnum")
    encoder = pipeline.encoders_[pipeline.input_columns_.index("tailnum")]
    seen = set(train["tailnum"].drop_nulls().to_list())
    tails = april["tailnum"]
    unseen = (tails.is_not_null() & ~tails.is_in(list(seen))).to_numpy()
    assert unseen.any()
    assert len(encoder.levels) == 1000 < len(seen)  # max_categories
    assert (out[unseen, tailnum] == 1000).all()  # "other" follows the kept levels
    missing = tails.is_null().to_numpy()
    assert missing.any() and (out[missing, tailnum] == 1001).all()
    assert encoder.levels[0] == train["tailnum"].drop_nulls().mode().sort()[0]
    codes = out[:, pipeline.categorical_indices_]
    assert (codes == np.round(codes)).all() and (codes >= 0).all()


def test_lightgbm_uses_the_categorical_columns(
    pipeline: FeaturePipeline, train: pl.DataFrame, april: pl.DataFrame
) -> None:
    X = pipeline.transform(train)
    model = lgb.LGBMClassifier(n_estimators=30, num_leaves=15, verbose=-1, n_jobs=2, random_state=0)
    model.fit(X, train["late"].to_numpy(), categorical_feature=pipeline.categorical_indices_)
    proba = model.predict_proba(pipeline.transform(april))[:, 1]
    assert roc_auc_score(april["late"].to_numpy(), proba) > 0.6
    served = model.predict_proba(pipeline.transform_record(april.row(0, named=True)))[:, 1]
    assert served[0] == proba[0]


def test_high_cardinality_keeps_every_level_when_allowed(train: pl.DataFrame) -> None:
    features = Features(categorical=["tailnum"])
    wide = FeaturePipeline(features, max_categories=100_000).fit(train)
    levels = wide.encoders_[0].levels
    assert len(levels) == train["tailnum"].n_unique() - 1  # every value but null
    capped = FeaturePipeline(features, max_categories=1000).fit(train)
    assert capped.encoders_[0].levels == levels[:1000]
    out = capped.transform(train)
    assert out.max() == 1001  # the "missing" code
    assert set(np.unique(out)) == set(range(1002))


# -- encoding rules ------------------------------------------------------------------------------


def test_numeric_rules() -> None:
    frame = pl.DataFrame(
        {
            "x": [1.0, 2.0, None, 4.0, float("nan"), 100.0, float("inf")],
            "full": [1, 2, 3, 4, 5, 6, 7],
            "b": [True, False, True, None, True, True, False],
        }
    )
    pipeline = FeaturePipeline(Features(numeric=["x", "full", "b"])).fit(frame)
    assert pipeline.feature_names_ == ["x", "x__missing", "full", "b", "b__missing"]
    assert pipeline.encoders_[0].median == 3.0  # median of 1, 2, 4, 100: nulls, NaN, inf left out
    out = pipeline.transform(frame)
    assert out[:, 0].tolist() == [1.0, 2.0, 3.0, 4.0, 3.0, 100.0, 3.0]
    assert out[:, 1].tolist() == [0, 0, 1, 0, 1, 0, 1]
    assert out[:, 3].tolist() == [1, 0, 1, 1, 1, 1, 0]
    for value, expected in [("12.5", 12.5), (" 7 ", 7.0), ("", 3.0), ("TRUE", 1.0), (5, 5.0)]:
        assert pipeline.transform_record({"x": value})[0, 0] == expected
    numpy_scalars = {"x": np.float32(0.5), "full": np.int64(3), "b": np.bool_(True)}
    assert pipeline.transform_record(numpy_scalars)[0].tolist() == [0.5, 0.0, 3.0, 1.0, 0.0]
    strict = FeaturePipeline(Features(numeric=["x"]), missing_indicator_min=0.5).fit(frame)
    assert strict.feature_names_ == ["x"]


def test_categorical_rules() -> None:
    frame = pl.DataFrame(
        {
            "c": ["b", "a", "b", "c", "a", None, "b", "d"],
            "flag": [True, False, True, True, None, True, False, True],
            "size": [1.0, 2.0, 1.0, 0.5, float("nan"), 1.0, 2.0, 1e20],
        }
    )
    pipeline = FeaturePipeline(Features(categorical=["c", "flag", "size"])).fit(frame)
    c, flag, size = pipeline.encoders_
    assert c.levels == ["b", "a", "c", "d"]  # by count, ties by string
    assert flag.levels == ["true", "false"]
    assert size.levels == ["1", "2", "0.5", "1e+20"]
    record = pipeline.transform_record
    assert record({"c": "a", "flag": "true", "size": 2})[0].tolist() == [1, 0, 1]
    assert record({"c": "zzz", "flag": 1, "size": 2.5})[0].tolist() == [4, 2, 4]  # other
    assert record({"c": None, "size": math.nan})[0].tolist() == [5, 3, 5]  # missing
    assert record({"flag": True, "size": "1"})[0].tolist() == [5, 0, 0]
    limited = FeaturePipeline(Features(categorical=["c"]), max_categories=2).fit(frame)
    assert limited.encoders_[0].levels == ["b", "a"]
    frequent = FeaturePipeline(Features(categorical=["c"]), min_category_count=2).fit(frame)
    assert frequent.encoders_[0].levels == ["b", "a"]
    assert limited.transform(frame)[:, 0].tolist() == [0, 1, 0, 2, 1, 3, 0, 2]


def test_datetime_rules_and_time_zones() -> None:
    frame = pl.DataFrame(
        {
            "when": pl.Series(
                [datetime(2024, 1, 1, 23, 30), datetime(2024, 7, 1, 12, 0), None]
            ).dt.replace_time_zone("America/New_York"),
            "day": [date(2024, 2, 29), None, date(2024, 3, 4)],
        }
    )
    pipeline = FeaturePipeline(Features(datetime=["when", "day"])).fit(frame)
    assert pipeline.feature_names_ == [
        *[f"when__{p}" for p in ("year", "month", "day", "day_of_week", "hour", "minute")],
        "when__missing",
        *[f"day__{p}" for p in ("year", "month", "day", "day_of_week")],
        "day__missing",
    ]
    out = pipeline.transform(frame)
    # 23:30 in New York on 1 January is 04:30 UTC on 2 January, a Tuesday (ISO day 2)
    assert out[0, :6].tolist() == [2024, 1, 2, 2, 4, 30]
    # missing: the medians of (2024-01-02 04:30 Tue, 2024-07-01 16:00 UTC Mon), flagged
    assert out[2, :7].tolist() == [2024.0, 4.0, 1.5, 1.5, 10.0, 15.0, 1.0]
    assert out[0, 7:].tolist() == [2024, 2, 29, 4, 0]  # a Thursday
    record = pipeline.transform_record
    same_instant = ["2024-01-02T04:30:00Z", "2024-01-01T23:30-05:00", "2024-01-02 04:30"]
    for value in same_instant:
        assert record({"when": value, "day": "2024-02-29"})[0].tolist() == out[0].tolist()
    aware = datetime(2024, 1, 1, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert record({"when": aware, "day": date(2024, 2, 29)})[0].tolist() == out[0].tolist()
    assert (
        record({"when": datetime(2024, 1, 2, 4, 30, tzinfo=UTC)})[0, :6].tolist()
        == out[0, :6].tolist()
    )


def test_text_is_hashed_tfidf() -> None:
    notes = ["snow at the gate", "crew late", None, "snow snow delay", "", "gate change"]
    frame = pl.DataFrame({"note": notes})
    pipeline = FeaturePipeline(Features(text=["note"]), text_features=64).fit(frame)
    assert pipeline.feature_names_[0] == "note__tfidf_00" and pipeline.n_features_out_ == 64
    out = pipeline.transform(frame)
    norms = np.linalg.norm(out, axis=1)
    assert np.allclose(norms, [1, 1, 0, 1, 0, 1])
    hashed = HashingVectorizer(n_features=64, alternate_sign=False, norm=None).transform(
        [n or "" for n in notes]
    )
    expected = TfidfTransformer().fit_transform(hashed).toarray()
    assert np.allclose(out, expected, rtol=1e-12, atol=1e-15)
    assert_same(pipeline.transform_record({"note": "snow snow delay"}), out[3:4])
    assert_same(pipeline.transform_record({}), out[2:3])


def test_all_missing_training_columns_impute_zero() -> None:
    frame = pl.DataFrame(
        {
            "x": pl.Series([None, None], dtype=pl.Float64),
            "n": pl.Series([None, None]),  # Null dtype
            "c": pl.Series([None, None], dtype=pl.String),
            "t": pl.Series([None, None], dtype=pl.Datetime("us")),
            "s": pl.Series([None, None], dtype=pl.String),
        }
    )
    features = Features(numeric=["x", "n"], categorical=["c"], datetime=["t"], text=["s"])
    pipeline = FeaturePipeline(features, text_features=8).fit(frame)
    out = pipeline.transform(frame)
    names = pipeline.feature_names_
    assert names[:4] == ["x", "x__missing", "n", "n__missing"]
    assert out[0, :5].tolist() == [0.0, 1.0, 0.0, 1.0, 1.0]  # categorical: no levels, "missing" = 1
    assert out[0, 5:10].tolist() == [0.0, 0.0, 0.0, 0.0, 1.0]  # no time of day learned
    assert names[10] == "s__tfidf_0" and not out[:, 10:].any()
    assert pipeline.transform_record({"x": 3, "c": "new", "t": "2024-05-01"})[0, :5].tolist() == [
        3.0, 0.0, 0.0, 1.0, 0.0,
    ]  # fmt: skip


def test_other_column_types() -> None:
    frame = pl.DataFrame(
        {
            "kind": pl.Series(["a", "b", "a", None], dtype=pl.Categorical),
            "on": [date(2024, 1, 1), date(2024, 1, 2), date(2024, 1, 1), None],
            "when": pl.Series([None] * 4),  # Null dtype
            "words": pl.Series(["a b", "b", None, "c"], dtype=pl.Categorical),
            "blank": pl.Series([math.nan, None, math.nan, math.nan]),  # float, only missing
        }
    )
    features = Features(categorical=["kind", "on"], datetime=["when"], text=["words", "blank"])
    pipeline = FeaturePipeline(features, text_features=8).fit(frame)
    assert pipeline.encoders_[1].levels == ["2024-01-01", "2024-01-02"]
    out = pipeline.transform(frame)
    assert out[:, :2].tolist() == [[0, 0], [1, 1], [0, 0], [3, 3]]
    record = {"kind": np.str_("b"), "on": "2024-01-02", "when": "  ", "words": "b", "blank": None}
    assert_same(pipeline.transform_record(record), out[1:2])
    assert_same(
        pipeline.transform_record({"kind": "b", "on": date(2024, 1, 2), "words": "b"}), out[1:2]
    )
    assert pipeline.transform_record({"when": np.str_("2024-05-01T10:00")})[0, 2] == 2024
    wrong = [
        (Features(numeric=["on"]), "'on': expected a column of numbers, got a Date column"),
        (Features(text=["on"]), "'on': expected a column of text"),
    ]
    for bad, message in wrong:
        with pytest.raises(FeatureError, match=message):
            FeaturePipeline(bad).fit(frame)
    with pytest.raises(FeatureError, match=r"got 'xxxxxxx[x]*\.\.\. \(str\)"):
        FeaturePipeline(Features(numeric=["x"])).fit(frame.select(x=pl.lit(1))).transform_record(
            {"x": "x" * 500}
        )


def test_decimal_columns_are_read_as_python_reads_them() -> None:
    frame = pl.DataFrame(
        {
            "price": pl.Series([Decimal("0.10"), Decimal("2.35"), None], dtype=pl.Decimal(10, 2)),
            "grade": pl.Series([Decimal("1.50"), Decimal("2.00"), None], dtype=pl.Decimal(10, 2)),
        }
    )
    pipeline = FeaturePipeline(Features(numeric=["price"], categorical=["grade"])).fit(frame)
    assert pipeline.encoders_[1].levels == ["1.5", "2"]
    out = pipeline.transform(frame)
    assert out[:, 0].tolist() == [0.1, 2.35, 1.225]
    assert_same(pipeline.transform_records(frame.rows(named=True)), out)
    assert pipeline.transform_record({"price": "2.35", "grade": 2})[0].tolist() == out[1].tolist()


# -- persistence -------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["flights", "synthetic"])
def test_json_round_trip(
    which: str,
    pipeline: FeaturePipeline,
    synthetic_pipeline: FeaturePipeline,
    april: pl.DataFrame,
    synthetic: pl.DataFrame,
) -> None:
    original, frame = (pipeline, april) if which == "flights" else (synthetic_pipeline, synthetic)
    document = original.to_dict()
    assert document["format"] == 1
    loaded = FeaturePipeline.from_dict(orjson.loads(orjson.dumps(document)))
    assert loaded.to_dict() == document
    assert loaded.feature_names_ == original.feature_names_
    assert loaded.categorical_indices_ == original.categorical_indices_
    assert loaded.input_columns_ == original.input_columns_
    assert_same(loaded.transform(frame), original.transform(frame))
    records = frame.head(200).rows(named=True)
    assert_same(loaded.transform_records(records), original.transform_records(records))


def test_from_dict_rejects_bad_documents(pipeline: FeaturePipeline) -> None:
    good = pipeline.to_dict()
    with pytest.raises(FeatureError, match="format 1, got format 2"):
        FeaturePipeline.from_dict({**good, "format": 2})
    with pytest.raises(FeatureError, match=r"malformed.*encoders"):
        FeaturePipeline.from_dict({k: v for k, v in good.items() if k != "encoders"})
    with pytest.raises(FeatureError, match="inconsistent"):
        FeaturePipeline.from_dict({**good, "feature_names": good["feature_names"][:-1]})
    with pytest.raises(FeatureError, match="expected a feature pipeline document"):
        FeaturePipeline.from_dict([1, 2])  # type: ignore[arg-type]
    with pytest.raises(FeatureError, match="max_categories"):
        FeaturePipeline.from_dict({**good, "params": {**good["params"], "max_categories": 0}})


# -- errors ------------------------------------------------------------------------------------


def test_unfitted_use_raises_a_clear_error(train: pl.DataFrame) -> None:
    unfitted = FeaturePipeline(FLIGHTS)
    for use in (
        lambda: unfitted.transform(train),
        lambda: unfitted.transform_record({}),
        lambda: unfitted.transform_records([{}]),
        unfitted.to_dict,
    ):
        with pytest.raises(NotFittedError, match=r"not fitted yet: call fit") as caught:
            use()
        assert isinstance(caught.value, LoopmlError)
    assert repr(unfitted) == "FeaturePipeline(24 inputs)"


def test_bad_values_name_the_field(
    pipeline: FeaturePipeline, synthetic_pipeline: FeaturePipeline, april: pl.DataFrame
) -> None:
    cases: list[tuple[FeaturePipeline, dict[str, Any], str]] = [
        (pipeline, {"temp": "warm"}, r"feature 'temp': expected a number .*got 'warm' \(str\)"),
        (pipeline, {"temp": [1]}, r"feature 'temp': expected a number, got \[1\] \(list\)"),
        (pipeline, {"seats": 10**400}, r"feature 'seats': expected a number within float64"),
        (pipeline, {"carrier": {"a": 1}}, r"feature 'carrier': expected a category"),
        (pipeline, {"scheduled_departure": "tomorrow"}, r"'scheduled_departure': expected an ISO"),
        (pipeline, {"scheduled_departure": 1_700_000_000}, r"epoch numbers are not accepted"),
        (synthetic_pipeline, {"note": 42}, r"feature 'note': expected text"),
    ]
    for encoder, record, message in cases:
        with pytest.raises(FeatureError, match=message) as caught:
            encoder.transform_record(record)
        assert isinstance(caught.value, DataError)
    with pytest.raises(FeatureError, match=r"record 1: feature 'temp'"):
        pipeline.transform_records([{}, {"temp": "warm"}])
    frame = april.head(3).with_columns(pl.Series("temp", ["1.5", None, "warm"]))
    with pytest.raises(FeatureError, match=r"feature 'temp'.*'warm'.*\(row 2\)"):
        pipeline.transform(frame)
    with pytest.raises(FeatureError, match=r"'scheduled_departure': expected a column of date"):
        pipeline.transform(april.head(3).with_columns(pl.col("scheduled_departure").cast(pl.Int64)))
    with pytest.raises(FeatureError, match=r"expected a record as a mapping.*got list"):
        pipeline.transform_record([1, 2])  # type: ignore[arg-type]
    with pytest.raises(FeatureError, match="expected a sequence of records, got a dict"):
        pipeline.transform_records({"temp": 1})  # type: ignore[arg-type]
    assert pipeline.transform_records([]).shape == (0, pipeline.n_features_out_)


def test_frame_problems_are_explained(pipeline: FeaturePipeline, train: pl.DataFrame) -> None:
    with pytest.raises(
        FeatureError, match=r"(?s)lacks 1 feature column\(s\).*'temp'; did you mean 'tmp'"
    ):
        pipeline.transform(train.rename({"temp": "tmp"}))
    with pytest.raises(FeatureError, match="expected a Polars DataFrame, got dict"):
        pipeline.transform({"temp": [1.0]})  # type: ignore[arg-type]
    with pytest.raises(FeatureError, match="empty frame"):
        FeaturePipeline(FLIGHTS).fit(train.head(0))
    with pytest.raises(FeatureError, match="more than one feature kind: temp"):
        FeaturePipeline(Features(numeric=["temp"], categorical=["temp"])).fit(train)
    with pytest.raises(FeatureError, match="at least one feature"):
        FeaturePipeline(Features()).fit(train)
    with pytest.raises(FeatureError, match="collide: plane_year__missing"):
        FeaturePipeline(Features(numeric=["plane_year", "plane_year__missing"])).fit(
            train.with_columns(pl.col("seats").alias("plane_year__missing"))
        )
    with pytest.raises(FeatureError, match="expected a column of categories"):
        FeaturePipeline(Features(categorical=["xs"])).fit(pl.DataFrame({"xs": [[1], [2]]}))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"max_categories": 0}, "max_categories: expected an integer >= 1, got 0"),
        ({"min_category_count": 1.5}, "min_category_count: expected an integer"),
        ({"text_features": True}, "text_features: expected an integer"),
        ({"missing_indicator_min": 2}, "missing_indicator_min: expected a fraction"),
    ],
)
def test_invalid_parameters_fail_at_fit(
    params: dict[str, Any], message: str, train: pl.DataFrame
) -> None:
    pipeline = FeaturePipeline(FLIGHTS, **params)
    with pytest.raises(FeatureError, match=message):
        pipeline.fit(train)
