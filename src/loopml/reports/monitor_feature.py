"""One feature's monitoring charts: its histogram now against the drift reference, and its drift
over time.

**The histogram is drawn on the drift test's own bins**, so the picture is the number: a numeric
feature on the reference's deciles (:func:`loopml.stats.psi.sketch_edges`, the bins PSI uses),
each side's share read off its quantile sketch's CDF (a window's sketch of at most ``capacity``
distinct values is exact; the reference's is within its rank error, stated in the chart); a
categorical feature on the reference's most frequent categories (at most :data:`CATEGORIES`,
so the axis stays readable) and one "other" bar for every other value, training's and the
window's alike. Shares are of non-missing values; the missing share is stated beside them.

Pure: a profile column and the window's values in, Plotly figures (plain dicts) out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Any

import numpy as np
import polars as pl

from loopml.data.profile import ColumnProfile
from loopml.reports.monitor_base import Figure, Windows, chart, layout
from loopml.reports.monitor_charts import drift_threshold
from loopml.spec import Spec
from loopml.stats.psi import sketch_edges, sketch_shares
from loopml.stats.quantiles import QuantileSketch
from loopml.store import AlertRecord, WindowRecord

CATEGORIES = 20
OTHER = "(other)"
GREY, ORANGE = "#9a9a9a", "#ff7f0e"


def _label(value: float) -> str:
    """A bin edge: four significant digits, thousands separated (``38.1``, ``1,204``)."""
    return f"{float(value):,.4g}"


def numeric_bins(
    reference: QuantileSketch, values: Sequence[float]
) -> tuple[list[str], list[float], list[float]]:
    """Bin labels and the reference's and ``values``' shares per bin, on the reference's
    deciles (a bin includes its upper cut, as :func:`sketch_shares` reads them)."""
    edges = sketch_edges(reference)
    clean = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    current = sketch_shares(QuantileSketch.from_values(clean), edges) if len(clean) else None
    shares = sketch_shares(reference, edges)
    if len(edges) == 0:
        labels = ["all values"]
    else:
        labels = [f"≤ {_label(edges[0])}"]
        labels += [f"{_label(a)} – {_label(b)}" for a, b in pairwise(edges)]
        labels.append(f"> {_label(edges[-1])}")
    now = [float(x) for x in current] if current is not None else [0.0] * len(labels)
    return labels, [float(x) for x in shares], now


def category_bins(
    reference: Mapping[str, int], values: Sequence[Any], other: int = 0
) -> tuple[list[str], list[float], list[float]]:
    """The reference's :data:`CATEGORIES` most frequent categories and one "other" bin: the
    labels, and each side's share of its non-missing values (``other``: the reference's values
    outside its kept counts)."""
    ranked = sorted(reference.items(), key=lambda kv: (-kv[1], kv[0]))
    kept = [name for name, _ in ranked[:CATEGORIES]]
    total = sum(reference.values()) + other
    ref = [reference[name] / total if total else 0.0 for name in kept]
    series = pl.Series("v", list(values), dtype=pl.String, strict=False).drop_nulls()
    counts = dict(series.value_counts(name="n").iter_rows()) if series.len() else {}
    seen = series.len()
    now = [counts.get(name, 0) / seen if seen else 0.0 for name in kept]
    labels = [*kept, OTHER]
    return labels, [*ref, max(0.0, 1.0 - sum(ref))], [*now, max(0.0, 1.0 - sum(now))]


def histogram(
    column: ColumnProfile, values: Sequence[Any], now: str, reference: str = "reference"
) -> Figure | None:
    """``column`` (the drift reference's, or training's) against ``values`` (the window's,
    nulls included) on the drift test's bins; ``None`` for a kind drift does not compare."""
    if column.numeric is not None and column.kind != "datetime":
        numbers = [float(v) for v in values if isinstance(v, int | float)]
        labels, ref, cur = numeric_bins(column.numeric.sketch, numbers)
        error = column.numeric.sketch.error
        note = f"the reference's shares within ±{error:.2%}" if error else "exact shares"
        x = "bin (the reference's deciles)"
    elif column.categories is not None:
        counts = column.categories
        labels, ref, cur = category_bins(counts.counts, values, counts.other_count)
        note, x = "shares of non-missing values", "category"
    else:
        return None
    missing = sum(v is None for v in values) / len(values) if values else 0.0
    title = (
        f"{column.name}: {now} against the {reference} ({note}; missing: {missing:.1%} now, "
        f"{column.missing_fraction:.1%} in the {reference})"
    )
    traces = [
        {"type": "bar", "name": reference, "x": labels, "y": ref, "marker": {"color": GREY}},
        {"type": "bar", "name": now, "x": labels, "y": cur, "marker": {"color": ORANGE}},
    ]
    base = layout(title, "share of values")
    base.update(barmode="group")
    base["xaxis"] = {"title": {"text": x}, "type": "category", "automargin": True}
    base["legend"] = {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"}  # clear of ticks
    base["yaxis"]["tickformat"] = ".0%"
    return f"hist-{column.name}", title, {"data": traces, "layout": base}


def drift_over_time(
    spec: Spec, windows: list[WindowRecord], alerts: list[AlertRecord], feature: str
) -> Figure | None:
    """``feature``'s drift statistic on every window, its threshold, and its fired alerts."""
    key = f"drift_value.{feature}"
    if not any(w.metrics.get(key) is not None for w in windows):
        return None
    w = Windows(spec, windows, alerts)
    decide_by, threshold = spec.monitoring.drift.decide_by, drift_threshold(spec)
    traces = w.series(key, feature)
    traces += w.marks([f"drift.{feature}"], value_of="drift_value")
    return chart(
        f"drift-{feature}",
        f"{feature}: drift against the reference over time ({decide_by})",
        decide_by,
        traces,
        [(threshold, f"threshold {threshold:g}")],
    )
