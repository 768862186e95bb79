"""The significance tests against SciPy's own."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from loopml.stats.significance import wilson_lower


@settings(max_examples=200, deadline=None)
@given(count=st.integers(0, 500), extra=st.integers(0, 500), alpha=st.sampled_from([0.01, 0.05]))
def test_wilson_lower_bound_matches_scipy(count: int, extra: int, alpha: float) -> None:
    total = count + extra
    if total == 0:
        return
    expected = stats.binomtest(count, total).proportion_ci(1 - 2 * alpha, method="wilson").low
    assert wilson_lower(count, total, alpha) == pytest.approx(expected, abs=1e-9)
