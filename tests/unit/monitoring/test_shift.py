"""Target and prior shift beyond sampling noise: zero on labels drawn at the reference's rate,
large when the rate moves as it did on a public dataset (42 % to 54 %)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from loopml.monitoring.shift import LOG_ODDS, MEAN_SHIFT, shift_metrics


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    rate=st.floats(0.01, 0.99),
    rows=st.integers(20, 5_000),
    seed=st.integers(0, 2**32 - 1),
)
def test_no_shift_is_zero_whatever_the_rate_and_the_window(
    rate: float, rows: int, seed: int
) -> None:
    """Labels and decisions drawn at the held-out rates: the shifts stay under the default
    rules' thresholds (99 % two-sided noise is subtracted first)."""
    rng = np.random.default_rng(seed)
    labels = (rng.random(rows) < rate).astype(float)
    scores = rng.random(rows)
    held_out = {"rows": 10_000.0, "label_rate": rate, "predicted_positive": 0.3}
    found = shift_metrics("binary", held_out, labels, scores, threshold=0.7)
    assert found["label_shift"] < LOG_ODDS, found
    assert found["predicted_positive_shift"] < LOG_ODDS, found
    assert abs(found["label_rate"] - labels.mean()) < 1e-12


def test_a_prior_shift_from_42_to_54_percent_is_caught_and_scales_with_the_odds() -> None:
    rng = np.random.default_rng(0)
    held_out = {"rows": 10_000.0, "label_rate": 0.42}
    moved = (rng.random(2_000) < 0.54).astype(float)
    found = shift_metrics("binary", held_out, moved, np.array([]), threshold=None)
    assert found["label_shift"] > LOG_ODDS and 0.5 < found["label_rate"] < 0.58
    assert "predicted_positive_shift" not in found  # no scores, no threshold
    # 2 % to 4 % is a doubling of the odds: as loud, though it is 2 points
    rare = shift_metrics(
        "binary",
        {"label_rate": 0.02},
        (rng.random(20_000) < 0.04).astype(float),
        np.array([]),
        None,
    )
    assert rare["label_shift"] > LOG_ODDS
    # too few labels to tell: nothing, whatever the rate
    few = shift_metrics("binary", held_out, np.array([1.0, 1.0, 1.0]), np.array([]), None)
    assert few["label_shift"] == 0.0


def test_regression_label_shift_is_in_reference_standard_deviations() -> None:
    rng = np.random.default_rng(1)
    held_out = {"rows": 5_000.0, "label_mean": 10.0, "label_std": 2.0}
    same = shift_metrics("regression", held_out, rng.normal(10, 2, 1_000), np.array([]), None)
    assert same["label_shift"] == 0.0
    moved = shift_metrics("regression", held_out, rng.normal(11.5, 2, 1_000), np.array([]), None)
    assert moved["label_shift"] > MEAN_SHIFT and abs(moved["label_mean"] - 11.5) < 0.2
    assert shift_metrics("regression", None, rng.normal(size=10), np.array([]), None) == {}
