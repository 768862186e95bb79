"""The monitoring report: every window metric over time, with thresholds and fired alerts, the
drifted features' training-versus-now distributions, and quality with its label coverage.

Built from what the store keeps (windows, alerts) and the served model's training profile, so it
never re-reads the prediction log. Charts are Plotly figures as plain dicts, drawn over the
windows' start times; fired alerts are red markers on the chart of their metric.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loopml.data.profile import Profile
from loopml.monitoring.alerts import rules_of
from loopml.reports.render import render_page, write_page
from loopml.spec import Spec
from loopml.store import AlertRecord, WindowRecord

BLUE, ORANGE, GREY, RED, GREEN = "#1f77b4", "#ff7f0e", "#9a9a9a", "#d62728", "#2ca02c"
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
MAX_DRIFT_CHARTS = 12

Figure = tuple[str, str, dict[str, Any]]


@dataclass(frozen=True)
class MonitorReport:
    title: str
    deployment: str
    windows: list[WindowRecord]
    alerts: list[AlertRecord]
    figures: list[Figure]
    drifted: list[str]
    summary: list[tuple[str, str]]


def _layout(title: str, y: str) -> dict[str, Any]:
    return {
        "title": {"text": title},
        "xaxis": {"title": {"text": "window start"}},
        "yaxis": {"title": {"text": y}},
        "height": 340,
        "margin": {"l": 70, "r": 20, "t": 50, "b": 60},
        "legend": {"orientation": "h", "y": -0.25},
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


def _series(
    windows: list[WindowRecord], key: str, name: str, color: str | None = None
) -> dict[str, Any]:
    trace: dict[str, Any] = {
        "type": "scatter",
        "mode": "lines+markers",
        "name": name,
        "x": [w.start.isoformat() for w in windows],
        "y": [w.metrics.get(key) for w in windows],
    }
    if color:
        trace["line"] = {"color": color}
    return trace


def _alert_marks(alerts: list[AlertRecord], keys: set[str], name: str) -> list[dict[str, Any]]:
    hits = [a for a in alerts if a.evidence.get("key") in keys]
    if not hits:
        return []
    return [
        {
            "type": "scatter",
            "mode": "markers",
            "name": name,
            "x": [a.evidence["window_start"] for a in hits],
            "y": [a.value for a in hits],
            "text": [a.rule for a in hits],
            "marker": {"color": RED, "size": 12, "symbol": "x"},
        }
    ]


def _chart(
    ident: str,
    title: str,
    y: str,
    traces: list[dict[str, Any]],
    thresholds: list[tuple[float, str]] = (),  # type: ignore[assignment]
) -> Figure:
    layout = _layout(title, y)
    marks = [_threshold(value, label) for value, label in thresholds]
    layout["shapes"] = [shape for shape, _ in marks]
    layout["annotations"] = [note for _, note in marks]
    return ident, title, {"data": traces, "layout": layout}


def _rule_threshold(spec: Spec, metric: str) -> list[tuple[float, str]]:
    return [
        (rule.threshold, f"alert {rule.comparator} {rule.threshold:g}")
        for rule in rules_of(spec)
        if rule.metric == metric
    ]


def build(
    spec: Spec,
    windows: list[WindowRecord],
    alerts: list[AlertRecord],
    profile: Profile | None,
) -> MonitorReport:
    """The report of ``windows`` (oldest first) and the ``alerts`` they fired."""
    figures: list[Figure] = []
    versions: dict[str, list[WindowRecord]] = defaultdict(list)
    for window in windows:
        versions[window.model_version].append(window)
    keys = sorted({k for w in windows for k in w.metrics})
    features = sorted(k.split(".", 1)[1] for k in keys if k.startswith("drift_value."))

    def per_version(key: str, label: str) -> list[dict[str, Any]]:
        return [
            _series(ws, key, f"{label} ({v})" if len(versions) > 1 else label)
            for v, ws in versions.items()
        ]

    quality = f"quality.{spec.metric.name}"
    expected = f"expected.{spec.metric.name}"
    target = [(spec.metric.target, f"target {spec.metric.target:g}")] if spec.metric.target else []
    p99_target = spec.targets.latency_p99_ms
    missing = [k for k in keys if k.startswith("missing_fraction.")]
    increases = {k.replace("fraction", "increase") for k in missing}
    drift_rule = _drift_threshold(spec)
    figures += [
        _chart(
            "volume",
            "Errors and non-null outputs",
            "share",
            [
                *per_version("error_rate", "error rate"),
                *per_version("non_null_outputs", "non-null outputs"),
                *_alert_marks(alerts, {"error_rate", "non_null_outputs"}, "alert"),
            ],
            _rule_threshold(spec, "error_rate"),
        ),
        _chart(
            "latency",
            "Latency",
            "ms",
            [
                *per_version("latency_p50_ms", "p50"),
                *per_version("latency_p95_ms", "p95"),
                *per_version("latency_p99_ms", "p99"),
                *_alert_marks(alerts, {"latency_p99_ms"}, "alert"),
            ],
            [(p99_target, f"p99 target {p99_target:g} ms")],
        ),
        _chart(
            "quality",
            f"Quality: {spec.metric.name} on labelled rows, and estimated before labels",
            spec.metric.name,
            [
                *per_version(quality, "labelled"),
                *per_version(expected, "estimated (no labels)"),
                *per_version("label_coverage", "label coverage"),
                *_alert_marks(alerts, {quality}, "alert"),
            ],
            target,
        ),
        _chart(
            "drift",
            f"Drift against training ({spec.monitoring.drift.decide_by})",
            spec.monitoring.drift.decide_by,
            [
                *(_series(windows, f"drift_value.{f}", f) for f in features),
                *_alert_marks(alerts, {f"drift.{f}" for f in features}, "drift alert"),
            ],
            [(drift_rule, f"threshold {drift_rule:g}")],
        ),
        _chart(
            "missing",
            "Missing values per feature",
            "share of rows",
            [
                *(_series(windows, k, k.split(".", 1)[1]) for k in missing),
                *_alert_marks(alerts, increases, "alert"),
            ],
        ),
        _chart(
            "outputs",
            "Predictions",
            "score",
            [
                *per_version("score_mean", "mean score"),
                *per_version("predicted_positive", "predicted positive"),
                *per_version("score_p50", "median"),
            ],
        ),
    ]
    drifted = sorted({a.feature for a in alerts if a.metric == "drift" and a.feature})
    if profile is not None and windows:
        figures.extend(_distributions(drifted[:MAX_DRIFT_CHARTS], windows[-1], profile))
    summary = [
        ("deployment", spec.name),
        ("windows", f"{len(windows):,} ({windows[0].size})" if windows else "none"),
        ("predictions", f"{sum(w.rows for w in windows):,}"),
        ("model versions", ", ".join(versions) or "—"),
        ("alerts", f"{len(alerts):,} ({sum(a.status == 'open' for a in alerts)} open)"),
        ("drifted features", ", ".join(drifted) or "none"),
    ]
    return MonitorReport(
        f"{spec.name}: monitoring", spec.name, windows, alerts, figures, drifted, summary
    )


def _drift_threshold(spec: Spec) -> float:
    drift = spec.monitoring.drift
    if drift.decide_by in ("ks_pvalue", "chi2_pvalue"):
        return drift.p_value
    return float(getattr(drift, drift.decide_by))


def _distributions(features: list[str], latest: WindowRecord, profile: Profile) -> list[Figure]:
    """Training versus the latest window, for each drifted feature: quantiles (numeric)."""
    figures = []
    current = latest.details.get("quantiles", {})
    for name in features:
        if name not in profile.columns or name not in current:
            continue
        column = profile[name]
        if column.numeric is None or not current[name]:
            continue
        levels = [f"p{int(q * 100)}" for q in QUANTILES]
        reference = [float(v) for v in column.numeric.sketch.quantiles(QUANTILES)]
        window = f"window {latest.start:%m-%d %H:%M}"
        traces = [
            {"type": "scatter", "name": "training", "x": levels, "y": reference,
             "line": {"color": GREY}},
            {"type": "scatter", "name": window, "x": levels, "y": current[name],
             "line": {"color": ORANGE}},
        ]  # fmt: skip
        layout = _layout(f"{name}: training vs the latest window", name)
        layout["xaxis"] = {"title": {"text": "quantile"}}
        figures.append((f"dist-{name}", name, {"data": traces, "layout": layout}))
    return figures


def to_html(report: MonitorReport) -> str:
    return render_page(
        "monitor_report.html.j2",
        report=report,
        figures=report.figures,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def write_html(report: MonitorReport, path: str | Path) -> Path:
    """Write the report's HTML page to ``path`` (atomically) and return the path."""
    return write_page(to_html(report), path)
