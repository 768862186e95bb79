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


def test_psi_noise_is_what_identical_distributions_show_on_average() -> None:
    rng = np.random.default_rng(5)
    values = [sample_psi(rng.beta(2, 6, 4000), rng.beta(2, 6, 150)) for _ in range(300)]
    expected = sample_psi_noise(rng.beta(2, 6, 4000), rng.beta(2, 6, 150))
    assert np.mean(values) == pytest.approx(expected, rel=0.25)
