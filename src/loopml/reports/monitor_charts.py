"""The monitoring charts: one question per chart, every window metric over time, as Plotly
figures (plain dicts).

:func:`figures` returns ``(element id, heading, figure)`` per chart, in page order; the monitoring
report and the dashboard's monitoring page draw the same list. The page leads with the charts
that answer "is my model all right?":

- **quality**: the primary metric on labelled rows, and estimated before labels in its shaded
  90 % interval, with the windows whose labels left that interval;
- **label coverage**: the share of rows labelled so far, on its own chart (a share from 0 to 1
  on the axis of a metric such as RMSE would squash one of the two);
- **drift**: the drift test's value against its threshold for the prediction scores and the top
  features by importance-weighted drift (:mod:`loopml.reports.monitor_base` bounds every
  per-feature chart's lines; the rest are on the features' own pages);
- **traffic** (rows, labelled rows, requests/s) and **errors** (error rate, non-null outputs);

then latency, the other quality metrics, missing values and their increase over training,
values outside the training range and categories training never saw, the predictions, and
"Other metrics". Every metric key of every window lands on exactly one chart or is named by one
(a per-feature chart draws its top keys and says how many it has) — "Other metrics" takes
whatever no group claims, so a metric that the windows start to carry shows up without a change
here. A group whose metrics no window holds is left out. The drift verdicts (``drift.<feature>``,
0/1) are not drawn: the drift chart's threshold line says the same.

The thresholds of the alert rules that watch a chart's metrics are dashed red lines (beside the
spec's targets); fired alerts are red crosses on the window they fired on; the open window
(``partial``: still filling, replaced on each pass until it closes) is a hollow point whose hover
text says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from loopml.reports.estimate_band import band, outside
from loopml.reports.monitor_base import (
    LINES,
    Figure,
    Windows,
    chart,
    one_at_a_time,
    partial_points,
)
from loopml.spec import Spec
from loopml.store import AlertRecord, WindowRecord

__all__ = ["LEAD_CHARTS", "Figure", "drift_threshold", "drifted_features", "figures"]


def _shown(title: str, shown: int, total: int) -> str:
    """A per-feature chart's title, saying when it draws only its top features."""
    if shown >= total:
        return title
    return f"{title}: top {shown} of {total} by importance-weighted value (every feature: its page)"


def _quality(w: Windows) -> Figure | None:
    metric = w.spec.metric
    primary, expected = f"quality.{metric.name}", f"expected.{metric.name}"
    keys = w.take([primary, expected])
    if not keys:
        return None
    labels = {primary: "labelled", expected: "estimated (no labels)"}
    w.take([f"{expected}_low", f"{expected}_high", f"estimate_outside.{metric.name}"])
    traces = [
        *band(w.versions, expected, "estimate, 90 % interval"),
        *(s for k in keys for s in w.series(k, labels[k])),
        *outside(w.windows, metric.name),
    ]
    lines = [(metric.target, f"target {metric.target:g}")] if metric.target is not None else []
    return chart(
        "quality",
        f"Quality: {metric.name} on labelled rows, and estimated before labels",
        metric.name,
        [*traces, *w.marks(keys)],
        [*lines, *w.rule_lines(keys)],
    )


def _coverage(w: Windows) -> Figure | None:
    keys = w.take(["label_coverage"])
    if not keys:
        return None
    ident, title, figure = chart(
        "coverage",
        "Label coverage: share of each window's rows labelled so far",
        "share of rows",
        [*w.series("label_coverage", "label coverage"), *w.marks(keys)],
        w.rule_lines(keys),
    )
    figure["layout"]["yaxis"]["range"] = [0, 1.05]
    return ident, title, figure


def drift_threshold(spec: Spec) -> float:
    """The value of the spec's drift test (``monitoring.drift.decide_by``) that flags drift."""
    drift = spec.monitoring.drift
    if drift.decide_by in ("ks_pvalue", "chi2_pvalue"):
        return drift.p_value
    return float(getattr(drift, drift.decide_by))


def _drift(w: Windows) -> Figure | None:
    values = w.family("drift_value")
    w.family("drift")  # the 0/1 verdicts: the threshold line says the same
    if not values:
        return None
    place = {name: i for i, name in enumerate(w.ranking)}
    ranked = sorted(values, key=lambda k: (place.get(k.split(".", 1)[1], len(place)), k))
    shown = ranked[:LINES]
    flags = [f"drift.{k.split('.', 1)[1]}" for k in shown]
    decide_by, threshold = w.spec.monitoring.drift.decide_by, drift_threshold(w.spec)
    traces = [
        *(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": key.split(".", 1)[1],
                "x": [x.start.isoformat() for x in w.windows],
                "y": [x.metrics.get(key) for x in w.windows],
                **partial_points(w.windows),
            }
            for key in shown
        ),
        *w.marks(flags, value_of="drift_value"),
    ]
    title = f"Drift against the reference ({decide_by})"
    if len(shown) < len(ranked):
        pred = "drift_value.prediction" in shown
        title += (
            f": {'the predictions and ' if pred else ''}the top {len(shown) - pred} of "
            f"{len(ranked) - pred} features by importance-weighted drift (every feature: its page)"
        )
    return chart("drift", title, decide_by, traces, [(threshold, f"threshold {threshold:g}")])


def _traffic(w: Windows) -> Figure | None:
    if not w.take(["rows", "quality.labelled", "throughput_rps"]):
        return None
    traces = [
        *w.series("rows", "rows"),
        *w.series("quality.labelled", "labelled rows"),
        *w.series("throughput_rps", "requests/s", yaxis="y2"),
    ]
    ident, title, figure = chart("traffic", "Traffic", "rows per window", traces)
    figure["layout"]["yaxis2"] = {
        "title": {"text": "requests/s"}, "overlaying": "y", "side": "right", "rangemode": "tozero",
    }  # fmt: skip
    figure["layout"]["margin"]["r"] = 70
    return ident, title, figure


def _volume(w: Windows) -> Figure | None:
    keys = w.take(["error_rate", "non_null_outputs"])
    if not keys:
        return None
    traces = [
        *w.series("error_rate", "error rate"),
        *w.series("non_null_outputs", "non-null outputs"),
        *w.marks(keys),
    ]
    return chart("volume", "Errors and non-null outputs", "share", traces, w.rule_lines(keys))


def _latency(w: Windows) -> Figure | None:
    keys = w.take(sorted(k for k in w.keys if k.startswith("latency_")))
    if not keys:
        return None
    target = w.spec.targets.latency_p99_ms
    traces = [
        *(s for k in keys for s in w.series(k, k.removeprefix("latency_").removesuffix("_ms"))),
        *w.marks(keys),
    ]
    lines = [(target, f"p99 target {target:g} ms"), *w.rule_lines(keys)]
    return chart("latency", "Latency", "ms", traces, lines)


def _other_quality(w: Windows) -> Figure | None:
    """Every other quality metric, one at a time: a menu picks the metric, and the chart draws
    it on labelled rows and estimated (with its interval), so the legend stays at three
    entries however many metrics the task has."""
    keys = [*w.family("quality"), *w.family("expected")]
    if not keys:
        return None
    names = list(dict.fromkeys(k.split(".", 1)[1] for k in keys))
    names = [n for n in names if not n.endswith(("_low", "_high"))]
    traces: list[dict[str, Any]] = []
    owner: list[int] = []
    for i, name in enumerate(names):
        labelled, expected = f"quality.{name}", f"expected.{name}"
        part = [
            *band(w.versions, expected, "estimate, 90 % interval"),
            *(w.series(labelled, "labelled") if labelled in keys else []),
            *(w.series(expected, "estimated (no labels)") if expected in keys else []),
            *w.marks([k for k in (labelled, expected) if k in keys]),
        ]
        traces += [{**t, "visible": i == 0} for t in part]
        owner += [i] * len(part)
    ident, title, figure = chart(
        "quality-all",
        "Other quality metrics, one at a time (pick it in the menu): on labelled rows, and "
        "estimated before labels",
        names[0],
        traces,
        w.rule_lines(keys),
    )
    return one_at_a_time((ident, title, figure), names, owner)


def _per_feature(
    w: Windows, ident: str, title: str, keys: list[str], label: Any = None
) -> Figure | None:
    """A chart of one line per feature (per model version) for the top ``keys``."""
    if not keys:
        return None
    shown, total = w.top(keys)
    name = label or (lambda k: k.split(".", 1)[1])
    traces = [s for k in shown for s in w.series(k, name(k))]
    return chart(
        ident,
        _shown(title, len(shown), total),
        "share of rows",
        [*traces, *w.marks(shown)],
        w.rule_lines(keys),
    )


def _missing(w: Windows) -> Figure | None:
    keys = w.family("missing_fraction")
    return _per_feature(w, "missing", "Missing values per feature", keys)


def _missing_increase(w: Windows) -> Figure | None:
    keys = w.family("missing_increase")
    return _per_feature(w, "missing-increase", "Missing values: increase over training", keys)


def _unexpected(w: Windows) -> Figure | None:
    keys = [*w.family("out_of_range"), *w.family("unseen")]
    return _per_feature(
        w,
        "inputs",
        "Values outside the training range, and categories training never saw",
        keys,
        lambda k: k.replace(".", ": ", 1).replace("_", " "),
    )


def _outputs(w: Windows) -> Figure | None:
    names = {
        "score_mean": "mean score",
        "predicted_positive": "predicted positive",
        "score_p10": "p10",
        "score_p50": "median",
        "score_p90": "p90",
    }
    keys = w.take(names)
    if not keys:
        return None
    traces = [s for k in keys for s in w.series(k, names[k])]
    return chart("outputs", "Predictions", "score", [*traces, *w.marks(keys)], w.rule_lines(keys))


def _other(w: Windows) -> Figure | None:
    """Whatever no other chart claims; one metric at a time (a menu) past :data:`LINES` lines."""
    keys = w.take([k for k in w.keys if k not in w.claimed])
    if not keys:
        return None
    parts = [[*w.series(k, k), *w.marks([k])] for k in keys]
    if sum(len(p) for p in parts) <= LINES:
        traces = [t for p in parts for t in p]
        return chart("other", "Other metrics", "value", traces, w.rule_lines(keys))
    traces = [{**t, "visible": i == 0} for i, p in enumerate(parts) for t in p]
    owner = [i for i, p in enumerate(parts) for _ in p]
    made = chart(
        "other",
        "Other metrics, one at a time (pick it in the menu)",
        keys[0],
        traces,
        w.rule_lines(keys),
    )
    return one_at_a_time(made, keys, owner)


#: the charts that say whether the model is all right, first; the page shows them on top
LEAD = (_quality, _coverage, _drift, _traffic, _volume)
LEAD_CHARTS = ("quality", "coverage", "drift", "traffic", "volume")  # their element ids
GROUPS = (
    *LEAD, _latency, _other_quality, _missing, _missing_increase, _unexpected, _outputs, _other,
)  # fmt: skip


def figures(
    spec: Spec,
    windows: list[WindowRecord],
    alerts: list[AlertRecord],
    shares: Mapping[str, float] | None = None,
) -> list[Figure]:
    """Every chart of ``windows`` (oldest first) and the ``alerts`` they fired, in page order;
    ``shares`` (each feature's share of the model's importance) rank the features a
    per-feature chart draws (equal weights without them)."""
    shared = Windows(spec, windows, alerts, shares)
    return [made for group in GROUPS if (made := group(shared)) is not None]


def drifted_features(alerts: list[AlertRecord]) -> list[str]:
    """The features a drift alert fired on, sorted."""
    return sorted({a.feature for a in alerts if a.metric == "drift" and a.feature})
