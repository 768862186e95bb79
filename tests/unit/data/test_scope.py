"""`loopml init`'s inference on the real flights data and on a regression and multiclass set."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loopml.data.leaks import leak_score, missing_leak
from loopml.data.scope import propose_spec
from loopml.errors import DataError
from loopml.spec import parse_spec


def test_flights_proposal(flights_sample: pl.DataFrame) -> None:
    proposal = propose_spec(flights_sample, target="late", name="flights")
    spec = proposal.spec
    assert spec.task == "binary" and spec.metric.name == "roc_auc"
    assert spec.id_column == "flight_id"
    assert spec.time_column == "scheduled_departure"
    assert "year" in spec.features.exclude  # constant: every flight is from 2013
    assert {"carrier", "origin", "dest"} <= set(spec.features.categorical)
    assert {"distance", "temp", "hour"} <= set(spec.features.numeric)
    reasons = {f.column: f.reason for f in proposal.flagged}
    assert reasons["year"].startswith("constant")
    # month and day of month name dates in a quarter of data; hour and weekday repeat often
    assert reasons["month"].startswith("time proxy") and reasons["day"].startswith("time proxy")
    assert {"hour", "day_of_week"} <= set(spec.features.numeric)
    # the written text is a valid, commented spec equal to the proposal
    assert parse_spec(proposal.text).model_dump() == spec.model_dump()
    assert "# Excluded by init" in proposal.text and "year: constant" in proposal.text


def test_a_near_copy_of_the_target_is_flagged_as_a_leak(flights_sample: pl.DataFrame) -> None:
    noisy = flights_sample.with_columns(
        # a column computed from the outcome, 1 % of it scrambled
        pl.when(pl.int_range(pl.len()) % 100 == 0)
        .then(~pl.col("late"))
        .otherwise(pl.col("late"))
        .cast(pl.Int64)
        .mul(30)
        .add(pl.col("hour"))
        .alias("arrival_minutes_late")
    )
    proposal = propose_spec(noisy, target="late")
    flagged = {f.column: f.reason for f in proposal.flagged}
    assert "likely target leak" in flagged["arrival_minutes_late"]
    assert "arrival_minutes_late" in proposal.spec.features.exclude
    # honest features stay
    assert leak_score(noisy, "temp", "late", "binary") < 0.2


def test_regression_and_multiclass_from_scikit_learn_datasets() -> None:
    from sklearn.datasets import load_diabetes, load_wine

    def frame(bunch: Any) -> pl.DataFrame:
        data = pl.DataFrame(bunch.data, schema=list(bunch.feature_names), orient="row")
        return data.with_columns(target=pl.Series(bunch.target))

    diabetes = frame(load_diabetes())
    spec = propose_spec(diabetes, target="target").spec
    assert spec.task == "regression" and spec.metric.name == "rmse"
    assert spec.metric.target is not None and spec.metric.target > 0
    wine = frame(load_wine())
    spec = propose_spec(wine, target="target").spec
    assert spec.task == "multiclass" and len(spec.features.numeric) == 13


def test_bad_targets(flights_sample: pl.DataFrame) -> None:
    with pytest.raises(DataError, match="did you mean 'late'"):
        propose_spec(flights_sample, target="lat")
    with pytest.raises(DataError, match="1 distinct value"):
        propose_spec(flights_sample, target="year")


def test_positive_class_and_a_bounded_pr_auc_target() -> None:
    rng = np.random.default_rng(0)
    frame = pl.DataFrame({"x": rng.normal(size=3000), "z": rng.normal(size=3000)})
    mostly_ones = frame.with_columns(y=pl.Series((rng.random(3000) < 0.95).astype(int)))
    spec = propose_spec(mostly_ones, target="y").spec
    assert spec.positive_class == 1 and spec.metric.name == "roc_auc"
    rare_yes = frame.with_columns(y=pl.Series(np.where(rng.random(3000) < 0.05, "yes", "no")))
    spec = propose_spec(rare_yes, target="y").spec
    assert spec.positive_class == "yes" and spec.metric.name == "pr_auc"
    assert spec.metric.target is not None and 0 < spec.metric.target < 0.2


def test_a_column_missing_only_where_the_outcome_is_settled_is_a_missingness_leak(
    flights_sample: pl.DataFrame,
) -> None:
    """A cancelled flight has no tail number and counts as late: 1 % of rows, so neither the
    column's own score nor its missing indicator's AUC (0.52) gives it away."""
    proposal = propose_spec(flights_sample, target="late")
    reasons = {f.column: f.reason for f in proposal.flagged}
    assert "tailnum" in proposal.spec.features.exclude
    assert reasons["tailnum"].startswith("missingness leak: where it is missing (")
    assert "late is True in 100% of them" in reasons["tailnum"]
    assert "AUC of its missing indicator 0.5" in reasons["tailnum"]
    # pressure is missing more often on late flights (45 % against 26 %), a signal, not a leak
    assert missing_leak(flights_sample, "pressure", "late", "binary") is None
    assert "pressure" in proposal.spec.features.numeric


def test_a_regression_target_fixed_where_a_column_is_missing_is_flagged() -> None:
    rng = np.random.default_rng(4)
    n = 5_000
    x = rng.normal(size=n)
    y = 3 * x + rng.normal(size=n)
    refunded = rng.random(n) < 0.02  # refunded orders: no delivery time, amount 0
    frame = pl.DataFrame(
        {
            "x": x,
            "delivery_hours": np.where(refunded, None, rng.gamma(2, 10, n)),
            "weather": np.where(rng.random(n) < 0.05, None, rng.normal(size=n)),
            "amount": np.where(refunded, 0.0, y),
        }
    )
    reason = missing_leak(frame, "delivery_hours", "amount", "regression")
    assert reason is not None and "amount is 0 ± 0" in reason
    assert missing_leak(frame, "weather", "amount", "regression") is None  # missing at random


@settings(max_examples=40, deadline=None)
@given(
    rows=st.integers(200, 3_000),
    missing_share=st.floats(0.01, 0.5),
    positive_share=st.floats(0.05, 0.95),
    seed=st.integers(0, 2**32 - 1),
)
def test_missing_at_random_is_never_a_leak(
    rows: int, missing_share: float, positive_share: float, seed: int
) -> None:
    """Missingness unrelated to the target is never flagged, at any rate of either."""
    rng = np.random.default_rng(seed)
    frame = pl.DataFrame(
        {
            "x": np.where(rng.random(rows) < missing_share, None, rng.normal(size=rows)),
            "y": rng.random(rows) < positive_share,
        }
    )
    assert missing_leak(frame, "x", "y", "binary") is None
