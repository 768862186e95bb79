"""The replay's figures: each policy's row-weighted mean, and how much of the never → oracle gap
the loop recovers, with bootstrap intervals.

**Row-weighted.** A window's metric is weighted by the labelled rows it was scored on: a 33-row
window is a noisy estimate and counts 33/4,666 as much as a 4,666-row one. For a metric that is
itself a mean over rows (accuracy, MAE) this is the metric over all the replayed rows.

**The interval resamples rows within windows, paired across policies.** The windows are the
replay's fixed schedule, not draws from a population of months: a replay has few of them (often
under ten), each policy's model in one depends on the windows before it, and a bootstrap over
windows would then say little and mix the loop's adaptation with chance. What is noisy is which
rows each window happened to hold, so each replicate draws every window's rows with replacement
(stratified by window: a window keeps its size and weight), and scores the three policies on the
*same* draw, so the differences (loop − never, oracle − never) carry only the noise of the
comparison. The interval is the percentile interval of the replicates.

A metric's better direction is folded in: a *gain* is positive when a policy does better than
``never``, whatever the metric (``rmse`` down, ``roc_auc`` up).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from loopml.modeling import metrics as M
from loopml.spec import Task

REPLICATES = 200  # percentile bounds at 2.5 % / 97.5 % rest on 5 replicates each side
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Scored:
    """One window's labelled rows: the encoded target ``y`` and each policy's model output on
    the same rows; ``targets`` holds a policy's own encoding of them where its model orders the
    classes differently (a class that arrived later)."""

    y: np.ndarray
    outputs: Mapping[str, np.ndarray]
    targets: Mapping[str, np.ndarray] | None = None

    @property
    def rows(self) -> int:
        return len(self.y)

    def target(self, policy: str) -> np.ndarray:
        """``y`` as ``policy``'s model encodes it."""
        return self.y if self.targets is None else self.targets.get(policy, self.y)


@dataclass(frozen=True)
class Interval:
    """A point estimate with its bootstrap interval (``None`` bounds: not enough replicates)."""

    value: float | None
    low: float | None
    high: float | None

    def to_dict(self) -> dict[str, float | None]:
        return {"value": self.value, "low": self.low, "high": self.high}


@dataclass(frozen=True)
class Recovery:
    """What the loop earned: its gain over ``never``, the oracle's gain (the gap), the share of
    the gap recovered (``None`` unless the oracle gains beyond noise), and a verdict in words."""

    gain: Interval
    gap: Interval
    share: Interval | None
    confidence: float
    replicates: int
    verdict: str

    @property
    def gap_significant(self) -> bool:
        return self.gap.low is not None and self.gap.low > 0

    @property
    def worse_than_never(self) -> bool:
        """The loop scores below never retraining by more than the comparison's noise."""
        return self.gain.high is not None and self.gain.high < 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "gain_over_never": self.gain.to_dict(),
            "oracle_gap": self.gap.to_dict(),
            "recovered_share": None if self.share is None else self.share.to_dict(),
            "gap_significant": self.gap_significant,
            "worse_than_never": self.worse_than_never,
            "confidence": self.confidence,
            "replicates": self.replicates,
            "resampling": "rows within windows, paired across policies",
            "verdict": self.verdict,
        }


def weighted_mean(values: Sequence[float | None], weights: Sequence[int]) -> float | None:
    """The mean of the finite ``values`` weighted by ``weights`` (rows); ``None`` if none."""
    pairs = [
        (v, w) for v, w in zip(values, weights, strict=True) if v is not None and np.isfinite(v)
    ]
    total = sum(w for _, w in pairs)
    if not pairs or total <= 0:
        return None
    return float(sum(v * w for v, w in pairs) / total)


def score(name: str, task: Task, y: np.ndarray, output: np.ndarray, weight: np.ndarray) -> float:
    """Metric ``name`` on rows weighted by ``weight`` (bootstrap counts), as :func:`M.one`
    computes it unweighted (threshold 0.5 for binary decisions). Common metrics take an O(n)
    path, so a few hundred replicates of a 300,000-row replay take seconds."""
    positive = output[:, 1] if task == "binary" and output.ndim == 2 else output
    total = weight.sum()
    if total <= 0:
        return float("nan")
    if task == "binary" and name == "roc_auc":
        return _auc(y, positive, weight)
    if task == "binary" and name == "accuracy":
        return float(np.sum(weight * ((positive >= 0.5) == (y == 1))) / total)
    if task == "binary" and name == "log_loss":
        p = np.clip(positive, 1e-15, 1 - 1e-15)
        return float(-np.sum(weight * (y * np.log(p) + (1 - y) * np.log(1 - p))) / total)
    if task == "regression" and name in ("rmse", "mae", "r2"):
        error = y - output
        if name == "rmse":
            return float(np.sqrt(np.sum(weight * error**2) / total))
        if name == "mae":
            return float(np.sum(weight * np.abs(error)) / total)
        centre = np.sum(weight * y) / total
        spread = np.sum(weight * (y - centre) ** 2)
        return float(1 - np.sum(weight * error**2) / spread) if spread > 0 else float("nan")
    keep = weight > 0
    return M.compute(task, y[keep], output[keep], weight=weight[keep]).get(name, float("nan"))


def _auc(
    y: np.ndarray, positive: np.ndarray, weight: np.ndarray, group: np.ndarray | None = None
) -> float:
    """Weighted ROC AUC by tie groups (``group``: each row's rank among the distinct scores,
    computed here unless given): each positive's weight times the negative weight below its
    score, ties counting half (the Mann-Whitney statistic)."""
    if group is None:
        group = np.unique(positive, return_inverse=True)[1]
    pos = np.bincount(group, weights=weight * (y == 1))
    neg = np.bincount(group, weights=weight * (y != 1))
    below = np.cumsum(neg) - neg
    pairs = pos.sum() * neg.sum()
    return float(np.sum(pos * (below + 0.5 * neg)) / pairs) if pairs > 0 else float("nan")


def recovery(
    windows: Sequence[Scored],
    metric: str,
    task: Task,
    *,
    replicates: int = REPLICATES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> Recovery:
    """The loop's gain over ``never``, the oracle's (the gap) and their ratio, each with a
    percentile interval from ``replicates`` paired row bootstraps within windows."""
    sign = 1.0 if M.greater_is_better(metric) else -1.0
    windows = [w for w in windows if w.rows > 0]
    scorer = _Scorer(windows, metric, task)
    point = _means(windows, scorer, [np.ones(w.rows) for w in windows])
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(replicates):
        counts = [np.bincount(rng.integers(0, w.rows, w.rows), minlength=w.rows) for w in windows]
        draws.append(_means(windows, scorer, [c.astype(float) for c in counts]))
    tail = (1 - confidence) / 2

    def interval(of: Any) -> Interval:
        value = of(point)
        samples = np.array([v for v in (of(d) for d in draws) if v is not None and np.isfinite(v)])
        if value is None or len(samples) < max(2, replicates // 2):
            return Interval(value, None, None)
        low, high = np.quantile(samples, [tail, 1 - tail])
        return Interval(value, float(low), float(high))

    def gain(of: str) -> Any:
        def diff(means: dict[str, float | None]) -> float | None:
            a, b = means.get(of), means.get("never")
            return None if a is None or b is None else sign * (a - b)

        return diff

    def share(means: dict[str, float | None]) -> float | None:
        loop, gap = gain("loop")(means), gain("oracle")(means)
        return None if loop is None or gap is None or gap == 0 else loop / gap

    loop_gain, gap = interval(gain("loop")), interval(gain("oracle"))
    significant = gap.low is not None and gap.low > 0
    recovered = interval(share) if significant else None
    return Recovery(
        loop_gain, gap, recovered, confidence, replicates,
        _verdict(metric, loop_gain, gap, recovered, confidence),
    )  # fmt: skip


class _Scorer:
    """:func:`score` for window ``i`` and a policy under row weights, with what does not depend
    on the weights (ROC AUC's tie groups) computed once for all replicates."""

    def __init__(self, windows: Sequence[Scored], metric: str, task: Task) -> None:
        self.windows, self.metric, self.task = windows, metric, task
        self.groups: dict[tuple[int, str], np.ndarray] = {}
        if task == "binary" and metric == "roc_auc":
            for i, w in enumerate(windows):
                for policy, output in w.outputs.items():
                    positive = output[:, 1] if output.ndim == 2 else output
                    self.groups[i, policy] = np.unique(positive, return_inverse=True)[1]

    def __call__(self, i: int, policy: str, weight: np.ndarray) -> float:
        w = self.windows[i]
        y, output = w.target(policy), w.outputs[policy]
        group = self.groups.get((i, policy))
        if group is None:
            return score(self.metric, self.task, y, output, weight)
        positive = output[:, 1] if output.ndim == 2 else output
        return _auc(y, positive, weight, group)


def _means(
    windows: Sequence[Scored], scorer: _Scorer, weights: Sequence[np.ndarray]
) -> dict[str, float | None]:
    """Each policy's row-weighted mean of its window metrics under row weights ``weights``."""
    policies = windows[0].outputs.keys() if windows else ()
    sizes = [w.rows for w in windows]
    means = {}
    for policy in policies:
        values = [scorer(i, policy, c) for i, c in enumerate(weights)]
        means[policy] = weighted_mean(values, sizes)
    return means


def _shown(interval: Interval, percent: bool = False) -> str:
    def one(v: float | None) -> str:
        if v is None:
            return "n/a"
        return f"{v:.0%}" if percent else f"{v:+.4f}"

    bounds = "" if interval.low is None else f" [{one(interval.low)}, {one(interval.high)}]"
    return one(interval.value) + bounds


def _verdict(
    metric: str, gain: Interval, gap: Interval, share: Interval | None, confidence: float
) -> str:
    level = f"{confidence:.0%} interval, rows resampled within windows"
    said = f"oracle − never {_shown(gap)}, loop − never {_shown(gain)} ({metric}, {level})"
    if share is not None:
        head = f"the loop recovers {_shown(share, percent=True)} of the never → oracle gap"
    elif gap.value is None:
        head = "no comparison: too few scored windows"
    else:
        head = "the oracle gains nothing beyond noise: there is no gap to recover"
    if gain.high is not None and gain.high < 0:
        head += "; the loop is worse than never retraining beyond noise"
    return f"{head}: {said}"
