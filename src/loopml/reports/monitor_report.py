"""The monitoring report: quality (labelled, and estimated with its interval), the features
ranked by importance-weighted drift, every window metric over time with thresholds and fired
alerts, and the drifted features' training-versus-now distributions.

Built from what the store keeps (windows, alerts) and the served model's training profile, so it
never re-reads the prediction log. Compute, then render: :func:`build` returns a
:class:`MonitorReport` whose charts come from :mod:`loopml.reports.monitor_charts` (the
dashboard's monitoring page draws the same ones); :func:`to_html` draws a self-contained page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from loopml.data.profile import Profile
from loopml.reports.monitor_base import layout
from loopml.reports.monitor_charts import Figure, drifted_features, figures
from loopml.reports.monitor_quality import QualityView, quality_view
from loopml.reports.monitor_ranking import RankedFeature, judged_window, rank_drift
from loopml.reports.render import headed, render_page, write_page
from loopml.reports.tables import number
from loopml.spec import Spec
from loopml.store import AlertRecord, WindowRecord

GREY, ORANGE = "#9a9a9a", "#ff7f0e"
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
MAX_DRIFT_CHARTS = 12


@dataclass(frozen=True)
class MonitorReport:
    """Everything the page shows, as plain data."""

    title: str
    deployment: str
    windows: list[WindowRecord]
    alerts: list[AlertRecord]
    figures: list[Figure]
    drifted: list[str]
    summary: list[tuple[str, str]]
    quality: QualityView | None = None
    #: every feature by importance-weighted drift on ``judged`` (prediction drift first)
    ranking: list[RankedFeature] = field(default_factory=list)
    judged: WindowRecord | None = None  # the window the ranking is read from
    distributions: list[Figure] = field(default_factory=list)  # training vs the latest window


def build(
    spec: Spec,
    windows: list[WindowRecord],
    alerts: list[AlertRecord],
    profile: Profile | None,
    shares: Mapping[str, float] | None = None,
) -> MonitorReport:
    """The report of ``windows`` (oldest first) and the ``alerts`` they fired; ``shares`` (each
    feature's share of the served model's importance) weigh the features' drift."""
    versions = list(dict.fromkeys(w.model_version for w in windows))
    drifted = drifted_features(alerts)
    charts = figures(spec, windows, alerts, shares)
    distributions = []
    if profile is not None and windows:
        distributions = _distributions(drifted[:MAX_DRIFT_CHARTS], windows[-1], profile)
    judged = judged_window(windows, spec.monitoring.min_samples)
    ranking = rank_drift(judged, shares or {}, spec.features.all) if judged is not None else []
    quality = quality_view(spec, windows)
    still = [w for w in windows if w.partial]
    summary = [
        ("deployment", spec.name),
        ("windows", _count(windows, len(still))),
        ("predictions", f"{sum(w.rows for w in windows):,}"),
        ("model versions", ", ".join(versions) or "—"),
        ("alerts", f"{len(alerts):,} ({sum(a.status == 'open' for a in alerts)} open)"),
        ("drifted features", ", ".join(drifted) or "none"),
        (f"{quality.metric} (labelled)", number(quality.labelled)),
        (f"{quality.metric} (estimated)", quality.estimate_text),
        *(("open window", open_window(w)) for w in still),
    ]
    return MonitorReport(
        f"{spec.name}: monitoring",
        spec.name,
        windows,
        alerts,
        charts,
        drifted,
        summary,
        quality,
        ranking,
        judged,
        distributions,
    )


def _count(windows: list[WindowRecord], still: int) -> str:
    if not windows:
        return "none"
    return f"{len(windows):,} ({windows[0].size}{f'; {still} open, partial' if still else ''})"


def open_window(window: WindowRecord) -> str:
    """The open window in words: rows so far, and when it closes (a count window: when full)."""
    if window.size.endswith("rows"):
        full = int(window.size.removesuffix("rows"))
        return f"partial: {window.rows:,} of {full:,} predictions since {window.start:%H:%M:%S} UTC"
    return (
        f"partial: {window.rows:,} predictions since {window.start:%H:%M} UTC; closes at "
        f"{window.end:%H:%M} UTC (replaced on each pass until then)"
    )


def _distributions(features: list[str], latest: WindowRecord, profile: Profile) -> list[Figure]:
    """Training versus the latest window, for each drifted feature: quantiles (numeric)."""
    charts = []
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
        base = layout(f"{name}: training vs the latest window", name)
        base["xaxis"] = {"title": {"text": "quantile"}}
        base["legend"]["y"] = -0.3  # below the axis title
        charts.append((f"dist-{name}", name, {"data": traces, "layout": base}))
    return charts


def to_html(report: MonitorReport) -> str:
    return render_page(
        "monitor_report.html.j2",
        report=report,
        figures=headed([*report.figures, *report.distributions]),
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def write_html(report: MonitorReport, path: str | Path) -> Path:
    """Write the report's HTML page to ``path`` (atomically) and return the path."""
    return write_page(to_html(report), path)
