"""Quality as the monitoring page leads with it: the primary metric on labelled rows, and the
estimate made before labels with its 90 % interval.

Labels arrive late, so the latest labelled window is often older than the latest window; each
figure is read from the latest window that holds it, and says which window that is. The estimate
is never shown without its interval when the window holds one: a point alone reads as more
certain than it is. When the labelled value of a window left the estimate's interval
(``estimate_outside.<metric>``), the inputs may now mean other labels (concept shift) and the
estimate is not to be trusted; the view says so.

Pure: windows in, a plain :class:`QualityView` out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from loopml.modeling.metrics import greater_is_better
from loopml.reports.tables import number
from loopml.spec import Spec
from loopml.store import WindowRecord

LEVEL = "90 %"  # the interval monitoring computes (loopml.monitoring.quality_estimate)


@dataclass(frozen=True)
class QualityView:
    """The primary metric, labelled and estimated, from the latest windows holding each."""

    metric: str
    target: float | None
    higher_is_better: bool
    labelled: float | None = None
    labelled_rows: int | None = None
    coverage: float | None = None
    labelled_window: WindowRecord | None = None
    estimated: float | None = None
    low: float | None = None
    high: float | None = None
    estimated_window: WindowRecord | None = None
    outside: bool = False  # the labelled window's labels left the estimate's interval

    @property
    def meets_target(self) -> bool | None:
        """Whether the labelled value meets the spec's target (``None``: no target or labels)."""
        if self.target is None or self.labelled is None:
            return None
        if self.higher_is_better:
            return self.labelled >= self.target
        return self.labelled <= self.target

    @property
    def estimate_text(self) -> str:
        """The estimate with its interval, e.g. ``0.7120 (90 % interval 0.6900–0.7310)``."""
        if self.estimated is None:
            return "—"
        if self.low is None or self.high is None:
            return f"{number(self.estimated)} (no interval: too few rows to bound it)"
        return f"{number(self.estimated)} ({LEVEL} interval {number(self.low)}–{number(self.high)})"


def _latest(windows: Sequence[WindowRecord], key: str) -> WindowRecord | None:
    return next((w for w in reversed(windows) if w.metrics.get(key) is not None), None)


def quality_view(spec: Spec, windows: Sequence[WindowRecord]) -> QualityView:
    """The primary metric of ``spec`` from ``windows`` (oldest first)."""
    metric = spec.metric.name
    view = QualityView(metric, spec.metric.target, greater_is_better(metric))
    labelled = _latest(windows, f"quality.{metric}")
    estimated = _latest(windows, f"expected.{metric}")
    labels: dict[str, Any] = {}
    if labelled is not None:
        m = labelled.metrics
        rows = m.get("quality.labelled")
        labels = {
            "labelled": m[f"quality.{metric}"],
            "labelled_rows": int(rows) if rows is not None else None,
            "coverage": m.get("label_coverage"),
            "labelled_window": labelled,
            "outside": m.get(f"estimate_outside.{metric}") == 1.0,
        }
    if estimated is not None:
        m = estimated.metrics
        labels.update(
            estimated=m[f"expected.{metric}"],
            low=m.get(f"expected.{metric}_low"),
            high=m.get(f"expected.{metric}_high"),
            estimated_window=estimated,
        )
    return replace(view, **labels)
