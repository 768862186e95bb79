"""The report verbs: a finished training run's HTML report, and the monitoring report.

Both read what the store kept (the run's leaderboard and stored analysis; the monitoring
windows, alerts and the served model's training profile) and write a self-contained HTML file,
by default into the project's reports folder (:attr:`loopml.config.Settings.reports_dir`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

import orjson

from loopml.config import Settings
from loopml.data.profile import Profile
from loopml.errors import LoopmlError, NotFoundError
from loopml.modeling.analysis import Analysis
from loopml.modeling.importance import importance_shares
from loopml.registry import load_package, read_document
from loopml.reports import monitor_report as report
from loopml.reports.run_report import build_run_report, write_html
from loopml.spec import Spec
from loopml.store import Store

logger = logging.getLogger(__name__)


def reports_folder(reports_dir: str | Path | None = None) -> Path:
    """Where reports are written: ``reports_dir`` when given, else the project's
    (:attr:`~loopml.config.Settings.reports_dir`, ``$LOOPML_HOME/reports``)."""
    return Settings.from_env().reports_dir if reports_dir is None else Path(reports_dir)


def run_report(
    store: Store,
    spec: Spec,
    run_id: int | str,
    out: Path | None = None,
    *,
    reports_dir: Path | None = None,
) -> Path:
    """Write the HTML report of a finished training run from what the store kept, to ``out``
    (default: ``run-ID.html`` in :func:`reports_folder`)."""
    run = store.runs.get(run_id)
    if run.kind != "train":
        raise LoopmlError(
            f"run {run.id} is a '{run.kind}' run: pass a training run's id "
            f"(its parent is run {run.parent_id})"
        )
    try:
        analysis = Analysis.from_dict(
            orjson.loads(store.artifacts.get_bytes(f"runs/{run.id}/analysis.json"))
        )
    except (OSError, LoopmlError, orjson.JSONDecodeError) as exc:
        raise NotFoundError(
            f"run {run.id} has no stored analysis (it failed or was interrupted): train again"
        ) from exc
    return write_html(
        build_run_report(
            run,
            run.metrics.get("leaderboard", []),
            analysis,
            human_level=spec.targets.human_level,
            title=f"{spec.name}: training run {run.id}",
        ),
        out or reports_folder(reports_dir) / f"run-{run.id}.html",
    )


def build_monitor_report(
    store: Store,
    spec: Spec,
    *,
    since: datetime | None = None,
    limit: int | None = None,
    shares: Mapping[str, float] | None = None,
) -> report.MonitorReport:
    """The monitoring report of ``spec``'s deployment from the stored windows and alerts: the
    windows after ``since`` (the last ``limit`` of them) of the newest window size.

    The served model's training profile (for the drifted features' distributions) is read from
    its package without loading the model; an unreadable package only drops those charts.
    ``shares`` (each feature's share of the served model's importance, which weighs its drift)
    are read from the loaded package when not given (the dashboard passes the ones it keeps).
    """
    windows = store.monitoring.list_windows(spec.name, since=since, limit=limit)
    if not windows:
        raise NotFoundError(
            f"no monitoring windows of '{spec.name}' yet: serve predictions, then run "
            "'loopml monitor run'"
        )
    size = windows[-1].size
    windows = [w for w in windows if w.size == size]
    first = windows[0].start.isoformat()
    alerts = [
        a
        for a in store.monitoring.list_alerts(deployment=spec.name)
        if (since is None or a.evidence.get("window_end", "") > since.isoformat())
        and (limit is None or a.evidence.get("window_start", first) >= first)
    ]
    try:
        record = store.models.get(windows[-1].model_version)
        profile = Profile.from_dict(read_document(store, record, "profile.json"))
    except LoopmlError as exc:
        logger.warning("no training profile for the monitoring report: %s", exc)
        profile = None
    if shares is None:
        shares = importance_of(store, windows[-1].model_version)
    return report.build(spec, windows, list(reversed(alerts)), profile, shares)


def importance_of(store: Store, ref: str) -> dict[str, float]:
    """Each input column's share of model ``ref``'s own importance (the weight of its drift),
    or ``{}`` (equal weights) when its package cannot be loaded."""
    try:
        return importance_shares(load_package(store, ref).model)
    except LoopmlError as exc:
        logger.warning("drift goes unweighted by importance: %s", exc)
        return {}


def monitor_report(
    store: Store,
    spec: Spec,
    *,
    since: datetime | None = None,
    out: Path | None = None,
    reports_dir: Path | None = None,
) -> Path:
    """Write the monitoring report of ``spec``'s deployment from the stored windows and alerts,
    to ``out`` (default: ``monitor-NAME.html`` in :func:`reports_folder`)."""
    return report.write_html(
        build_monitor_report(store, spec, since=since),
        out or reports_folder(reports_dir) / f"monitor-{spec.name}.html",
    )
