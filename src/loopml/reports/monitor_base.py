"""What every monitoring chart shares: the layout, threshold lines, the open window's hollow
points, and :class:`Windows` — the windows of one page by model version, the alerts, the rules,
which metric keys a chart has claimed, and which features a per-feature chart may show.

**Legends stay short.** A chart with one line per feature would carry 30–60 legend entries on a
wide table, which nobody reads. A per-feature chart shows at most :data:`LINES` lines: the top
features by importance-weighted drift (:mod:`loopml.reports.monitor_ranking`), fewer per model
version when several versions served; every other feature is one click away on its own page.
8 lines fit two legend rows of four under the chart and stay tellable apart by colour (Plotly's
palette has 10).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from loopml.monitoring.alerts import keys_of, rules_of
from loopml.reports.monitor_ranking import judged_window, rank_drift, rank_keys
from loopml.spec import Spec
from loopml.store import AlertRecord, WindowRecord

LINES = 8

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


def chart(
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


def one_at_a_time(made: Figure, names: Sequence[str], owner: Sequence[int]) -> Figure:
    """``made`` with a menu that shows one of ``names`` at a time: trace ``i`` belongs to
    ``names[owner[i]]`` (the first name's traces are the visible ones), so the legend holds one
    metric's entries however many there are. The chart is sized for that legend."""
    ident, title, figure = made
    buttons = [
        {
            "label": name,
            "method": "update",
            "args": [{"visible": [o == i for o in owner]}, {"yaxis.title.text": name}],
        }
        for i, name in enumerate(names)
    ]
    sized = layout(title, names[0], entries=4)
    figure["layout"].update(height=sized["height"], margin=sized["margin"])
    figure["layout"]["updatemenus"] = [
        {"buttons": buttons, "x": 0, "xanchor": "left", "y": 1, "yanchor": "bottom",
         "direction": "down", "showactive": True, "pad": {"b": 2}},
    ]  # fmt: skip
    return ident, title, figure


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


class Windows:
    """What every chart of one page shares: the windows by model version, the alerts, the rules,
    and which metric keys a chart has already claimed."""

    def __init__(
        self,
        spec: Spec,
        windows: list[WindowRecord],
        alerts: list[AlertRecord],
        shares: Mapping[str, float] | None = None,
    ) -> None:
        self.spec, self.windows, self.alerts = spec, windows, alerts
        self.shares = dict(shares or {})
        self.judged = judged_window(windows, spec.monitoring.min_samples)
        ranked = rank_drift(self.judged, self.shares) if self.judged is not None else []
        self.ranking = [r.feature for r in ranked]
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

    def top(self, keys: Sequence[str]) -> tuple[list[str], int]:
        """The keys (``<family>.<feature>``) a per-feature chart draws: at most :data:`LINES`
        lines in all, ranked by importance times their value on the judged window (the drift
        ranking breaking ties); and how many keys there were."""
        each = max(1, LINES // max(1, len(self.versions)))
        ranked = rank_keys(self.judged, keys, self.shares, self.ranking)
        return ranked[:each], len(ranked)

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
