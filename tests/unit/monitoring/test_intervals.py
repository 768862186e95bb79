"""Estimated quality you can believe: the calibration map, the intervals' coverage, the cost."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score, roc_auc_score

from loopml.errors import DataError
from loopml.monitoring.estimate import estimate_binary, estimate_regression, expected_roc_auc
from loopml.stats.calibration import Calibration
from loopml.stats.error_model import ErrorModel
from loopml.stats.intervals import binary_draws, binary_metrics, dispersion

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
COVERAGE = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FITTED = settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TRIALS = 60  # windows per example: coverage 0.9 ± 0.04 (one standard deviation)


@PROPERTY
@given(
    st.lists(st.tuples(st.floats(0, 1), st.booleans()), min_size=1, max_size=300),
    st.lists(st.floats(-1, 2), min_size=2, max_size=50),
)
def test_the_calibration_map_is_monotone_and_maps_into_zero_one(
    rows: list[tuple[float, bool]], probes: list[float]
) -> None:
    scores, labels = (np.array(column, dtype=float) for column in zip(*rows, strict=True))
    calibration = Calibration.fit(scores, labels)
    if calibration is None:  # too few rows, or of one class
        assert len(rows) < 20 or min(labels.sum(), (1 - labels).sum()) < 5
        return
    mapped = calibration.apply(np.sort(np.array(probes)))
    assert ((mapped >= 0) & (mapped <= 1)).all()
    assert (np.diff(mapped) >= -1e-12).all()
    assert Calibration.from_dict(calibration.to_dict()) == calibration  # plain JSON round trip


def test_calibration_corrects_overconfident_scores() -> None:
    rng = np.random.default_rng(3)
    truth = rng.beta(2, 5, 20_000)
    scores = truth**0.5  # overconfident: a row scoring 0.5 is positive 25 % of the time
    labels = rng.random(truth.size) < truth
    calibration = Calibration.fit(scores, labels)
    assert calibration is not None
    assert np.abs(calibration.apply(scores) - truth).mean() < 0.02
    assert np.abs(scores - truth).mean() > 0.15


@pytest.mark.parametrize(
    "bad",
    [
        {"scores": [0.1, 0.5], "probabilities": [0.6, 0.2]},  # decreasing
        {"scores": [0.1, 0.5], "probabilities": [0.2, 1.5]},  # outside [0, 1]
        {"scores": [0.5, 0.1], "probabilities": [0.2, 0.3]},
        {"scores": [0.1], "probabilities": [0.2, 0.3]},
        {"scores": [], "probabilities": []},
        {"probabilities": [0.2]},
        {"method": "platt", "scores": [0.1], "probabilities": [0.2]},
    ],
)
def test_a_broken_calibration_map_is_refused_saying_how_to_fix_it(bad: dict) -> None:
    with pytest.raises(DataError, match=r"calibration map cannot be used: .*re-register"):
        Calibration.from_dict(bad)


def _inside(low: float, value: float, high: float) -> bool:
    return low - 1e-12 <= value <= high + 1e-12


@COVERAGE
@given(st.floats(0.3, 5), st.floats(0.3, 5), st.integers(200, 3_000), st.integers(0, 2**32 - 1))
def test_on_labels_drawn_from_calibrated_probabilities_the_interval_covers_at_its_rate(
    a: float, b: float, n: int, seed: int
) -> None:
    """The 90 % interval of each binary metric holds the labelled value of about 90 % of the
    windows whose labels are Bernoulli draws of the (calibrated) scores."""
    rng = np.random.default_rng(seed)
    scores = np.round(rng.beta(a, b, n), 3)  # rounded: ties, as a tree model's scores have
    found = estimate_binary(scores, None, threshold=0.5)
    inside = {"roc_auc": 0, "pr_auc": 0, "accuracy": 0}
    trials = 0
    for _ in range(TRIALS):
        y = rng.random(n) < scores
        if y.all() or not y.any():
            continue
        trials += 1
        realised = {
            "roc_auc": roc_auc_score(y, scores),
            "pr_auc": average_precision_score(y, scores),
            "accuracy": float(np.mean(y == (scores >= 0.5))),
        }
        for name, value in realised.items():
            inside[name] += _inside(found[f"{name}_low"], value, found[f"{name}_high"])
    if trials < TRIALS // 2:  # almost every window of one class: AUC undefined
        return
    for name, count in inside.items():
        assert 0.75 <= count / trials <= 1.0, (name, count, trials, found)


@FITTED
@given(st.integers(200, 3_000), st.floats(0.2, 3), st.integers(0, 2**32 - 1))
def test_the_regression_interval_covers_the_labelled_error_at_its_rate(
    n: int, spread: float, seed: int
) -> None:
    """Residuals that grow with the prediction (heteroscedastic): the interval of a binned model
    fitted on one sample of the process holds the MAE and RMSE of a new window from it about
    90 % of the time (each trial a new fit and a new window: the fit's own error counts too)."""
    rng = np.random.default_rng(seed)

    def draw(rows: int) -> tuple[np.ndarray, np.ndarray]:
        predicted = rng.uniform(0, 10, rows)
        return predicted, predicted + rng.normal(0, 0.2 + spread * predicted / 10, rows)

    inside = {"mae": 0, "rmse": 0}
    for _ in range(TRIALS // 2):
        model = ErrorModel.fit(*draw(5_000))
        assert model is not None and ErrorModel.from_dict(model.to_dict()) == model
        predicted, target = draw(n)
        found = estimate_regression(predicted, model)
        residual = target - predicted
        realised = {"mae": np.abs(residual).mean(), "rmse": math.sqrt(np.mean(residual**2))}
        for name, value in realised.items():
            inside[name] += _inside(found[f"{name}_low"], value, found[f"{name}_high"])
    for name, count in inside.items():
        assert 0.75 <= count / (TRIALS // 2) <= 1.0, (name, count)


def test_the_estimate_ranks_by_the_raw_scores_and_counts_with_the_calibrated_ones() -> None:
    """A calibration step ties scores; the AUC still ranks rows by the model's raw score."""
    raw = np.array([0.1, 0.2, 0.3, 0.4])
    calibrated = np.array([0.2, 0.2, 0.6, 0.6])
    ordered = pairs = 0.0
    for i in range(4):
        for j in range(4):
            if i != j:
                weight = calibrated[i] * (1 - calibrated[j])
                pairs += weight
                ordered += weight * (raw[i] > raw[j])
    assert expected_roc_auc(calibrated, ranking=raw) == pytest.approx(ordered / pairs)
    assert expected_roc_auc(calibrated) < ordered / pairs  # ranked by the tied values instead
    with pytest.raises(DataError, match="one score per probability"):
        expected_roc_auc(calibrated, ranking=raw[:3])


def test_a_window_of_ten_thousand_rows_costs_well_under_a_second() -> None:
    rng = np.random.default_rng(0)
    scores = rng.beta(2, 3, 10_000)
    calibration = Calibration.fit(scores, rng.random(scores.size) < scores)
    model = ErrorModel.fit(scores * 10, scores * 10 + rng.normal(0, 1, scores.size))
    assert calibration is not None and model is not None
    for name, estimate in (
        ("binary", lambda: estimate_binary(scores, calibration, 0.5)),
        ("regression", lambda: estimate_regression(scores * 10, model)),
    ):
        spent = []
        for _ in range(3):
            clock = time.perf_counter()
            estimate()
            spent.append(time.perf_counter() - clock)
        assert min(spent) < 1.0, (name, spent)


def _dispersion_of(p: np.ndarray, y: np.ndarray) -> dict[str, float]:
    return dispersion(
        lambda rows: binary_draws(p[rows], p[rows], 0.5, draws=200),
        lambda rows: binary_metrics(y[rows], p[rows], 0.5),
        p.size,
    )


@COVERAGE
@given(st.integers(0, 2**32 - 1))
def test_independent_rows_need_no_wider_interval_and_rows_sharing_a_cause_do(seed: int) -> None:
    """Labels drawn independently from calibrated probabilities: the dispersion stays near 1.
    Labels whose chunk of rows shares a shift (a storm's afternoon): it grows, and the interval
    with it."""
    rng = np.random.default_rng(seed)
    p = rng.beta(2, 3, 6_000)
    independent = _dispersion_of(p, (rng.random(p.size) < p).astype(float))
    assert set(independent) == {"roc_auc", "pr_auc", "accuracy"}
    assert all(1.0 <= v < 3.0 for v in independent.values()), independent
    logit = np.log(p / (1 - p)) + np.repeat(rng.normal(0, 1.0, 12), 500)  # one shift per chunk
    shared = (rng.random(p.size) < 1 / (1 + np.exp(-logit))).astype(float)
    clustered = _dispersion_of(p, shared)
    # a shift moves the positive rate, so the PR AUC (ROC AUC and accuracy hardly: ranks stay,
    # and rows above and below the threshold trade errors)
    assert clustered["pr_auc"] > 3, clustered
    calibration = Calibration((0.0, 1.0), (0.0, 1.0), 10, clustered)
    narrow, wide = estimate_binary(p[:1000]), estimate_binary(p[:1000], calibration)
    assert wide["pr_auc_high"] - wide["pr_auc_low"] > 1.5 * (
        narrow["pr_auc_high"] - narrow["pr_auc_low"]
    )


def test_the_labelled_metrics_of_one_window_match_scikit_learn() -> None:
    rng = np.random.default_rng(7)
    scores = np.round(rng.random(500), 2)
    y = (rng.random(500) < scores).astype(float)
    found = binary_metrics(y, scores, 0.4)
    assert found["roc_auc"] == pytest.approx(roc_auc_score(y, scores))
    assert found["pr_auc"] == pytest.approx(average_precision_score(y, scores))
    assert found["accuracy"] == pytest.approx(np.mean(y == (scores >= 0.4)))


@pytest.mark.parametrize("bad", [{"roc_auc": 0.5}, {"roc_auc": "wide"}, ["roc_auc"]])
def test_a_broken_dispersion_is_refused(bad: object) -> None:
    good = Calibration((0.0, 1.0), (0.0, 1.0), 10).to_dict()
    with pytest.raises(DataError, match="dispersion"):
        Calibration.from_dict({**good, "dispersion": bad})
