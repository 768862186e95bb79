"""Features ranked by importance-weighted drift, the bounded per-feature charts built on that
ranking, and the histogram bins of a feature's page: properties over any window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from loopml.reports.monitor_base import LINES
from loopml.reports.monitor_charts import figures
from loopml.reports.monitor_feature import CATEGORIES, OTHER, category_bins, numeric_bins
from loopml.reports.monitor_ranking import PREDICTION, judged_window, rank_drift, rank_keys
from loopml.spec import parse_spec
from loopml.stats.quantiles import QuantileSketch
from loopml.store import WindowRecord

START = datetime(2026, 1, 1, tzinfo=UTC)
names = st.lists(st.from_regex(r"f[a-z0-9_]{0,8}", fullmatch=True), min_size=1, max_size=80,
                 unique=True)  # fmt: skip


def _drift(feature: str, psi: float, decided_by: str = "psi") -> dict[str, Any]:
    value = psi if decided_by == "psi" else 1e-6
    return {"feature": feature, "decided_by": decided_by, "value": value, "psi": psi,
            "threshold": 0.2, "drifted": psi > 0.2}  # fmt: skip


def _window(features: list[str], psis: list[float], *, version: str = "m@1", offset: int = 0,
            rows: int = 500, prediction: bool = True) -> WindowRecord:  # fmt: skip
    drift = [_drift(f, p) for f, p in zip(features, psis, strict=False)]
    if prediction:
        drift.append(_drift(PREDICTION, 0.01))
    metrics: dict[str, Any] = {"rows": float(rows)}
    for d in drift:
        metrics[f"drift_value.{d['feature']}"] = d["value"]
        metrics[f"drift.{d['feature']}"] = float(d["drifted"])
    for f, p in zip(features, psis, strict=False):
        metrics[f"missing_fraction.{f}"] = min(1.0, p / 10)
        metrics[f"missing_increase.{f}"] = min(1.0, p / 20)
        metrics[f"unseen.{f}"] = 0.0
        metrics[f"some_new_metric.{f}"] = p  # a family no chart knows: "Other metrics"
    start = START + timedelta(hours=offset)
    return WindowRecord("m", version, "500rows", start, start + timedelta(hours=1), rows,
                        metrics, {"drift": drift})  # fmt: skip


@given(names, st.data())
def test_the_ranking_is_prediction_first_then_by_weighted_drift(
    features: list[str], data: st.DataObject
) -> None:
    psis = data.draw(st.lists(st.floats(0, 10), min_size=len(features), max_size=len(features)))
    weights = data.draw(st.lists(st.floats(0, 1), min_size=len(features), max_size=len(features)))
    total = sum(weights) or 1.0
    shares = {f: w / total for f, w in zip(features, weights, strict=True)}
    ranked = rank_drift(_window(features, psis), shares)
    assert ranked[0].feature == PREDICTION
    assert sorted(r.feature for r in ranked[1:]) == sorted(features)  # each feature once
    scores = [r.score for r in ranked[1:]]
    assert scores == sorted(scores, reverse=True)  # type: ignore[type-var]
    for r in ranked[1:]:
        assert r.score == shares[r.feature] * psis[features.index(r.feature)]
    unweighted = rank_drift(_window(features, psis), {})  # no importance: the drift decides
    assert [r.effect for r in unweighted[1:]] == sorted(psis, reverse=True)


def test_a_p_value_ranks_by_the_psi_and_unmeasured_features_come_last() -> None:
    window = _window([], [], prediction=False)
    window.details["drift"] = [_drift("a", 0.5, "ks_pvalue"), _drift("b", 2.0, "ks_pvalue")]
    ranked = rank_drift(window, {"a": 0.5, "b": 0.5, "c": 0.0}, ["a", "b", "c"])
    assert [(r.feature, r.effect) for r in ranked] == [("b", 2.0), ("a", 0.5), ("c", None)]


@given(st.lists(st.integers(1, 1_000), min_size=1, max_size=20), st.integers(1, 1_000))
def test_the_judged_window_is_the_latest_large_enough(sizes: list[int], least: int) -> None:
    windows = [_window([], [], offset=i, rows=n) for i, n in enumerate(sizes)]
    judged = judged_window(windows, least)
    big = [w for w in windows if w.rows >= least]
    assert judged is (big[-1] if big else windows[-1])


@given(names, st.data())
def test_rank_keys_orders_by_importance_times_value(
    features: list[str], data: st.DataObject
) -> None:
    psis = data.draw(st.lists(st.floats(0, 10), min_size=len(features), max_size=len(features)))
    window = _window(features, psis)
    keys = [f"missing_fraction.{f}" for f in features]
    shares = {f: 1.0 / len(features) for f in features}
    ranked = rank_keys(window, list(reversed(keys)), shares)
    values = [window.metrics[k] for k in ranked]
    assert sorted(ranked) == sorted(keys) and values == sorted(values, reverse=True)


SPEC = parse_spec(
    "name: m\ntask: binary\ntarget: y\nfeatures: {numeric: [x]}\nmetric: {name: roc_auc}\n"
    "monitoring: {min_samples: 100}\n"
)


@settings(max_examples=40, deadline=None)
@given(names, st.integers(1, 3), st.data())
def test_no_chart_has_a_long_legend_whatever_the_feature_count(
    features: list[str], versions: int, data: st.DataObject
) -> None:
    psis = data.draw(st.lists(st.floats(0, 10), min_size=len(features), max_size=len(features)))
    windows = [
        _window(features, psis, version=f"m@{v}", offset=i)
        for i in range(3)
        for v in range(1, versions + 1)
    ]
    charts = {ident: figure for ident, _, figure in figures(SPEC, windows, [])}
    assert "drift" in charts and "missing" in charts and "other" in charts
    for ident, figure in charts.items():
        shown = [t for t in figure["data"] if t.get("showlegend", True) and t.get("visible", 1)]
        assert len(shown) <= LINES + 1, (ident, len(shown))  # + the alert marks
    top = max(features, key=lambda f: (psis[features.index(f)], -features.index(f)))
    shown = {t["name"] for t in charts["drift"]["data"]}
    assert PREDICTION in shown
    assert top in shown or any(psis[features.index(n)] == psis[features.index(top)]
                               for n in shown if n != PREDICTION)  # fmt: skip
    if len(features) + 1 > LINES:
        assert "top" in charts["drift"]["layout"]["title"]["text"]


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=400))
def test_a_sample_against_itself_has_equal_shares_on_the_drift_bins(values: list[float]) -> None:
    labels, reference, now = numeric_bins(QuantileSketch.from_values(np.asarray(values)), values)
    assert len(labels) == len(reference) == len(now)
    assert np.allclose(reference, now) and np.isclose(sum(now), 1.0)
    assert min(now) >= 0


@given(
    st.dictionaries(st.text(min_size=1, max_size=5), st.integers(1, 100), min_size=1, max_size=60),
    st.lists(st.text(max_size=5) | st.none(), max_size=200),
)
def test_category_bins_are_shares_of_the_reference_top_and_other(
    counts: dict[str, int], values: list[str | None]
) -> None:
    labels, reference, now = category_bins(counts, values)
    assert labels[-1] == OTHER and len(labels) == min(len(counts), CATEGORIES) + 1
    assert np.isclose(sum(reference), 1.0)
    assert np.isclose(sum(now), 1.0) or not [v for v in values if v is not None]
    assert min(reference) >= 0 and min(now) >= 0
