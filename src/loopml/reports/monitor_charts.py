"""The monitoring charts: every window metric over time, as Plotly figures (plain dicts).

:func:`figures` returns ``(element id, heading, figure)`` per chart, in page order; the monitoring
report and the dashboard's monitoring page draw the same list. Every metric key of every window
lands on exactly one chart — the last one, "Other metrics", takes whatever no group claims — so a
metric that the windows start to carry shows up without a change here. A group whose metrics no
window holds is left out.

Groups: traffic (rows, labelled rows, throughput); errors and non-null outputs; latency; the
primary metric (labelled, estimated before labels in its shaded 90 % interval, the windows whose
labels left that interval, label coverage) and the other quality
metrics; drift per feature (the test's value against its
threshold) and which features drifted in which window (the 0/1 flags the ``drift`` rule watches);
missing values per feature and their increase over training; values outside the training range
and categories training never saw; the predictions; other metrics.

The thresholds of the alert rules that watch a chart's metrics are dashed red lines (beside the
spec's targets); fired alerts are red crosses on the window they fired on; the open window
(``partial``: still filling, replaced on each pass until it closes) is a hollow point whose hover
text says so. The monitoring report
adds, for each feature that fired a drift alert, its training quantiles against the latest
window's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from loopml.monitoring.alerts import keys_of, rules_of
from loopml.reports.estimate_band import band, outside
from loopml.spec import Spec
from loopml.store import AlertRecord, WindowRecord

RED = "#d62728"

Figure = tuple[str, str, dict[str, Any]]
Line = tuple[float, str]  # a threshold: its value and its label


def layout(title: str, y: str, *, entries: int = 4) -> dict[str, Any]:
    """The layout every monitoring chart starts from: a title, the y axis's title, and the
    legend below the time axis, the chart growing with the legend's rows (``entries`` in all)
    so the two never overlap."""
    rows = max(1, -(-entries // 4))
    return {
        "title": {"text": title},
        "yaxis": {"title": {"text": y}},
        "height": 320 + 22 * rows,
        "margin": {"l": 70, "r": 20, "t": 50, "b": 70 + 22 * rows},
        "legend": {"orientation": "h", "y": -0.2, "yanchor": "top"},
    }


def _threshold(y: float, label: str) -> tuple[dict[str, Any], dict[str, Any]]:
    shape = {
        "type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": y, "y1": y,
        "line": {"color": RED, "dash": "dash", "width": 1.5},
    }  # fmt: skip
    note = {
        "xref": "paper", "x": 1, "y": y, "xanchor": "right", "yanchor": "bottom",
        "text": label, "showarrow": False, "font": {"color": RED},
    }  # fmt: skip
    return shape, note


def _chart(
    ident: str, title: str, y: str, traces: list[dict[str, Any]], lines: Iterable[Line] = ()
) -> Figure:
    """A figure with one dashed line per threshold value (labels of equal values joined)."""
    merged: dict[float, list[str]] = {}
    for value, label in lines:
        if label not in merged.setdefault(value, []):
            merged[value].append(label)
    marks = [_threshold(value, " · ".join(labels)) for value, labels in merged.items()]
    base = layout(title, y, entries=len(traces))
    base["shapes"] = [shape for shape, _ in marks]
    base["annotations"] = [note for _, note in marks]
    return ident, title, {"data": traces, "layout": base}


def partial_points(windows: list[WindowRecord]) -> dict[str, Any]:
    """Trace settings that draw the open (partial) window's point hollow, with a hover text
    saying it is still open; nothing when every window is closed."""
    if not any(w.partial for w in windows):
        return {}
    return {
        "marker": {
            "symbol": ["circle-open" if w.partial else "circle" for w in windows],
            "size": [11 if w.partial else 6 for w in windows],
        },
        "hovertext": [
            f"partial: still open ({w.rows:,} rows so far)" if w.partial else "" for w in windows
        ],
    }


class _Windows:
    """What every chart of one page shares: the windows by model version, the alerts, the rules,
    and which metric keys a chart has already claimed."""

    def __init__(self, spec: Spec, windows: list[WindowRecord], alerts: list[AlertRecord]) -> None:
        self.spec, self.windows, self.alerts = spec, windows, alerts
        self.versions: dict[str, list[WindowRecord]] = defaultdict(list)
        for window in windows:
            self.versions[window.model_version].append(window)
        self.keys = sorted({k for w in windows for k in w.metrics})
        self.claimed: set[str] = set()
        self.rules = rules_of(spec)
        self.at = {(w.model_version, w.start.isoformat()): w for w in windows}

    def take(self, keys: Iterable[str]) -> list[str]:
        """Those of ``keys`` some window holds (in the given order), now claimed by a chart."""
        present = set(self.keys)
        found = [k for k in dict.fromkeys(keys) if k in present]
        self.claimed.update(found)
        return found

    def family(self, prefix: str) -> list[str]:
        """Every ``prefix.<name>`` key no other chart has claimed, now claimed."""
        return self.take(
            k for k in self.keys if k.startswith(prefix + ".") and k not in self.claimed
        )

    def series(self, key: str, label: str, **extra: Any) -> list[dict[str, Any]]:
        """One line per model version (named by version only when there are several)."""
        return [
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": f"{label} ({version})" if len(self.versions) > 1 else label,
                "x": [w.start.isoformat() for w in windows],
                "y": [w.metrics.get(key) for w in windows],
                **partial_points(windows),
                **extra,
            }
            for version, windows in self.versions.items()
        ]

    def marks(self, keys: list[str], *, value_of: str | None = None) -> list[dict[str, Any]]:
        """Red crosses for the alerts fired on ``keys``; ``value_of`` (a key prefix) draws them
        at that metric of the same feature in the alert's window instead of the alert's value."""
        hits = [a for a in self.alerts if a.evidence.get("key", a.metric) in keys]
        if not hits:
            return []
        ys = []
        for alert in hits:
            y = alert.value
            window = self.at.get(
                (alert.evidence.get("model_version", ""), alert.evidence.get("window_start", ""))
            )
            if value_of is not None and window is not None and alert.feature:
                y = window.metrics.get(f"{value_of}.{alert.feature}", y)
            ys.append(y)
        return [
            {
                "type": "scatter",
                "mode": "markers",
                "name": "alert",
                "x": [a.evidence.get("window_start") for a in hits],
                "y": ys,
                "text": [a.rule for a in hits],
                "marker": {"color": RED, "size": 12, "symbol": "x"},
            }
        ]

    def rule_lines(self, keys: list[str]) -> list[Line]:
        """The threshold of every alert rule watching one of ``keys``."""
        watched = dict.fromkeys(keys)
        lines = []
        for rule in self.rules:
            if keys_of(rule, watched):
                which = f" ({rule.feature})" if rule.feature not in (None, "*") else ""
                lines.append((rule.threshold, f"alert {rule.comparator} {rule.threshold:g}{which}"))
        return lines


def _traffic(w: _Windows) -> Figure | None:
    if not w.take(["rows", "quality.labelled", "throughput_rps"]):
        return None
    traces = [
        *w.series("rows", "rows"),
        *w.series("quality.labelled", "labelled rows"),
        *w.series("throughput_rps", "requests/s", yaxis="y2"),
    ]
    ident, title, figure = _chart("traffic", "Traffic", "rows per window", traces)
    figure["layout"]["yaxis2"] = {
        "title": {"text": "requests/s"}, "overlaying": "y", "side": "right", "rangemode": "tozero",
    }  # fmt: skip
    figure["layout"]["margin"]["r"] = 70
    return ident, title, figure


def _volume(w: _Windows) -> Figure | None:
    keys = w.take(["error_rate", "non_null_outputs"])
    if not keys:
        return None
    traces = [
        *w.series("error_rate", "error rate"),
        *w.series("non_null_outputs", "non-null outputs"),
        *w.marks(keys),
    ]
    return _chart("volume", "Errors and non-null outputs", "share", traces, w.rule_lines(keys))


def _latency(w: _Windows) -> Figure | None:
    keys = w.take(sorted(k for k in w.keys if k.startswith("latency_")))
    if not keys:
        return None
    target = w.spec.targets.latency_p99_ms
    traces = [
        *(s for k in keys for s in w.series(k, k.removeprefix("latency_").removesuffix("_ms"))),
        *w.marks(keys),
    ]
    lines = [(target, f"p99 target {target:g} ms"), *w.rule_lines(keys)]
    return _chart("latency", "Latency", "ms", traces, lines)


def _quality(w: _Windows) -> Figure | None:
    metric = w.spec.metric
    primary, expected = f"quality.{metric.name}", f"expected.{metric.name}"
    keys = w.take([primary, expected, "label_coverage"])
    if not keys:
        return None
    labels = {
        primary: "labelled",
        expected: "estimated (no labels)",
        "label_coverage": "label coverage",
    }
    w.take([f"{expected}_low", f"{expected}_high", f"estimate_outside.{metric.name}"])
    traces = [
        *band(w.versions, expected, "estimate, 90 % interval"),
        *(s for k in keys for s in w.series(k, labels[k])),
        *outside(w.windows, metric.name),
    ]
    lines = [(metric.target, f"target {metric.target:g}")] if metric.target is not None else []
    return _chart(
        "quality",
        f"Quality: {metric.name} on labelled rows, and estimated before labels",
        metric.name,
        [*traces, *w.marks(keys)],
        [*lines, *w.rule_lines(keys)],
    )


def _other_quality(w: _Windows) -> Figure | None:
    keys = [*w.family("quality"), *w.family("expected")]
    if not keys:
        return None
    traces = [s for k in keys for s in w.series(k, k)]
    return _chart(
        "quality-all",
        "Other quality metrics: on labelled rows (quality), estimated before labels (expected)",
        "value",
        [*traces, *w.marks(keys)],
        w.rule_lines(keys),
    )


def _drift_threshold(spec: Spec) -> float:
    """The value of the spec's drift test (``monitoring.drift.decide_by``) that flags drift."""
    drift = spec.monitoring.drift
    if drift.decide_by in ("ks_pvalue", "chi2_pvalue"):
        return drift.p_value
    return float(getattr(drift, drift.decide_by))


def _drift(w: _Windows) -> Figure | None:
    values = w.family("drift_value")
    if not values:
        return None
    flags = [f"drift.{k.split('.', 1)[1]}" for k in values]
    decide_by, threshold = w.spec.monitoring.drift.decide_by, _drift_threshold(w.spec)
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
            for key in values
        ),
        *w.marks(flags, value_of="drift_value"),
    ]
    title = f"Drift against training ({decide_by})"
    return _chart("drift", title, decide_by, traces, [(threshold, f"threshold {threshold:g}")])


def _drift_flags(w: _Windows) -> Figure | None:
    keys = w.family("drift")
    if not keys:
        return None
    starts = sorted({x.start.isoformat() for x in w.windows})
    column = {start: i for i, start in enumerate(starts)}
    z = [[0.0] * len(starts) for _ in keys]
    for window in w.windows:
        col = column[window.start.isoformat()]
        for row, key in enumerate(keys):
            z[row][col] = max(z[row][col], window.metrics.get(key) or 0.0)
    trace = {
        "type": "heatmap", "x": starts, "y": [k.split(".", 1)[1] for k in keys], "z": z,
        "zmin": 0, "zmax": 1, "showscale": False, "xgap": 1, "ygap": 1,
        "colorscale": [[0, "#eeeeee"], [1, RED]],
        "hovertemplate": "%{y} at %{x}: %{z}<extra></extra>",
    }  # fmt: skip
    rules = ", ".join(label for _, label in w.rule_lines(keys)) or "no rule"
    ident, title, figure = _chart(
        "drift-flags", f"Drifted features per window (red: drifted; {rules})", "feature", [trace]
    )
    figure["layout"]["height"] = max(240, 22 * len(keys) + 130)
    figure["layout"]["yaxis"]["automargin"] = True
    return ident, title, figure


def _missing(w: _Windows) -> Figure | None:
    keys = w.family("missing_fraction")
    if not keys:
        return None
    traces = [s for k in keys for s in w.series(k, k.split(".", 1)[1])]
    return _chart(
        "missing",
        "Missing values per feature",
        "share of rows",
        [*traces, *w.marks(keys)],
        w.rule_lines(keys),
    )


def _missing_increase(w: _Windows) -> Figure | None:
    keys = w.family("missing_increase")
    if not keys:
        return None
    traces = [s for k in keys for s in w.series(k, k.split(".", 1)[1])]
    return _chart(
        "missing-increase",
        "Missing values: increase over training",
        "share of rows",
        [*traces, *w.marks(keys)],
        w.rule_lines(keys),
    )


def _unexpected(w: _Windows) -> Figure | None:
    keys = [*w.family("out_of_range"), *w.family("unseen")]
    if not keys:
        return None
    traces = [s for k in keys for s in w.series(k, k.replace(".", ": ", 1).replace("_", " "))]
    return _chart(
        "inputs",
        "Values outside the training range, and categories training never saw",
        "share of rows",
        [*traces, *w.marks(keys)],
        w.rule_lines(keys),
    )


def _outputs(w: _Windows) -> Figure | None:
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
    return _chart("outputs", "Predictions", "score", [*traces, *w.marks(keys)], w.rule_lines(keys))


def _other(w: _Windows) -> Figure | None:
    keys = w.take([k for k in w.keys if k not in w.claimed])
    if not keys:
        return None
    traces = [s for k in keys for s in w.series(k, k)]
    return _chart("other", "Other metrics", "value", [*traces, *w.marks(keys)], w.rule_lines(keys))


GROUPS = (
    _traffic, _volume, _latency, _quality, _other_quality, _drift, _drift_flags, _missing,
    _missing_increase, _unexpected, _outputs, _other,
)  # fmt: skip


def figures(spec: Spec, windows: list[WindowRecord], alerts: list[AlertRecord]) -> list[Figure]:
    """Every chart of ``windows`` (oldest first) and the ``alerts`` they fired, in page order."""
    shared = _Windows(spec, windows, alerts)
    return [chart for group in GROUPS if (chart := group(shared)) is not None]


def drifted_features(alerts: list[AlertRecord]) -> list[str]:
    """The features a drift alert fired on, sorted."""
    return sorted({a.feature for a in alerts if a.metric == "drift" and a.feature})
