"""Quality as the monitoring page leads with it, and chart titles moved out of the plot:
properties over any windows and figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from loopml.reports.monitor_quality import quality_view
from loopml.reports.render import headed
from loopml.spec import parse_spec
from loopml.store import WindowRecord

START = datetime(2026, 1, 1, tzinfo=UTC)
SPEC = parse_spec(
    "name: m\ntask: binary\ntarget: y\nfeatures: {numeric: [x]}\n"
    "metric: {name: roc_auc, target: 0.7}\n"
)
value = st.none() | st.floats(0, 1)


def _window(i: int, metrics: dict[str, Any]) -> WindowRecord:
    start = START + timedelta(hours=i)
    clean = {k: v for k, v in metrics.items() if v is not None}
    return WindowRecord("m", "m@1", "1h", start, start + timedelta(hours=1), 500, clean, {})


@given(st.lists(st.tuples(value, value, value, value), min_size=1, max_size=12))
def test_each_figure_comes_from_the_latest_window_holding_it(
    rows: list[tuple[float | None, float | None, float | None, float | None]],
) -> None:
    keys = ("quality.roc_auc", "expected.roc_auc", "expected.roc_auc_low", "expected.roc_auc_high")
    windows = [_window(i, dict(zip(keys, row, strict=True))) for i, row in enumerate(rows)]
    view = quality_view(SPEC, windows)
    labelled = [w for w in windows if "quality.roc_auc" in w.metrics]
    estimated = [w for w in windows if "expected.roc_auc" in w.metrics]
    assert view.labelled_window is (labelled[-1] if labelled else None)
    assert view.estimated_window is (estimated[-1] if estimated else None)
    if view.labelled is not None:
        assert view.meets_target is (view.labelled >= 0.7)
    else:
        assert view.meets_target is None
    if view.estimated is None:
        assert view.estimate_text == "—"
    elif view.low is not None and view.high is not None:
        assert "(90 % interval " in view.estimate_text  # never the point alone
    else:
        assert "no interval" in view.estimate_text


titles = st.text(min_size=1, max_size=80)


@given(st.lists(st.tuples(titles, st.none() | titles, st.integers(0, 200)), max_size=8))
def test_headed_moves_every_title_out_of_the_plot_and_keeps_the_rest(
    charts: list[tuple[str, str | None, int]],
) -> None:
    figures = []
    for i, (heading, title, top) in enumerate(charts):
        figure_layout: dict[str, Any] = {"margin": {"t": top, "l": 5}, "height": 300}
        if title is not None:
            figure_layout["title"] = {"text": title}
        figures.append((f"c{i}", heading, {"data": [{"y": [i]}], "layout": figure_layout}))
    out = headed(figures)
    for (ident, heading, figure), (new_id, new_heading, new_figure), (_, title, top) in zip(
        figures, out, charts, strict=True
    ):
        assert new_id == ident and new_figure["data"] == figure["data"]
        assert new_heading == (title or heading)
        assert "title" not in new_figure["layout"]
        assert new_figure["layout"]["margin"] == {"t": min(top, 30), "l": 5}
        assert new_figure["layout"]["height"] == 300
