"""Estimated quality on the monitoring charts: its 90 % interval as a shaded band, and markers on
the windows whose labelled value left it (the ``estimate_outside.<metric>`` flag: the inputs may
now mean other labels, so the estimate is not to be trusted there)."""

from __future__ import annotations

from typing import Any

from loopml.store import WindowRecord

BAND = "rgba(255, 127, 14, 0.2)"
OUTSIDE = "#ff7f0e"


def band(versions: dict[str, list[WindowRecord]], key: str, label: str) -> list[dict[str, Any]]:
    """Plotly traces shading ``key_low`` to ``key_high`` per model version (none without them)."""
    traces: list[dict[str, Any]] = []
    for version, windows in versions.items():
        if not any(f"{key}_low" in w.metrics for w in windows):
            continue
        name = f"{label} ({version})" if len(versions) > 1 else label
        edge = {
            "type": "scatter",
            "mode": "lines",
            "name": name,
            "x": [w.start.isoformat() for w in windows],
            "line": {"width": 0},
        }
        low = [w.metrics.get(f"{key}_low") for w in windows]
        high = [w.metrics.get(f"{key}_high") for w in windows]
        traces.append({**edge, "y": low, "showlegend": False, "hoverinfo": "skip"})
        traces.append({**edge, "y": high, "fill": "tonexty", "fillcolor": BAND})
    return traces


def outside(windows: list[WindowRecord], metric: str) -> list[dict[str, Any]]:
    """A marker at the labelled value of each window flagged ``estimate_outside.<metric>``."""
    hits = [w for w in windows if w.metrics.get(f"estimate_outside.{metric}") == 1.0]
    if not hits:
        return []
    return [
        {
            "type": "scatter",
            "mode": "markers",
            "name": "labelled value outside the estimate's interval",
            "x": [w.start.isoformat() for w in hits],
            "y": [w.metrics.get(f"quality.{metric}") for w in hits],
            "marker": {"color": OUTSIDE, "size": 11, "symbol": "diamond-open"},
        }
    ]
