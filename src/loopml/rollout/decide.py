"""The rollout decision: compare a canary with stable and say advance, hold or roll back.

:func:`decide` is a pure function of the evidence (what each arm did in the step so far), the
spec's rollout policy and the failure counts so far; the controller gathers the evidence and
applies the decision. Every check reports its measured value beside its threshold, and one of
three verdicts:

- ``fail``: an absolute limit is broken, or a one-sided test says the canary is worse than stable
  at the policy's ``confidence`` (Fisher's exact test for error and null-output rates, the
  Mann–Whitney U test for latency, which must also be ``max_latency_ratio`` and
  ``latency_slack_ms`` slower at p99, and
  the two-sample Kolmogorov–Smirnov test for predictions, whose PSI must also exceed
  ``max_prediction_psi`` by more than chance reaches: significance alone flags trivial
  differences in large windows, and an effect size alone is noise in small ones); the spec's
  p99 latency target fails when the share of requests slower than it is surely above 1 %, not
  on one window's raw p99.
- ``wait``: too little data to pass. Too little data never passes, but a canary whose error rate
  is surely above the limit fails before ``min_requests``, so a broken model is caught early.
- ``pass``; and ``skip`` for a check that does not apply (no labels yet; no stable traffic to
  compare with, as at 100 %, where only the absolute limits judge).

Both arms are judged on the same window (the current step), because traffic changes with the
hour: comparing a canary's afternoon with stable's morning would flag the clock, not the model.

A failing evaluation holds until ``max_consecutive_failures`` in a row or ``max_failed_checks``
in the rollout, then rolls back; any ``wait`` holds; all passing advances. The controller starts
a fresh window after each failure, so "in a row" means failures on separate evidence (two looks
at one window would fail together, and one unlucky window would roll a sound canary back); the
waits while a fresh window fills keep the count.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
from scipy import stats

from loopml.spec import Rollout
from loopml.stats.psi import PROBABILITY_EDGES, quantile_edges, sample_psi, sample_psi_noise
from loopml.stats.significance import wilson_lower

Verdict = Literal["pass", "fail", "wait", "skip"]
Action = Literal["advance", "hold", "rollback"]
_TAIL = 0.01  # the share of requests a p99 leaves above it
_NO_STABLE = "stable answered nothing in this step (canary at 100%): absolute limits only"


@dataclass(frozen=True)
class Arm:
    """What one arm (stable or canary) did in the window being judged.

    ``latencies_ms`` and ``scores`` hold one value per answered request (``scores``: the positive
    class's probability, the predicted value, or the top class's probability); ``quality`` is the
    spec's metric on the ``labelled`` requests, when labels have arrived, and ``quality_se`` its
    standard error (bootstrap).
    """

    requests: int
    errors: int
    nulls: int
    latencies_ms: np.ndarray
    scores: np.ndarray
    labelled: int = 0
    quality: float | None = None
    quality_se: float = 0.0


@dataclass(frozen=True)
class Check:
    """One check's verdict, its measured value and the threshold it was held to."""

    name: str
    verdict: Verdict
    measured: float | None
    threshold: float | None
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Decision:
    action: Action
    checks: list[Check]
    message: str
    failed: bool  # this evaluation had a failing check
    consecutive_failures: int
    failed_evaluations: int
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Quality:
    """How the spec's primary metric is judged: its name, direction and allowed margin."""

    metric: str
    greater_is_better: bool
    margin: float


def decide(
    canary: Arm,
    stable: Arm,
    policy: Rollout,
    *,
    elapsed_s: float,
    failed_evaluations: int = 0,
    consecutive_failures: int = 0,
    quality: Quality | None = None,
    latency_target_ms: float | None = None,
    probabilities: bool = True,
) -> Decision:
    """The decision for one evaluation of the current step (see the module doc).

    ``probabilities`` says the scores are class probabilities (fixed bins for PSI) rather than
    regression values (bins at stable's deciles)."""
    alpha = 1 - policy.confidence
    enough = canary.requests >= policy.min_requests
    checks = [
        Check(
            "requests",
            "pass" if enough else "wait",
            canary.requests,
            policy.min_requests,
            f"{canary.requests} canary requests in this step (need {policy.min_requests})",
        ),
        Check(
            "duration",
            "pass" if elapsed_s >= policy.min_duration.total_seconds() else "wait",
            round(elapsed_s, 1),
            policy.min_duration.total_seconds(),
            f"{elapsed_s:.0f} s in this step (need {policy.min_duration.total_seconds():.0f} s)",
        ),
        _rate_check(
            "error_rate",
            canary.errors,
            canary.requests,
            stable.errors,
            stable.requests,
            limit=policy.max_error_rate,
            alpha=alpha,
            enough=enough,
            what="errors",
        ),
        _rate_check(
            "null_outputs",
            canary.nulls,
            _answered(canary),
            stable.nulls,
            _answered(stable),
            limit=1 - policy.min_non_null,
            alpha=alpha,
            enough=enough,
            what="null outputs",
        ),
        _latency_check(canary, stable, policy, alpha=alpha, enough=enough),
        _psi_check(canary, stable, policy, alpha=alpha, enough=enough, probabilities=probabilities),
    ]
    if latency_target_ms is not None:
        checks.append(_latency_target_check(canary, latency_target_ms, alpha=alpha, enough=enough))
    if quality is not None:
        checks.append(_quality_check(canary, stable, quality, policy.min_labels, alpha=alpha))
    failed = any(c.verdict == "fail" for c in checks)
    waiting = any(c.verdict == "wait" for c in checks)
    consecutive = consecutive_failures + 1 if failed else consecutive_failures if waiting else 0
    total = failed_evaluations + int(failed)
    failing = ", ".join(c.name for c in checks if c.verdict == "fail")
    if failed and (
        consecutive >= policy.max_consecutive_failures or total >= policy.max_failed_checks
    ):
        action: Action = "rollback"
        message = (
            f"rolling back: {failing} failed ({consecutive} evaluations in a row, {total} in "
            f"this rollout; limits {policy.max_consecutive_failures} and "
            f"{policy.max_failed_checks})"
        )
    elif failed:
        action = "hold"
        message = (
            f"holding: {failing} failed ({consecutive} in a row of "
            f"{policy.max_consecutive_failures} allowed)"
        )
    elif waiting:
        action = "hold"
        names = ", ".join(c.name for c in checks if c.verdict == "wait")
        message = f"holding: too little data for {names}"
    else:
        action = "advance"
        message = "every check passed"
    return Decision(
        action,
        checks,
        message,
        failed,
        consecutive,
        total,
        {
            "canary_requests": canary.requests,
            "stable_requests": stable.requests,
            "canary_labelled": canary.labelled,
            "stable_labelled": stable.labelled,
        },
    )


def _answered(arm: Arm) -> int:
    return arm.requests - arm.errors


def _share(count: int, total: int) -> float:
    return count / total if total else 0.0


def _rate_check(
    name: str,
    count: int,
    total: int,
    stable_count: int,
    stable_total: int,
    *,
    limit: float,
    alpha: float,
    enough: bool,
    what: str,
) -> Check:
    """A rate (errors, nulls) under an absolute ``limit`` and not significantly above stable's.

    Before ``enough`` data it fails only on overwhelming evidence: the Wilson lower bound is
    above the limit. With enough data it also fails when Fisher's test says worse than stable
    and the excess over stable's rate is more than half the limit (against a stable with no
    errors at all, one flake would otherwise be "significant").
    """
    rate, stable_rate = _share(count, total), _share(stable_count, stable_total)
    p_value = 1.0
    if total and stable_total:
        table = [[count, total - count], [stable_count, stable_total - stable_count]]
        p_value = float(stats.fisher_exact(table, alternative="greater").pvalue)
    lower = wilson_lower(count, total, alpha)
    detail = (
        f"canary {rate:.2%} {what} ({count}/{total}) vs stable {stable_rate:.2%} "
        f"({stable_count}/{stable_total}); limit {limit:.2%}; one-sided Fisher p={p_value:.3g}"
    )
    worse_than_stable = p_value < alpha and rate - stable_rate > limit / 2
    if lower > limit or (enough and (worse_than_stable or rate > limit)):
        return Check(name, "fail", round(rate, 6), limit, detail)
    return Check(name, "pass" if enough else "wait", round(rate, 6), limit, detail)


def _latency_check(
    canary: Arm, stable: Arm, policy: Rollout, *, alpha: float, enough: bool
) -> Check:
    limit = policy.max_latency_ratio
    if stable.requests == 0:
        return Check("latency_p99", "skip", None, limit, _NO_STABLE)
    answered = min(len(canary.latencies_ms), len(stable.latencies_ms))
    if not enough or answered < policy.min_requests:
        return Check("latency_p99", "wait", None, limit, "needs min_requests answered on both arms")
    ours = float(np.percentile(canary.latencies_ms, 99))
    theirs = float(np.percentile(stable.latencies_ms, 99))
    ratio = ours / max(theirs, 1e-3)
    p_value = float(
        stats.mannwhitneyu(canary.latencies_ms, stable.latencies_ms, alternative="greater").pvalue
    )
    detail = (
        f"p99 canary {ours:.2f} ms vs stable {theirs:.2f} ms (ratio {ratio:.2f}, limit "
        f"{limit}, and slower by over {policy.latency_slack_ms:g} ms); one-sided Mann-Whitney "
        f"p={p_value:.3g}"
    )
    slower = ours - theirs > policy.latency_slack_ms
    verdict: Verdict = "fail" if ratio > limit and p_value < alpha and slower else "pass"
    return Check("latency_p99", verdict, round(ratio, 4), limit, detail)


def _latency_target_check(canary: Arm, target_ms: float, *, alpha: float, enough: bool) -> Check:
    """The spec's p99 target, held with the noise of a small window in mind: p99 under the target
    means at most 1 % of requests slower than it, so the check fails when that share is, at the
    policy's confidence, above 1 % (Wilson lower bound). A raw p99 of 60 requests is their
    second-slowest; one pause of the machine would otherwise roll back a healthy canary."""
    latencies = canary.latencies_ms
    if not enough or len(latencies) < 1:
        return Check("latency_target", "wait", None, target_ms, "needs min_requests answered")
    p99 = float(np.percentile(latencies, 99))
    slow = int(np.count_nonzero(latencies > target_ms))
    lower = wilson_lower(slow, len(latencies), alpha)
    detail = (
        f"canary p99 {p99:.2f} ms against the spec's target {target_ms} ms: {slow} of "
        f"{len(latencies)} requests slower ({_share(slow, len(latencies)):.2%}; surely at "
        f"least {lower:.2%}, and a p99 target allows 1%)"
    )
    verdict: Verdict = "fail" if lower > _TAIL else "pass"
    return Check("latency_target", verdict, round(p99, 3), target_ms, detail)


def _psi_check(
    canary: Arm, stable: Arm, policy: Rollout, *, alpha: float, enough: bool, probabilities: bool
) -> Check:
    """The prediction distributions: PSI surely over the limit (beyond what chance reaches at the
    policy's confidence), and a significant KS test. On the few dozen requests of a step, chance
    alone gives a PSI of 0.3 now and then, and a sound retrain differs from stable a little:
    only a shift that noise cannot explain rolls a canary back."""
    limit = policy.max_prediction_psi
    if stable.requests == 0:
        return Check("prediction_psi", "skip", None, limit, _NO_STABLE)
    if not enough or min(len(canary.scores), len(stable.scores)) < policy.min_requests:
        return Check("prediction_psi", "wait", None, limit, "needs min_requests answered on both")
    edges = PROBABILITY_EDGES if probabilities else quantile_edges(stable.scores)
    raw = sample_psi(stable.scores, canary.scores, edges)
    noise = sample_psi_noise(stable.scores, canary.scores, edges, confidence=policy.confidence)
    value = max(0.0, raw - noise)
    p_value = float(stats.ks_2samp(canary.scores, stable.scores).pvalue)
    binning = "tenths of probability" if probabilities else "stable's deciles"
    detail = (
        f"PSI of canary predictions against stable's: {value:.3f} beyond sampling noise "
        f"(raw {raw:.3f}, of which chance reaches {noise:.3f} at {policy.confidence:.0%}; bins: "
        f"{binning}), limit {limit}; two-sample Kolmogorov-Smirnov p={p_value:.3g}; canary mean "
        f"{np.mean(canary.scores):.3f} vs stable {np.mean(stable.scores):.3f}"
    )
    verdict: Verdict = "fail" if value > limit and p_value < alpha else "pass"
    return Check("prediction_psi", verdict, round(value, 6), limit, detail)


def _quality_check(
    canary: Arm, stable: Arm, quality: Quality, min_labels: int, *, alpha: float
) -> Check:
    """Labelled quality: fails when the canary is worse than stable by more than the metric's
    margin and by more than the noise allows (one-sided, from both arms' standard errors)."""
    name = f"quality_{quality.metric}"
    if (
        canary.labelled < min_labels
        or stable.labelled < min_labels
        or canary.quality is None
        or stable.quality is None
        or not (math.isfinite(canary.quality) and math.isfinite(stable.quality))
    ):
        return Check(
            name,
            "skip",
            None,
            None,
            f"labels so far: canary {canary.labelled}, stable {stable.labelled} "
            f"(need {min_labels} each)",
        )
    sign = 1 if quality.greater_is_better else -1
    shortfall = sign * (stable.quality - canary.quality)
    noise = float(stats.norm.ppf(1 - alpha)) * math.hypot(canary.quality_se, stable.quality_se)
    detail = (
        f"{quality.metric} canary {canary.quality:.4f} vs stable {stable.quality:.4f} on "
        f"{canary.labelled}/{stable.labelled} labelled requests; shortfall {shortfall:.4f}, "
        f"allowed: margin {quality.margin} and noise {noise:.4f}"
    )
    verdict: Verdict = "fail" if shortfall > max(quality.margin, noise) else "pass"
    return Check(name, verdict, round(shortfall, 6), quality.margin, detail)
