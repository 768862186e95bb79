"""PSI on raw samples: never negative, zero for one sample, and its noise what chance shows."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loopml.stats.psi import sample_psi, sample_psi_noise


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.floats(0, 1, allow_nan=False), min_size=20, max_size=300),
    st.lists(st.floats(0, 1, allow_nan=False), min_size=20, max_size=300),
)
def test_psi_is_non_negative_and_zero_for_identical_samples(a: list[float], b: list[float]) -> None:
    x, y = np.array(a), np.array(b)
    assert sample_psi(x, y) >= 0
    assert sample_psi(x, x) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(("n", "m"), [(4000, 150), (60, 60)])
def test_chance_exceeds_the_noise_bound_at_most_as_often_as_the_confidence_allows(
    n: int, m: int
) -> None:
    rng = np.random.default_rng(5)
    pairs = [(rng.beta(2, 6, n), rng.beta(2, 6, m)) for _ in range(400)]
    over = [sample_psi(a, b) > sample_psi_noise(a, b, confidence=0.95) for a, b in pairs]
    assert 0.005 <= np.mean(over) <= 0.08  # about 5 %: neither ignoring chance nor deaf to it


def test_a_bin_one_small_sample_misses_is_not_a_major_shift() -> None:
    edges = np.linspace(0, 1, 11)[1:-1]
    reference = np.r_[np.full(59, 0.15), 0.55]  # one stray value in a bin of its own
    current = np.full(60, 0.15)
    assert sample_psi(reference, current, edges) < 0.05
