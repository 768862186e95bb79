"""The training report: the leaderboard and the chosen model's error analysis, as one HTML page.

Compute, then render: :func:`build_run_report` gathers a :class:`RunReport` (plain data: the run's
summary, the leaderboard, the target and human-level lines, the :class:`Analysis`);
:func:`loopml.reports.run_charts.figures` turns it into Plotly figures — only those that apply
to the task; :func:`to_html` and :func:`write_html` draw a self-contained page (Plotly inlined,
nothing fetched).

Charts: the leaderboard (validation and test score of every candidate beside the baselines, with
the spec's target and the human-level figure as lines); for classification the confusion matrix;
for binary tasks the ROC and PR curves, the calibration curve and precision / recall / F1 by
threshold; for regression residuals against predictions and their distribution; feature
importance (permutation and gain side by side); one chart per spec slice. Tables: the
leaderboard, overall test metrics, the threshold table, slice metrics and the worst slices.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loopml.modeling.analysis import Analysis
from loopml.modeling.metrics import greater_is_better
from loopml.reports.render import render_page, write_page
from loopml.reports.run_charts import figures
from loopml.reports.tables import number

__all__ = ["RunReport", "build_run_report", "figures", "to_html", "write_html"]


@dataclass(frozen=True)
class RunReport:
    """Everything the page shows, as plain data."""

    title: str
    summary: list[tuple[str, str]]
    primary: str
    greater_is_better: bool
    target: float | None
    human_level: float | None
    leaderboard: list[dict[str, Any]]
    analysis: Analysis


def _get(run: Any, key: str, default: Any = None) -> Any:
    """``run[key]`` for a mapping, ``run.key`` for a record object."""
    if isinstance(run, Mapping):
        return run.get(key, default)
    return getattr(run, key, default)


def _text(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, dict):
        return ", ".join(
            f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}" for k, v in value.items()
        )
    return str(value)


def _summary(run: Any) -> list[tuple[str, str]]:
    params = _get(run, "params") or {}
    duration = _get(run, "duration_s")
    rows = [
        ("run", _get(run, "id")),
        ("name", _get(run, "name")),
        ("status", _get(run, "status")),
        ("dataset", _get(run, "dataset_ref")),
        ("code version", _get(run, "code_version")),
        ("split", params.get("split")),
        ("rows per split", params.get("sizes")),
        ("started", _get(run, "started_at")),
        ("seconds", duration() if callable(duration) else duration),
    ]
    return [(label, _text(value)) for label, value in rows if value not in (None, "", {})]


def build_run_report(
    run: Mapping[str, Any] | Any,
    leaderboard: list[dict[str, Any]],
    analysis: Analysis,
    *,
    human_level: float | None = None,
    title: str | None = None,
) -> RunReport:
    """The report of one training run.

    ``run`` is the training run's record (a :class:`loopml.store.RunRecord`) or any mapping with
    some of its keys (``id``, ``name``, ``dataset_ref``, ``code_version``, ``params`` with
    ``split`` and ``sizes``, ``spec`` with ``metric.target``); ``leaderboard`` is
    :meth:`TrainResult.leaderboard` (rows with ``candidate``, ``baseline``, ``validation``,
    ``test``, ``best``); ``analysis`` is the chosen model's analysis on the test split.
    """
    spec = _get(run, "spec") or {}
    target = (spec.get("metric") or {}).get("target")
    name = _get(run, "name")
    return RunReport(
        title=title or f"training report: {name or 'run ' + str(_get(run, 'id', ''))}",
        summary=_summary(run),
        primary=analysis.primary,
        greater_is_better=greater_is_better(analysis.primary),
        target=None if target is None else float(target),
        human_level=human_level,
        leaderboard=[dict(row) for row in leaderboard],
        analysis=analysis,
    )


def to_html(report: RunReport) -> str:
    """The report as one self-contained HTML page."""
    return render_page(
        "run_report.html.j2",
        report=report,
        a=report.analysis,
        figures=figures(report),
        number=number,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def write_html(report: RunReport, path: str | Path) -> Path:
    """Write the report's HTML page to ``path`` (atomically) and return the path."""
    return write_page(to_html(report), path)
