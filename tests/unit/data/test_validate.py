"""Schema inference and validation: every violation reported with counts, examples and rows."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loopml.data.profiling import profile_frame
from loopml.data.schema import Schema, infer_schema
from loopml.data.validate import validate
from loopml.spec import parse_spec


@pytest.fixture(scope="module")
def q1(flights: pl.DataFrame) -> pl.DataFrame:
    return flights.filter(pl.col("month") <= 3)


@pytest.fixture(scope="module")
def q1_schema(q1: pl.DataFrame) -> Schema:
    return infer_schema(profile_frame(q1))


def test_inferred_schema_from_flights(q1_schema: Schema) -> None:
    assert q1_schema["dest"].nullable is False and q1_schema["dest"].kind == "categorical"
    assert "JFK" in (q1_schema["origin"].allowed or [])
    assert q1_schema["temp"].nullable and 0 < q1_schema["temp"].max_missing < 1
    assert q1_schema["distance"].min is not None and q1_schema["distance"].min < 80
    assert q1_schema["tailnum"].allowed is None  # thousands of planes: no closed set is inferred
    assert Schema.from_dict(q1_schema.to_dict()) == q1_schema


def test_training_data_passes_its_own_schema(q1: pl.DataFrame, q1_schema: Schema) -> None:
    report = validate(q1, q1_schema)
    assert report.ok and not report.warnings
    # what it tolerates is still shown: its own missing values, under their limits
    assert report.violations and {v.severity for v in report.violations} == {"info"}
    missing = {v.column: v for v in report.tolerated if v.rule == "max_missing"}
    assert missing["tailnum"].count == q1["tailnum"].null_count()


def test_april_breaks_only_inferred_ranges(flights: pl.DataFrame, q1_schema: Schema) -> None:
    april = flights.filter(pl.col("month") == 4)
    report = validate(april, q1_schema)
    assert report.ok
    temp = next(v for v in report.warnings if v.column == "temp" and v.rule == "range")
    assert temp.count > 0 and all(e > q1_schema["temp"].max for e in temp.examples)  # type: ignore[operator]
    # row numbers point at the offending rows (1-based)
    for row, value in zip(temp.rows, temp.examples, strict=True):
        assert april["temp"][row - 1] == value


def test_every_kind_of_violation(q1: pl.DataFrame, q1_schema: Schema) -> None:
    bad = (
        q1.head(1000)
        .with_columns(
            pl.when(pl.int_range(pl.len()) < 10).then(None).otherwise(pl.col("dest")).alias("dest"),
            pl.when(pl.int_range(pl.len()).is_between(5, 24))
            .then(pl.lit("ZZZ"))
            .otherwise(pl.col("origin"))
            .alias("origin"),
            pl.col("distance").cast(pl.String),
        )
        .with_columns(
            pl.when(pl.int_range(pl.len()) == 7)
            .then(pl.lit("far"))
            .otherwise(pl.col("distance"))
            .alias("distance"),
            pl.lit(1).alias("surprise"),
        )
        .drop("carrier")
    )
    report = validate(bad, q1_schema)
    assert not report.ok
    found = {(v.column, v.rule): v for v in report.violations}
    assert found[("carrier", "present")].severity == "error"
    assert found[("surprise", "known_column")].severity == "warning"
    nulls = found[("dest", "not_null")]
    assert (
        nulls.count == 10 and nulls.fraction == pytest.approx(0.01) and nulls.rows[:3] == [1, 2, 3]
    )
    kind = found[("distance", "type")]
    assert kind.count == 1 and kind.examples == ["far"] and kind.rows == [8]
    unseen = found[("origin", "allowed")]
    assert unseen.count == 20 and unseen.severity == "warning"  # over the inferred 1 % limit
    assert unseen.examples == ["ZZZ"] * 5 and unseen.rows == [6, 7, 8, 9, 10]
    as_dict = report.to_dict()
    assert as_dict["ok"] is False and as_dict["errors"] == len(report.errors)
    assert all("message" in v for v in as_dict["violations"])


def test_user_expectations_are_errors(q1: pl.DataFrame) -> None:
    spec = parse_spec(
        "name: p\ntask: binary\ntarget: late\nid_column: flight_id\n"
        "features: {numeric: [distance]}\n"
        "metric: {name: roc_auc}\ndata:\n  expectations:\n    distance: {min: 100}\n"
        "    origin: {allowed: [JFK, LGA]}\n"
    )
    schema = infer_schema(profile_frame(q1), spec)
    assert schema["flight_id"].min is None and schema["flight_id"].max is None
    report = validate(q1, schema)
    found = {(v.column, v.rule): v for v in report.errors}
    assert ("distance", "range") in found and ("origin", "allowed") in found
    assert found[("origin", "allowed")].count == q1.filter(pl.col("origin") == "EWR").height


frames = st.lists(
    st.tuples(st.one_of(st.none(), st.floats(-1e6, 1e6)), st.sampled_from(["a", "b", "c", None])),
    min_size=1,
    max_size=200,
).map(lambda rows: pl.DataFrame(rows, schema={"x": pl.Float64, "c": pl.String}, orient="row"))


@settings(max_examples=60, deadline=None)
@given(frames, frames)
def test_counts_match_a_plain_python_recount(
    reference: pl.DataFrame, current: pl.DataFrame
) -> None:
    schema = infer_schema(profile_frame(reference))
    report = validate(current, schema)
    found = {(v.column, v.rule): v.count for v in report.violations}
    n = current.height

    severities = {(v.column, v.rule): v.severity for v in report.violations}

    def reported(count: int, limit: float, key: tuple[str, str]) -> int:
        """Every break is reported; its severity says whether it passed the tolerance."""
        if count:
            assert (severities[key] == "info") == (count / n <= limit), key
        return count

    rule = schema["x"]
    xs = current["x"].to_list()
    if rule.min is not None and rule.max is not None:
        outside = sum(1 for x in xs if x is not None and not rule.min <= x <= rule.max)
        assert found.get(("x", "range"), 0) == outside
    nulls = sum(1 for x in xs if x is None)
    if not rule.nullable:
        assert found.get(("x", "not_null"), 0) == nulls
    elif rule.max_missing < 1.0:
        assert found.get(("x", "max_missing"), 0) == reported(
            nulls, rule.max_missing, ("x", "max_missing")
        )
    allowed = schema["c"].allowed
    if allowed is not None:
        unseen = sum(1 for c in current["c"].to_list() if c is not None and c not in allowed)
        assert found.get(("c", "allowed"), 0) == reported(
            unseen, schema["c"].max_unseen, ("c", "allowed")
        )
    # the reference always passes its own schema
    assert validate(reference, schema).ok


def test_what_validation_tolerates_is_never_hidden() -> None:
    """50 rows of a never-seen value in a 5-level column: under the 1 % tolerance, so not a
    warning, but shown with its count and examples."""
    rng = np.random.default_rng(1)
    reference = pl.DataFrame({"level": rng.choice(list("abcde"), 20_000)})
    schema = infer_schema(profile_frame(reference))
    current = pl.DataFrame({"level": [*rng.choice(list("abcde"), 9_950), *["zz"] * 50]})
    report = validate(current, schema)
    assert report.ok and not report.warnings
    (seen,) = report.tolerated
    assert (seen.column, seen.rule, seen.count, seen.severity) == ("level", "allowed", 50, "info")
    assert seen.examples == ["zz"] * 5 and seen.rows[0] == 9_951
    assert report.to_dict()["tolerated"] == 1


def test_a_value_far_outside_the_range_is_an_error() -> None:
    """1e9 in a 0/1 column is a unit or encoding fault, not a warm month: an error, while a
    value just past an inferred range stays a warning."""
    flags = pl.DataFrame({"flag": [0, 1] * 500, "temp": np.linspace(10, 70, 1000)})
    schema = infer_schema(profile_frame(flags))
    near = validate(pl.DataFrame({"flag": [0, 1, 2], "temp": [20.0, 80.0, 30.0]}), schema)
    assert near.ok and {(v.column, v.rule) for v in near.warnings} == {
        ("flag", "range"),
        ("temp", "range"),
    }
    far = validate(pl.DataFrame({"flag": [0.0, 1.0, 1e9], "temp": [20.0, -5000.0, 30.0]}), schema)
    assert not far.ok
    errors = {(v.column, v.rule): v for v in far.errors}
    assert errors[("flag", "far_out_of_range")].examples == [1e9]
    assert errors[("temp", "far_out_of_range")].rows == [2]


def test_a_high_cardinality_column_is_checked_against_its_most_frequent_values(
    q1: pl.DataFrame, q1_schema: Schema
) -> None:
    rule = q1_schema["tailnum"]
    assert rule.allowed is None and rule.common and 0 < rule.common_share < 1
    same = validate(q1.sample(5_000, seed=2).select("tailnum"), q1_schema)
    assert not [v for v in same.violations if v.rule == "common" and v.severity != "info"]
    renamed = q1.sample(5_000, seed=2).select(
        pl.when(pl.int_range(pl.len()) % 5 != 0)  # 80 % of the values in a new format
        .then(pl.lit("N") + pl.int_range(pl.len()).cast(pl.String) + pl.lit("ZZ"))
        .otherwise(pl.col("tailnum"))
        .alias("tailnum")
    )
    found = next(v for v in validate(renamed, q1_schema).warnings if v.rule == "common")
    assert found.column == "tailnum" and found.fraction > 1 - rule.common_share / 2
    assert "most frequent" in found.expected and any(e.endswith("ZZ") for e in found.examples)
