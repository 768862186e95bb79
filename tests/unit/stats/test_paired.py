"""The paired comparison of two models on the same rows: its metrics are scikit-learn's, a model
never beats itself, a clearly better model does with enough rows, and the interval covers the
true difference about as often as it says."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from loopml.modeling import metrics as M
from loopml.spec import METRICS
from loopml.stats.delong import influence, multiclass_influence
from loopml.stats.paired import metric_interval, paired_difference
from loopml.stats.resampled import Blocks, resampled

TASKS = ("binary", "multiclass", "regression")
BY_TASK = {task: sorted(n for n, (tasks, _) in METRICS.items() if task in tasks) for task in TASKS}


def _data(task: str, rows: int, seed: int, signal: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Labels and a model's output with ``signal`` (0: pure noise), rounded so scores tie."""
    rng = np.random.default_rng(seed)
    if task == "regression":
        x = rng.normal(size=rows)
        return x + rng.normal(size=rows), signal * x + rng.normal(scale=0.5, size=rows)
    k = 2 if task == "binary" else 3
    y = np.r_[np.arange(k), rng.integers(0, k, rows - k)]  # every class present
    logits = rng.normal(size=(rows, k)) + signal * 2.0 * np.eye(k)[y]
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    proba = np.round(proba, 2) + 1e-3
    proba /= proba.sum(axis=1, keepdims=True)
    return y, proba[:, 1] if task == "binary" else proba


@settings(max_examples=60, deadline=None)
@given(
    task=st.sampled_from(TASKS),
    rows=st.integers(5, 400),
    seed=st.integers(0, 10_000),
    threshold=st.sampled_from([0.2, 0.5, 0.65]),
)
def test_resampled_metrics_of_the_rows_themselves_are_scikit_learns(
    task: str, rows: int, seed: int, threshold: float
) -> None:
    y, output = _data(task, rows, seed)
    blocks = Blocks.of(rows)
    expected = M.compute(task, y, output, threshold=threshold)  # type: ignore[arg-type]
    for name in BY_TASK[task]:
        got = resampled(name, task, y, output, blocks, np.ones((1, blocks.count)), threshold)  # type: ignore[arg-type]
        assert got[0] == pytest.approx(expected[name], rel=1e-9, abs=1e-12, nan_ok=True), name


@settings(max_examples=40, deadline=None)
@given(
    task=st.sampled_from(TASKS),
    rows=st.integers(2, 300),
    seed=st.integers(0, 10_000),
    confidence=st.sampled_from([0.6, 0.9, 0.95, 0.99]),
    data=st.data(),
)
def test_a_model_compared_with_itself_is_never_better(
    task: str, rows: int, seed: int, confidence: float, data: st.DataObject
) -> None:
    name = data.draw(st.sampled_from(BY_TASK[task]))
    y, output = _data(task, max(rows, 3), seed)
    same = paired_difference(
        name,
        task,
        y,
        output,
        output.copy(),
        confidence=confidence,
        draws=200,
        seed=seed,  # type: ignore[arg-type]
    )
    assert not same.beats() and not same.worse()
    assert same.gain == 0 or np.isnan(same.gain)


@settings(max_examples=25, deadline=None)
@given(task=st.sampled_from(TASKS), seed=st.integers(0, 10_000), data=st.data())
def test_a_clearly_better_model_beats_a_useless_one_with_enough_rows(
    task: str, seed: int, data: st.DataObject
) -> None:
    name = data.draw(st.sampled_from(BY_TASK[task]))
    y, good = _data(task, 2000, seed)
    same_labels, useless = _data(task, 2000, seed, signal=0.0)  # the same noise, no signal
    assert np.array_equal(y, same_labels)
    diff = paired_difference(name, task, y, good, useless, draws=300, seed=seed)  # type: ignore[arg-type]
    assert diff.beats(), diff
    flipped = paired_difference(name, task, y, useless, good, draws=300, seed=seed)  # type: ignore[arg-type]
    assert flipped.worse() and not flipped.beats()


def test_the_interval_covers_the_true_difference_about_as_often_as_it_says() -> None:
    """200 simulated comparisons of 400 rows each; the true differences are known exactly."""
    rng = np.random.default_rng(7)
    covered = {"rmse": 0, "roc_auc": 0}
    truth = {
        # new predicts x (error variance 1), old x + 0.5: rmse gain sqrt(1.25) - 1
        "rmse": np.sqrt(1.25) - 1.0,
        # scores y·d + N(0, 1): ROC AUC = Φ(d/√2)
        "roc_auc": norm.cdf(1.0 / np.sqrt(2)) - norm.cdf(0.8 / np.sqrt(2)),
    }
    runs = 200
    for run in range(runs):
        x = rng.normal(size=400)
        y = x + rng.normal(size=400)
        d = paired_difference("rmse", "regression", y, x, x + 0.5, draws=400, seed=run)
        covered["rmse"] += d.low <= truth["rmse"] <= d.high
        labels = rng.integers(0, 2, 400)
        new = labels * 1.0 + rng.normal(size=400)
        old = labels * 0.8 + rng.normal(size=400)
        d = paired_difference("roc_auc", "binary", labels, new, old, draws=400, seed=run)
        covered["roc_auc"] += d.low <= truth["roc_auc"] <= d.high
    for name, count in covered.items():  # 95 % ± 3.5 binomial standard errors of 200 runs
        assert 0.895 <= count / runs <= 0.99, (name, count / runs)


def test_neighbouring_rows_that_share_their_errors_widen_the_interval() -> None:
    """Errors shared by runs of 5 neighbouring rows (flights of one hour): resampling blocks
    (13 rows here) sees them, and covers the true value about as often as it says."""
    rng = np.random.default_rng(3)
    covered, runs = 0, 200
    for run in range(runs):
        day = np.repeat(rng.normal(size=400), 5)  # 2,000 rows, 400 hours
        truth = rng.normal(size=2000)
        y = truth + day + rng.normal(scale=0.2, size=2000)
        estimate = metric_interval("mae", "regression", y, truth, draws=300, seed=run)
        covered += estimate.covers(np.sqrt(1 + 0.04) * np.sqrt(2 / np.pi))  # E|N(0, 1.04)|
    assert covered / runs >= 0.85


def test_outputs_of_other_rows_are_refused_with_what_to_do() -> None:
    y, output = _data("regression", 50, 1)
    with pytest.raises(ValueError, match=r"expected one output per labelled row \(50\), got 49"):
        paired_difference("rmse", "regression", y, output, output[:-1])
    with pytest.raises(ValueError, match="expected a confidence between 0 and 1"):
        paired_difference("rmse", "regression", y, output, output, confidence=95)
    with pytest.raises(ValueError, match="'rmse' does not apply to a binary task"):
        paired_difference("rmse", "binary", y, output, output)


def test_the_summary_names_the_gain_its_interval_and_the_rows() -> None:
    y, output = _data("binary", 4000, 2)
    _, other = _data("binary", 4000, 2, signal=0.5)
    diff = paired_difference("roc_auc", "binary", y, output, other, seed=0)
    text = diff.describe()
    assert text.startswith(f"gain {diff.gain:+.4f}, 95% interval [{diff.low:+.4f}, ")
    assert text.endswith("on 4,000 rows") and diff.low < diff.gain < diff.high


@settings(max_examples=60, deadline=None)
@given(rows=st.integers(2, 300), seed=st.integers(0, 10_000), task=st.sampled_from(TASKS[:2]))
def test_delong_placements_give_scikit_learns_auc_and_its_classic_variance(
    rows: int, seed: int, task: str
) -> None:
    """The placements' mean is the AUC; their influences sum to 0, and, one row a block, their
    squares add up to DeLong's variance S10/m + S01/n (up to its m−1 and n−1)."""
    y, output = _data(task, max(rows, 3), seed)
    auc, psi = influence(y, output) if task == "binary" else multiclass_influence(y, output)
    assert auc == pytest.approx(M.compute(task, y, output)["roc_auc"], abs=1e-12)  # type: ignore[arg-type]
    assert abs(psi.sum()) < 1e-9
    if task == "binary":
        m, n = int(y.sum()), int(len(y) - y.sum())
        if m > 1 and n > 1:
            placement = np.where(y == 1, psi * m, psi * n) + auc
            classic = placement[y == 1].var(ddof=1) / m + placement[y == 0].var(ddof=1) / n
            ours = float(np.sum(psi**2))
            assert ours == pytest.approx(
                ((m - 1) / m) * placement[y == 1].var(ddof=1) / m
                + ((n - 1) / n) * placement[y == 0].var(ddof=1) / n
            )
            assert ours <= classic + 1e-15


def test_fewer_than_ten_blocks_measure_no_noise_so_nothing_beats_anything() -> None:
    y, good = _data("regression", 30, 4)  # 30 rows: 8 blocks of 4
    diff = paired_difference("rmse", "regression", y, good, good + 3.0)
    assert diff.gain > 0 and np.isnan(diff.low) and not diff.beats()
