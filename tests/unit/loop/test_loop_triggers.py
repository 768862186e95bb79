"""The evidence triggers, walked through time: new labels, a drop from the model's own quality at
registration beyond noise, drift that matters; and attempts that stored nothing leave the
cooldown and the weekly budget alone."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from loopml.loop.policy import History, Plan, Signal, plan
from loopml.loop.triggers import (
    NEW_LABELS_SHARE,
    Evidence,
    closed_form_se,
    labels_needed,
    quality_drop,
    weigh_drift,
)
from loopml.spec import Retrain
from loopml.store import WindowRecord

T0 = datetime(2026, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
MODEL = "flights@2"


def window(
    start: datetime,
    *,
    rows: int = 1000,
    auc: float | None = None,
    labelled: int | None = None,
    rate: float = 0.4,
    drift: list[dict[str, Any]] | None = None,
    partial: bool = False,
    model: str = MODEL,
) -> WindowRecord:
    metrics: dict[str, Any] = {"rows": float(rows), "label_rate": rate}
    if auc is not None:
        metrics["quality.roc_auc"] = auc
        metrics["quality.labelled"] = float(rows if labelled is None else labelled)
    return WindowRecord(
        "flights", model, "1h", start, start + HOUR, rows, metrics,
        {"drift": drift or []}, partial,
    )  # fmt: skip


def evidence(
    windows: list[WindowRecord],
    *,
    new_labels: int = 0,
    training_rows: int = 4000,
    reference: float | None = 0.87,
    importance: dict[str, float] | None = None,
) -> Evidence:
    return Evidence(
        MODEL, "roc_auc", True, new_labels, training_rows, reference, 600,
        importance or {}, windows,
    )  # fmt: skip


def decide(
    policy: Retrain,
    found: Evidence | None,
    now: datetime = T0,
    signals: list[Signal] = (),  # type: ignore[assignment]
    history: History | None = None,
) -> Plan:
    return plan(
        policy,
        list(signals),
        now=now,
        history=history or History(),
        serving_since=T0 - timedelta(days=30),
        new_labels=100,
        evidence=found,
    )


# --- labels ---------------------------------------------------------------------------------


def test_new_labels_retrain_at_a_share_of_the_training_rows_then_count_from_the_attempt() -> None:
    policy = Retrain()
    assert "labels" in policy.on
    needed = labels_needed(None, 4000, 100)
    assert needed == math.ceil(NEW_LABELS_SHARE * 4000) == 1000
    assert labels_needed(None, 300, 100) == 200, "never fewer than a retrain needs"
    assert labels_needed(50, 4000, 100) == 50
    assert decide(policy, evidence([], new_labels=999)).action == "none"
    fired = decide(policy, evidence([], new_labels=1000))
    assert fired.action == "retrain" and fired.signals[0].kind == "labels"
    assert "1,000 labelled production rows flights@2 did not train on" in fired.reason
    # after a rejected attempt, only the labels since it count: the same rows, the same verdict
    tried = T0 - timedelta(days=2)
    after = History([tried], "rejected", labels_since=400, last_tried=tried)
    assert decide(policy, evidence([], new_labels=5000), history=after).action == "none"
    again = History([tried], "rejected", labels_since=1200, last_tried=tried)
    retried = decide(policy, evidence([], new_labels=5000), history=again)
    assert retried.action == "retrain" and "since the last attempt" in retried.reason
    assert decide(Retrain(on=["drift"]), evidence([], new_labels=10**6)).action == "none"
    assert decide(Retrain(min_new_labels=10), evidence([], new_labels=10)).action == "retrain"


@settings(max_examples=100, deadline=None)
@given(
    arrivals=st.lists(st.integers(0, 400), min_size=1, max_size=60),
    outcomes=st.lists(st.sampled_from(["rollout", "rejected", "invalid", "failed"]), min_size=60),
    cooldown_h=st.integers(0, 48),
)
def test_a_labels_retrain_always_has_its_labels_and_respects_the_cooldown(
    arrivals: list[int], outcomes: list[str], cooldown_h: int
) -> None:
    """Labels arrive every 6 hours; each retrain ends in a random outcome (a deployment resets
    the model's new labels). Every labels retrain had ``min_new_labels`` new labels since the
    last attempt, and only attempts that stored something hold the cooldown."""
    policy = Retrain(on=["labels"], cooldown=timedelta(hours=cooldown_h), max_per_week=50)
    needed = labels_needed(None, 2000, 100)
    unseen = since = 0
    counted: list[datetime] = []
    last: tuple[datetime, str] | None = None
    for step, count in enumerate(arrivals):
        now = T0 + step * 6 * HOUR
        unseen, since = unseen + count, since + count
        tried, outcome = last if last else (None, None)
        history = History(counted[::-1], outcome, since, tried)
        found = evidence([], new_labels=unseen, training_rows=2000)
        decided = decide(policy, found, now, [], history)
        if decided.action != "retrain":
            continue
        assert min(unseen, since) >= needed
        assert not counted or now - counted[-1] >= policy.cooldown
        outcome = outcomes[step]
        last, since = (now, outcome), 0
        if outcome not in ("invalid", "failed"):
            counted.append(now)
        if outcome == "rollout":
            unseen = 0


# --- quality against the model's own at registration ---------------------------------------


def test_a_quality_drop_beyond_noise_triggers_where_the_absolute_target_never_would() -> None:
    policy = Retrain(on=["quality"])  # no metric.target at all: only the model's own quality
    steady = [window(T0 + i * HOUR, auc=0.865) for i in range(3)]
    assert decide(policy, evidence(steady)).action == "none"
    worse = [*steady, window(T0 + 3 * HOUR, auc=0.80, rows=3000)]
    fired = decide(policy, evidence(worse))
    assert fired.action == "retrain" and fired.signals[0].kind == "quality"
    assert "8.0% worse than its 0.87 at registration" in fired.reason
    # the same drop on 60 labelled rows is noise; on a partial window it is not judged yet
    small = [*steady, window(T0 + 3 * HOUR, auc=0.80, rows=60)]
    assert decide(policy, evidence(small)).action == "none", "below min_samples: not judged"
    noisy = [*steady, window(T0 + 3 * HOUR, auc=0.80, rows=1000, labelled=120)]
    drop = quality_drop(evidence(noisy), 100)
    assert drop is not None and drop.drop > 0.07 and drop.lower < policy.quality_drop
    assert decide(policy, evidence(noisy)).action == "none", "a 7 % drop on 120 rows is noise"
    open_window = [*steady, window(T0 + 3 * HOUR, auc=0.70, partial=True)]
    assert decide(policy, evidence(open_window)).action == "none"
    assert decide(policy, evidence(worse, reference=None)).action == "none"
    # a wider quality_drop tolerates the same drop
    assert decide(Retrain(on=["quality"], quality_drop=0.1), evidence(worse)).action == "none"


@settings(max_examples=200, deadline=None)
@given(
    reference=st.floats(0.55, 0.99),
    value=st.floats(0.5, 1.0),
    worse=st.floats(0.0, 0.3),
    n=st.integers(100, 50_000),
    rate=st.floats(0.02, 0.98),
)
def test_the_quality_trigger_is_monotone_and_never_fires_on_a_window_as_good(
    reference: float, value: float, worse: float, n: int, rate: float
) -> None:
    """A window at least as good as at registration never fires; if a window fires, any worse
    window of the same size fires too; the lower bound is below the drop itself."""
    policy = Retrain(on=["quality"])

    def judged(auc: float) -> tuple[bool, Any]:
        found = evidence([window(T0, auc=auc, rows=n, rate=rate)], reference=reference)
        return decide(policy, found).action == "retrain", quality_drop(found, 100)

    fired, drop = judged(value)
    assert drop is not None and drop.lower <= drop.drop
    if value >= reference:
        assert not fired
    if fired:
        assert judged(max(value - worse, 0.0))[0]


def test_the_quality_trigger_rarely_fires_on_windows_of_an_unchanged_model() -> None:
    """Windows scored from the very model at registration (binormal scores, AUC 0.80): the
    closed-form noise keeps false triggers far under 5 %; a real drop to 0.70 fires."""
    rng = np.random.default_rng(0)

    def sampled_auc(separation: float, n: int) -> float:
        y = rng.random(n) < 0.3
        scores = rng.normal(0.0, 1.0, n) + separation * y
        return float(roc_auc_score(y, scores))

    policy = Retrain(on=["quality"], quality_drop=0.0)  # the strictest: any drop beyond noise
    separation = math.sqrt(2) * 1.190  # Φ(1.190) ≈ 0.883 → AUC of the binormal model ≈ 0.80
    reference = float(np.mean([sampled_auc(separation, 20_000) for _ in range(3)]))
    false = 0
    for i in range(200):
        auc = sampled_auc(separation, 400)
        found = evidence([window(T0 + i * HOUR, auc=auc, rows=400, rate=0.3)], reference=reference)
        false += decide(policy, found).action == "retrain"
    assert false <= 10, f"{false} of 200 windows of an unchanged model fired"
    drops = 0
    for i in range(50):
        auc = sampled_auc(0.74, 400)  # AUC ≈ 0.70
        found = evidence([window(T0 + i * HOUR, auc=auc, rows=400, rate=0.3)], reference=reference)
        drops += decide(policy, found).action == "retrain"
    assert drops >= 45, f"only {drops} of 50 windows of a model at 0.70 fired"


def test_closed_form_errors_shrink_with_rows_and_fit_their_metric() -> None:
    cases = [("roc_auc", 0.8), ("accuracy", 0.7), ("rmse", 3.0), ("mae", 2.0),
             ("r2", 0.5), ("log_loss", 0.6), ("pr_auc", 0.4), ("f1", 0.5)]  # fmt: skip
    for metric, value in cases:
        small = closed_form_se(metric, value, 100, 0.3)
        large = closed_form_se(metric, value, 10_000, 0.3)
        assert small is not None and large is not None
        assert small == pytest.approx(large * 10, rel=0.2), metric
    assert closed_form_se("unknown", 1.0, 100) is None and closed_form_se("rmse", 1.0, 1) is None


# --- drift that matters ---------------------------------------------------------------------


def drifted(feature: str, psi: float, *, flag: bool = True) -> dict[str, Any]:
    return {"feature": feature, "psi": psi, "decided_by": "psi", "value": psi,
            "threshold": 0.2, "drifted": flag}  # fmt: skip


def test_drift_triggers_only_when_it_matters_to_the_model() -> None:
    shares = {"dep_hour": 0.6, "temp": 0.05, "distance": 0.35}
    start = T0
    alert = Signal("drift", start, "drift[*] on temp", 7, "temp", ("1h", start.isoformat()))
    policy = Retrain(on=["drift"])

    def with_drift(rows: list[dict[str, Any]]) -> Plan:
        return decide(policy, evidence([window(start, drift=rows)], importance=shares),
                      signals=[alert])  # fmt: skip

    minor = with_drift([drifted("temp", 3.0), drifted("dep_hour", 0.01, flag=False)])
    assert minor.action == "none", "a feature with 5 % of the importance at PSI 3: 0.75×"
    heavy = with_drift([drifted("temp", 0.5), drifted("dep_hour", 0.4)])
    assert heavy.action == "retrain" and "importance-weighted drift 1.32×" in heavy.reason
    assert "dep_hour" in heavy.reason
    scores = with_drift([drifted("temp", 0.3), drifted("prediction", 0.4)])
    assert scores.action == "retrain" and "the predictions drifted" in scores.reason
    stale = decide(policy, evidence([], importance=shares), signals=[alert])
    assert stale.action == "none", "an alert whose window is not among the recent ones"
    legacy = decide(policy, None, signals=[alert])
    assert legacy.action == "retrain", "without windows to weigh it, any drift alert"
    by_p = {"feature": "dep_hour", "psi": 0.5, "decided_by": "ks_pvalue", "value": 1e-9,
            "threshold": 0.01, "drifted": True}  # fmt: skip
    weighed = weigh_drift(window(start, drift=[by_p]), {"dep_hour": 1.0}, 0.2)
    assert weighed.matters and weighed.weighted == pytest.approx(2.5), "a p-value weighs by PSI"
    even = weigh_drift(window(start, drift=[drifted("a", 0.3), drifted("b", 0.1)]), {}, 0.2)
    assert even.weighted == pytest.approx(1.0) and even.matters, "no importance: equal shares"
