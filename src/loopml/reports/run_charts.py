"""The training report's charts: Plotly figures (plain dicts) drawn from a :class:`RunReport`.

:func:`figures` returns ``(element id, heading, figure)`` for every chart that applies to the
task, in page order; the page template calls ``Plotly.newPlot`` on each. Scatter plots use SVG
(``scatter``), not WebGL, so the page draws in browsers without a GPU.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from loopml.modeling.analysis import Analysis

if TYPE_CHECKING:
    from loopml.reports.run_report import RunReport

TOP_FEATURES = 20
BLUE, ORANGE, GREY, RED, GREEN = "#1f77b4", "#ff7f0e", "#9a9a9a", "#d62728", "#2ca02c"


def _layout(title: str, x: str, y: str, **extra: Any) -> dict[str, Any]:
    return {
        "title": {"text": title},
        "xaxis": {"title": {"text": x}},
        "yaxis": {"title": {"text": y}},
        "height": 380,
        "margin": {"l": 70, "r": 20, "t": 50, "b": 60},
        "legend": {"orientation": "h", "y": -0.2},
        **extra,
    }


def _hline(
    y: float, label: str, color: str, dash: str, *, left: bool = False
) -> tuple[dict[str, Any], dict[str, Any]]:
    shape = {
        "type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": y, "y1": y,
        "line": {"color": color, "dash": dash, "width": 2},
    }  # fmt: skip
    note = {
        "xref": "paper", "x": 0 if left else 1, "y": y, "xanchor": "left" if left else "right",
        "yanchor": "bottom", "text": label, "showarrow": False, "font": {"color": color},
    }  # fmt: skip
    return shape, note


def _diagonal() -> dict[str, Any]:
    return {
        "type": "scatter", "mode": "lines", "x": [0, 1], "y": [0, 1], "name": "chance / ideal",
        "line": {"color": GREY, "dash": "dot"},
    }  # fmt: skip


def _leaderboard(report: RunReport) -> dict[str, Any]:
    rows = report.leaderboard
    names = [f"{r['candidate']}{' (baseline)' if r.get('baseline') else ''}" for r in rows]
    traces = []
    for split, color in (("validation", BLUE), ("test", ORANGE)):
        traces.append(
            {
                "type": "bar",
                "name": split,
                "x": names,
                "y": [r.get(split) for r in rows],
                "marker": {
                    "color": [GREY if r.get("baseline") else color for r in rows],
                    "line": {"color": color, "width": 2},
                },
                "hovertemplate": f"%{{x}}<br>{split}: %{{y:.4f}}<extra></extra>",
            }
        )
    shapes, notes = [], []
    for value, label, color, dash, left in (
        (report.target, "target", RED, "dash", True),
        (report.human_level, "human level", GREEN, "dot", False),
    ):
        if value is not None:
            shape, note = _hline(value, f"{label} {value:g}", color, dash, left=left)
            shapes.append(shape)
            notes.append(note)
    layout = _layout(
        f"{report.primary} by candidate (grey: baselines)",
        "candidate",
        report.primary,
        barmode="group",
        shapes=shapes,
        annotations=notes,
    )
    return {"data": traces, "layout": layout}


def _confusion(analysis: Analysis) -> dict[str, Any]:
    assert analysis.confusion is not None
    labels, matrix = analysis.confusion["labels"], analysis.confusion["matrix"]
    trace = {
        "type": "heatmap",
        "z": matrix,
        "x": labels,
        "y": labels,
        "colorscale": "Blues",
        "reversescale": True,  # Plotly's "Blues" runs dark to light: more rows, darker
        "texttemplate": "%{z}",
        "hovertemplate": "true %{y}, predicted %{x}: %{z}<extra></extra>",
    }
    layout = _layout("confusion matrix (test)", "predicted", "true")
    layout["xaxis"]["type"] = layout["yaxis"]["type"] = "category"
    layout["yaxis"]["autorange"] = "reversed"
    return {"data": [trace], "layout": layout}


def _roc(analysis: Analysis) -> dict[str, Any]:
    roc = analysis.roc or {}
    curve = {"type": "scatter", "mode": "lines", "x": roc["fpr"], "y": roc["tpr"], "name": "model"}
    return {
        "data": [curve, _diagonal()],
        "layout": _layout(
            f"ROC curve (AUC {roc['auc']:.3f})", "false positive rate", "true positive rate"
        ),
    }


def _pr(analysis: Analysis) -> dict[str, Any]:
    pr = analysis.pr or {}
    curve = {
        "type": "scatter", "mode": "lines", "x": pr["recall"], "y": pr["precision"],
        "name": "model",
    }  # fmt: skip
    rate = analysis.overall.get("positive_rate")
    shapes, notes = (
        ([], []) if rate is None else [[x] for x in _hline(rate, "positive rate", GREY, "dot")]
    )
    layout = _layout(f"precision-recall curve (AP {pr['ap']:.3f})", "recall", "precision")
    layout.update(shapes=shapes, annotations=notes)
    return {"data": [curve], "layout": layout}


def _calibration(analysis: Analysis) -> dict[str, Any]:
    cal = analysis.calibration or {}
    points = {
        "type": "scatter", "mode": "lines+markers", "x": cal["predicted"], "y": cal["observed"],
        "name": "model", "customdata": cal["count"],
        "hovertemplate": "predicted %{x:.3f}<br>observed %{y:.3f}<br>%{customdata} rows"
        "<extra></extra>",
    }  # fmt: skip
    return {
        "data": [points, _diagonal()],
        "layout": _layout(
            "calibration (10 quantile bins)", "mean predicted probability", "observed positive rate"
        ),
    }


def _thresholds(analysis: Analysis) -> dict[str, Any]:
    rows = analysis.thresholds or []
    x = [r["threshold"] for r in rows]
    traces = [
        {"type": "scatter", "mode": "lines+markers", "x": x, "y": [r[k] for r in rows], "name": k}
        for k in ("precision", "recall", "f1", "flagged")
    ]
    layout = _layout("precision, recall, F1 and share flagged by threshold", "threshold", "")
    chosen = analysis.overall.get("threshold")
    if chosen is not None:
        layout["shapes"] = [
            {
                "type": "line", "yref": "paper", "x0": chosen, "x1": chosen, "y0": 0, "y1": 1,
                "line": {"color": RED, "dash": "dash"},
            }
        ]  # fmt: skip
        layout["annotations"] = [
            {"yref": "paper", "x": chosen, "y": 1, "text": f"chosen {chosen:g}", "showarrow": False}
        ]
    return {"data": traces, "layout": layout}


def _residuals(analysis: Analysis) -> list[tuple[str, str, dict[str, Any]]]:
    res = analysis.residuals or {}
    scatter = {
        "type": "scatter", "mode": "markers", "x": res["predicted"], "y": res["residual"],
        "marker": {"size": 4, "opacity": 0.5}, "name": "rows",
    }  # fmt: skip
    layout = _layout(
        f"residuals (actual − predicted), {len(res['predicted']):,} sampled rows",
        "predicted", "residual",
        shapes=[_hline(0, "", GREY, "dot")[0]],
    )  # fmt: skip
    histogram = {"type": "histogram", "x": res["residual"], "nbinsx": 40, "name": "residuals"}
    return [
        ("residuals", "Residuals", {"data": [scatter], "layout": layout}),
        (
            "residual-histogram",
            "Residual distribution",
            {"data": [histogram], "layout": _layout("residual distribution", "residual", "rows")},
        ),
    ]


def _importance(analysis: Analysis) -> dict[str, Any]:
    items = analysis.importance[:TOP_FEATURES][::-1]  # most important at the top
    features = [i["feature"] for i in items]
    traces = [
        {
            "type": "bar", "orientation": "h", "name": f"permutation (drop in {analysis.primary})",
            "x": [i["permutation"] for i in items], "y": features, "xaxis": "x", "yaxis": "y",
            "error_x": {"type": "data", "array": [i["permutation_std"] for i in items]},
            "marker": {"color": BLUE},
        },
    ]  # fmt: skip
    if any(i["gain"] is not None for i in items):
        traces.append(
            {
                "type": "bar", "orientation": "h", "name": "gain (share of the model's own)",
                "x": [i["gain"] for i in items], "y": features, "xaxis": "x2", "yaxis": "y",
                "marker": {"color": ORANGE},
            }
        )  # fmt: skip
    layout = _layout("feature importance (input columns)", "", "")
    layout.update(
        height=max(320, 28 * len(items) + 140),
        margin={"l": 150, "r": 20, "t": 50, "b": 60},
        xaxis={"domain": [0, 0.47], "title": {"text": "permutation"}},
        xaxis2={"domain": [0.53, 1], "title": {"text": "gain share"}, "anchor": "y"},
    )
    return {"data": traces, "layout": layout}


def _slice_figures(report: RunReport) -> list[tuple[str, str, dict[str, Any]]]:
    analysis = report.analysis
    metric = analysis.slice_metric
    out = []
    names = list(dict.fromkeys(row["slice"] for row in analysis.slices))
    overall = analysis.overall.get(metric)
    for k, name in enumerate(names):
        rows = [r for r in analysis.slices if r["slice"] == name]
        bar = {
            "type": "bar", "x": [r["value"] for r in rows], "y": [r["metric"] for r in rows],
            "customdata": [r["count"] for r in rows], "name": metric,
            "hovertemplate": "%{x}<br>" + metric + " %{y:.4f}<br>%{customdata} rows<extra></extra>",
        }  # fmt: skip
        layout = _layout(f"{metric} by {name}", name, metric)
        if overall is not None:
            shape, note = _hline(overall, f"overall {overall:.4g}", RED, "dash")
            layout.update(shapes=[shape], annotations=[note])
        out.append((f"slice-{k}", f"Slice: {name}", {"data": [bar], "layout": layout}))
    return out


def figures(report: RunReport) -> list[tuple[str, str, dict[str, Any]]]:
    """``(element id, heading, Plotly figure)`` for every chart that applies to the task."""
    a = report.analysis
    out = [("leaderboard", "Leaderboard", _leaderboard(report))]
    if a.confusion is not None:
        out.append(("confusion", "Confusion matrix", _confusion(a)))
    if a.roc is not None:
        out.append(("roc", "ROC curve", _roc(a)))
    if a.pr is not None:
        out.append(("pr", "Precision-recall curve", _pr(a)))
    if a.calibration is not None:
        out.append(("calibration", "Calibration", _calibration(a)))
    if a.thresholds:
        out.append(("thresholds", "Decision threshold", _thresholds(a)))
    if a.residuals is not None:
        out.extend(_residuals(a))
    if a.importance:
        out.append(("importance", "Feature importance", _importance(a)))
    out.extend(_slice_figures(report))
    return out
