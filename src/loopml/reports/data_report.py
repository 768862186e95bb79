"""The data report: one chart per column and a missingness chart, for one or more profiles.

Compute, then render: :func:`build_data_report` returns a :class:`DataReport` (plain data that
tests assert on); :func:`to_html` draws it as a self-contained page. Numeric and datetime columns
become histograms over shared bins (derived from the profiles' quantile sketches, so no raw data is
needed); categorical and boolean columns become bar charts of the most frequent values. Shares,
not counts, are drawn so versions of different sizes compare directly.

With two profiles the report leads with a per-column drift table (:func:`drift_table`): the
monitoring's drift test (:func:`loopml.monitoring.drift.profile_drift`, the spec's
``monitoring.drift`` thresholds or the defaults) of the second against the first, each column's
deciding statistic beside its threshold, the PSI, and the effect in the column's units (the
medians of numbers), drifted columns first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from loopml.data.profile import ColumnProfile, Profile
from loopml.errors import DataError
from loopml.monitoring.drift import profile_drift
from loopml.monitoring.explain import STATISTICS
from loopml.reports.render import column_summary, render_page, write_page
from loopml.spec import Drift

N_BINS = 30
TOP_CATEGORIES = 20


@dataclass(frozen=True)
class Series:
    """One profile's bars in a chart: x labels (or bin centres) and the share of rows in each."""

    label: str
    x: list[Any]
    share: list[float]


@dataclass(frozen=True)
class ColumnChart:
    column: str
    kind: str
    chart: str  # "histogram" | "bar"
    series: list[Series]
    missing: list[float]


@dataclass(frozen=True)
class DataReport:
    title: str
    labels: list[str]
    rows: list[int]
    summaries: list[list[dict[str, str]]]
    charts: list[ColumnChart] = field(default_factory=list)
    drift: list[dict[str, Any]] = field(default_factory=list)  # two profiles: drift_table's

    @property
    def missing(self) -> dict[str, list[float]]:
        """Missing fraction per column, one value per profile."""
        return {chart.column: chart.missing for chart in self.charts}


def _edges(columns: list[ColumnProfile]) -> np.ndarray | None:
    """Shared histogram edges spanning the 0.5-99.5 % range of every profile."""
    lows, highs = [], []
    for column in columns:
        stats = column.numeric
        if stats is None or not stats.count:
            continue
        low, high = stats.sketch.quantiles([0.005, 0.995])
        lows.append(float(low))
        highs.append(float(high))
    if not lows:
        return None
    low, high = min(lows), max(highs)
    if not np.isfinite(low) or not np.isfinite(high):
        return None
    if high <= low:
        high = low + 1.0
    return np.linspace(low, high, N_BINS + 1)


def _histogram(column: ColumnProfile, edges: np.ndarray) -> list[float]:
    stats = column.numeric
    if stats is None or not stats.count:
        return [0.0] * (len(edges) - 1)
    cdf = np.asarray(stats.sketch.cdf(edges), dtype=float)
    cdf[0], cdf[-1] = 0.0, 1.0  # the outer bins hold the tails
    return np.diff(cdf).clip(0, 1).round(6).tolist()


def _bars(columns: list[ColumnProfile]) -> tuple[list[str], list[list[float]]]:
    first = next((c for c in columns if c.categories is not None), None)
    order: list[str] = []
    for column in ([first] if first else []) + columns:
        if column is None or column.categories is None:
            continue
        ranked = sorted(column.categories.counts.items(), key=lambda kv: -kv[1])
        for value, _ in ranked:
            if str(value) not in order and len(order) < TOP_CATEGORIES:
                order.append(str(value))
    shares = []
    for column in columns:
        counts = {
            str(k): v for k, v in (column.categories.counts if column.categories else {}).items()
        }
        total = column.count or 1
        shares.append([round(counts.get(value, 0) / total, 6) for value in order])
    return order, shares


def _chart(name: str, labels: list[str], columns: list[ColumnProfile]) -> ColumnChart:
    kind = columns[0].kind
    missing = [round(c.missing_fraction, 6) for c in columns]
    if kind in ("numeric", "datetime"):
        edges = _edges(columns)
        if edges is not None:
            centres = (edges[:-1] + edges[1:]) / 2
            x: list[Any] = centres.round(6).tolist()
            if kind == "datetime":
                x = [datetime.fromtimestamp(v / 1e6, tz=UTC).isoformat() for v in centres]
            series = [
                Series(lab, x, _histogram(c, edges)) for lab, c in zip(labels, columns, strict=True)
            ]
            return ColumnChart(name, kind, "histogram", series, missing)
    order, shares = _bars(columns)
    series = [Series(lab, order, s) for lab, s in zip(labels, shares, strict=True)]
    return ColumnChart(name, kind, "bar", series, missing)


def _median(column: ColumnProfile) -> float | None:
    if column.numeric is None or not column.numeric.sketch.n:
        return None
    value = float(column.numeric.sketch.quantiles([0.5])[0])
    return value if np.isfinite(value) else None


def drift_table(
    reference: Profile, current: Profile, policy: Drift | None = None
) -> list[dict[str, Any]]:
    """Per column of both profiles: the drift test of ``current`` against ``reference``
    (``statistic``, ``value``, ``threshold``, ``drifted``, ``psi``) and the ``effect`` in the
    column's units, drifted columns first, then by PSI. A column whose kind differs between
    the two is listed with its reason as ``effect``."""
    policy = policy or Drift()
    rows: list[dict[str, Any]] = []
    for name in [c for c in reference.columns if c in current.columns]:
        try:
            (found,) = profile_drift(reference, current, [name], policy)
        except DataError as exc:
            rows.append({"column": name, "drifted": None, "psi": None, "effect": str(exc)})
            continue
        before, after = _median(reference[name]), _median(current[name])
        effect = (
            f"median {before:.4g} → {after:.4g}"
            if before is not None and after is not None
            else None
        )
        rows.append(
            {
                "column": name,
                "kind": found.kind,
                "statistic": STATISTICS.get(found.decided_by, found.decided_by),
                "value": found.as_dict()["value"],
                "threshold": found.threshold,
                "drifted": found.drifted,
                "psi": found.as_dict()["psi"],
                "effect": effect,
            }
        )
    return sorted(rows, key=lambda r: (not r["drifted"], -(r["psi"] or 0.0)))


def build_data_report(
    profiles: list[tuple[str, Profile]],
    *,
    title: str | None = None,
    drift: Drift | None = None,
) -> DataReport:
    """Charts for every column of the first profile, with the others (if any) side by side;
    with exactly two, the drift table of the second against the first (``drift``: its
    thresholds)."""
    labels = [label for label, _ in profiles]
    first = profiles[0][1]
    charts = []
    for name in first.columns:
        present = [(label, p.columns[name]) for label, p in profiles if name in p.columns]
        charts.append(_chart(name, [lab for lab, _ in present], [c for _, c in present]))
    return DataReport(
        title=title or ("data report: " + " vs ".join(labels)),
        labels=labels,
        rows=[p.n_rows for _, p in profiles],
        summaries=[column_summary(p) for _, p in profiles],
        charts=charts,
        drift=drift_table(profiles[0][1], profiles[1][1], drift) if len(profiles) == 2 else [],
    )


_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"]


def _figure(chart: ColumnChart) -> dict[str, Any]:
    traces = [
        {
            "type": "bar",
            "name": s.label,
            "x": s.x,
            "y": s.share,
            "marker": {"color": _COLORS[i % len(_COLORS)]},
            "opacity": 0.75 if len(chart.series) > 1 else 1.0,
        }
        for i, s in enumerate(chart.series)
    ]
    return {
        "data": traces,
        "layout": {
            "title": {"text": f"{chart.column} ({chart.kind})"},
            "barmode": "overlay" if chart.chart == "histogram" else "group",
            "bargap": 0.02 if chart.chart == "histogram" else 0.2,
            "yaxis": {"title": {"text": "share of rows"}, "tickformat": ".0%"},
            "height": 320,
            "margin": {"l": 60, "r": 20, "t": 40, "b": 60},
            "legend": {"orientation": "h"},
        },
    }


def missing_figure(report: DataReport) -> dict[str, Any]:
    """A bar chart of each column's missing share, one bar per profile."""
    columns = [chart.column for chart in report.charts]
    traces = []
    for i, label in enumerate(report.labels):
        values = []
        for chart in report.charts:
            by_label = {s.label: m for s, m in zip(chart.series, chart.missing, strict=False)}
            values.append(by_label.get(label))
        traces.append(
            {
                "type": "bar",
                "name": label,
                "x": columns,
                "y": values,
                "marker": {"color": _COLORS[i % len(_COLORS)]},
            }
        )
    return {
        "data": traces,
        "layout": {
            "title": {"text": "missing values per column"},
            "barmode": "group",
            "yaxis": {
                "title": {"text": "share missing"},
                "tickformat": ".0%",
                "rangemode": "tozero",
            },
            "height": 340,
            "margin": {"l": 60, "r": 20, "t": 40, "b": 100},
        },
    }


def figures(report: DataReport) -> list[tuple[str, dict[str, Any]]]:
    """``(element id, figure)`` of every column's chart, in column order."""
    return [(f"chart-{i}", _figure(chart)) for i, chart in enumerate(report.charts)]


def to_html(report: DataReport) -> str:
    """The report as one self-contained HTML page."""
    return render_page(
        "data_report.html.j2",
        report=report,
        figures=figures(report),
        missing=missing_figure(report),
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def write_html(report: DataReport, path: str | Path) -> Path:
    """Write the report's HTML page to ``path``."""
    return write_page(to_html(report), path)
