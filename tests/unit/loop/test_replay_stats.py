"""The replay's aggregation: row-weighted means, the weighted metrics the bootstrap uses, and the
recovered share of the never → oracle gap with its paired interval."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loopml.loop.replay_result import Simulation, Window
from loopml.loop.replay_stats import Scored, recovery, score, weighted_mean
from loopml.modeling import metrics as M

sizes = st.lists(st.integers(1, 5000), min_size=1, max_size=12)


@given(st.data(), sizes)
@settings(max_examples=200, deadline=None)
def test_the_mean_is_weighted_by_rows(data: st.DataObject, rows: list[int]) -> None:
    values = data.draw(st.lists(st.floats(0, 1), min_size=len(rows), max_size=len(rows)))
    got = weighted_mean(values, rows)
    assert got == pytest.approx(sum(v * n for v, n in zip(values, rows, strict=True)) / sum(rows))
    assert min(values) - 1e-12 <= got <= max(values) + 1e-12  # type: ignore[operator]
    # a window split in two of the same score changes nothing
    assert weighted_mean([*values, values[0]], [*rows[:-1], rows[-1], 0]) == pytest.approx(got)


def test_missing_scores_are_left_out_not_counted_as_zero() -> None:
    assert weighted_mean([0.8, None, float("nan")], [10, 1000, 1000]) == pytest.approx(0.8)
    assert weighted_mean([None], [5]) is None


def test_a_small_window_counts_as_its_rows_not_as_a_whole_window() -> None:
    """The issue's case: a 33-row window beside a 4,666-row one."""
    sim = Simulation("roc_auc")
    for rows, value in ((4666, 0.70), (33, 0.40)):
        sim.windows.append(Window("w", None, None, rows, rows, {"never": value}, {"never": "m@1"}))
    assert sim.mean("never") == pytest.approx((4666 * 0.70 + 33 * 0.40) / 4699)
    assert sim.mean("never") > 0.69  # the unweighted mean was 0.55


@given(st.integers(0, 2**32 - 1), st.integers(2, 60))
@settings(max_examples=60, deadline=None)
def test_a_mean_metric_over_windows_is_the_metric_over_all_rows(seed: int, windows: int) -> None:
    """Accuracy and MAE are means over rows: weighting windows by rows gives the pooled value."""
    rng = np.random.default_rng(seed)
    cuts = rng.integers(1, 80, windows)
    y = rng.integers(0, 2, cuts.sum())
    p = rng.random(cuts.sum())
    parts = np.split(np.arange(cuts.sum()), np.cumsum(cuts)[:-1])
    for name, task, out in (("accuracy", "binary", p), ("mae", "regression", p * 3)):
        per = [score(name, task, y[i], out[i], np.ones(len(i))) for i in parts]  # type: ignore[arg-type]
        pooled = score(name, task, y, out, np.ones(len(y)))  # type: ignore[arg-type]
        assert weighted_mean(per, list(cuts)) == pytest.approx(pooled)


@given(st.integers(0, 2**32 - 1), st.integers(2, 200))
@settings(max_examples=40, deadline=None)
def test_weighted_metrics_equal_the_metric_on_repeated_rows(seed: int, n: int) -> None:
    """A bootstrap draw's counts as weights score as the drawn rows themselves would."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    y[:2] = [0, 1]
    p = np.round(rng.random(n), 1)  # ties, as real scores have
    counts = rng.integers(0, 4, n)
    counts[:2] = 1
    drawn = np.repeat(np.arange(n), counts)
    for name in ("roc_auc", "accuracy", "log_loss"):
        want = M.one(name, "binary", y[drawn], np.column_stack([1 - p, p])[drawn])
        got = score(name, "binary", y, np.column_stack([1 - p, p]), counts.astype(float))
        assert got == pytest.approx(want, abs=1e-9), name
    values = rng.normal(size=n)
    guess = values + rng.normal(size=n)
    for name in ("rmse", "mae", "r2"):
        want = M.one(name, "regression", values[drawn], guess[drawn])
        got = score(name, "regression", values, guess, counts.astype(float))
        assert got == pytest.approx(want, abs=1e-9), name


def _windows(seed: int, loop: str) -> list[Scored]:
    """Three windows where the oracle knows the answer, never guesses, and the loop is one of
    them."""
    rng = np.random.default_rng(seed)
    out = []
    for rows in (300, 40, 900):
        y = rng.integers(0, 2, rows)
        never = rng.random(rows)
        oracle = np.clip(y * 0.6 + rng.random(rows) * 0.4, 0, 1)
        outputs = {"never": never, "oracle": oracle, "loop": oracle if loop == "oracle" else never}
        out.append(Scored(y, outputs))
    return out


@given(st.integers(0, 2**32 - 1))
@settings(max_examples=10, deadline=None)
def test_a_loop_that_does_what_the_oracle_does_recovers_all_of_the_gap(seed: int) -> None:
    got = recovery(_windows(seed, "oracle"), "roc_auc", "binary", replicates=60, seed=seed)
    assert got.gap_significant and got.gap.low is not None and got.gap.low > 0
    assert got.share is not None
    assert (got.share.value, got.share.low, got.share.high) == pytest.approx((1, 1, 1))
    assert "recovers 100% [100%, 100%]" in got.verdict


@given(st.integers(0, 2**32 - 1))
@settings(max_examples=10, deadline=None)
def test_a_loop_that_never_retrains_recovers_none_of_it(seed: int) -> None:
    got = recovery(_windows(seed, "never"), "roc_auc", "binary", replicates=60, seed=seed)
    assert got.share is not None
    assert (got.share.value, got.share.low, got.share.high) == pytest.approx((0, 0, 0))
    assert (got.gain.value, got.gain.low, got.gain.high) == pytest.approx((0, 0, 0))
    assert not got.worse_than_never


def test_the_interval_brackets_the_estimate_and_is_reproducible() -> None:
    rng = np.random.default_rng(3)
    windows = []
    for rows in (200, 500, 50):
        y = rng.normal(size=rows)
        base = y + rng.normal(size=rows)
        windows.append(
            Scored(y, {"never": base, "loop": y + 0.8 * (base - y), "oracle": y + 0.5 * (base - y)})
        )
    first = recovery(windows, "rmse", "regression", replicates=100, seed=1)
    again = recovery(windows, "rmse", "regression", replicates=100, seed=1)
    assert first == again
    assert first.gain.low is not None and first.gain.high is not None
    assert first.gain.low <= first.gain.value <= first.gain.high  # type: ignore[operator]
    assert first.gain.value > 0, "rmse: lower is better, so the loop's smaller error is a gain"
    assert first.share is not None and 0 < first.share.value < 1  # type: ignore[operator]


def test_no_gap_beyond_noise_gives_no_share_and_says_why() -> None:
    rng = np.random.default_rng(5)
    windows = []
    for rows in (100, 100, 100):
        y = rng.integers(0, 2, rows)
        windows.append(Scored(y, {p: rng.random(rows) for p in ("never", "loop", "oracle")}))
    got = recovery(windows, "roc_auc", "binary", replicates=100)
    assert got.share is None and not got.gap_significant
    assert "oracle gains nothing beyond noise" in got.verdict
    assert got.to_dict()["resampling"] == "rows within windows, paired across policies"


def test_a_loop_worse_than_never_beyond_noise_is_said() -> None:
    rng = np.random.default_rng(8)
    y = rng.integers(0, 2, 2000)
    good = np.clip(y * 0.5 + rng.random(2000) * 0.5, 0, 1)
    got = recovery(
        [Scored(y, {"never": good, "loop": rng.random(2000), "oracle": good})],
        "roc_auc", "binary", replicates=60,
    )  # fmt: skip
    assert got.worse_than_never and "worse than never retraining beyond noise" in got.verdict
