"""Quality before labels: the estimates against brute force and against simulated labels."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from loopml.errors import DataError
from loopml.monitoring.estimate import (
    expected_accuracy,
    expected_multiclass_accuracy,
    expected_roc_auc,
)

PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
probabilities = st.floats(0, 1, allow_subnormal=False) | st.sampled_from([0.0, 0.25, 0.5, 1.0])


def brute_force_auc(p: np.ndarray) -> float:
    """The O(n²) definition: expected ordered positive-negative pairs over expected pairs."""
    ordered = pairs = 0.0
    for i in range(p.size):
        for j in range(p.size):
            if i != j:
                weight = p[i] * (1 - p[j])
                pairs += weight
                ordered += weight * (1.0 if p[i] > p[j] else 0.5 if p[i] == p[j] else 0.0)
    return ordered / pairs if pairs > 0 else math.nan


@PROPERTY
@given(st.lists(probabilities, max_size=40))
def test_expected_roc_auc_equals_the_brute_force_sum(scores: list[float]) -> None:
    p = np.array(scores, dtype=np.float64)
    found, expected = expected_roc_auc(p), brute_force_auc(p)
    if math.isnan(expected):
        assert math.isnan(found)
    else:
        assert found == pytest.approx(expected, rel=1e-9, abs=1e-12)
        assert 0 <= found <= 1


def test_estimates_match_the_average_over_simulated_labels() -> None:
    """Calibrated scores: labels drawn as Bernoulli(score) average to the estimates."""
    rng = np.random.default_rng(0)
    scores = rng.beta(2, 3, 2_000)
    labels = rng.random((200, scores.size)) < scores
    aucs = [roc_auc_score(y, scores) for y in labels]
    assert np.mean(aucs) == pytest.approx(expected_roc_auc(scores), abs=0.02)
    for threshold in (0.5, 0.3):
        accuracy = np.mean(labels == (scores >= threshold), axis=1)
        assert np.mean(accuracy) == pytest.approx(expected_accuracy(scores, threshold), abs=0.01)


def test_expected_multiclass_accuracy_matches_simulated_labels() -> None:
    rng = np.random.default_rng(1)
    table = rng.dirichlet([1.0, 2.0, 3.0], 2_000)
    draws = (rng.random((200, table.shape[0], 1)) > table.cumsum(axis=1)).sum(axis=2)
    accuracy = np.mean(draws == table.argmax(axis=1), axis=1)
    assert np.mean(accuracy) == pytest.approx(expected_multiclass_accuracy(table), abs=0.01)


def test_edges() -> None:
    assert expected_roc_auc(np.full(100, 0.3)) == 0.5  # all tied
    assert expected_roc_auc(np.array([0.1, 0.9])) == pytest.approx(0.81 / 0.82)  # 1 of 2 orders
    for degenerate in ([], [0.4], [0.0, 0.0], [1.0, 1.0, 1.0]):
        assert math.isnan(expected_roc_auc(np.array(degenerate)))
    assert math.isnan(expected_accuracy(np.array([])))
    assert math.isnan(expected_multiclass_accuracy(np.zeros((0, 3))))
    assert expected_accuracy(np.array([0.9, 0.2, 0.5])) == pytest.approx((0.9 + 0.8 + 0.5) / 3)
    assert expected_multiclass_accuracy([[0.2, 0.8], [0.6, 0.4]]) == pytest.approx(0.7)


@pytest.mark.parametrize("bad", [[0.5, 1.2], [float("nan")], [-0.1]])
def test_scores_outside_zero_one_raise(bad: list[float]) -> None:
    with pytest.raises(DataError, match="probabilities in"):
        expected_roc_auc(np.array(bad))
    with pytest.raises(DataError, match="probabilities in"):
        expected_accuracy(np.array(bad))
    with pytest.raises(DataError, match="2-D"):
        expected_multiclass_accuracy(np.array([0.5, 0.5]))
