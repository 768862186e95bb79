"""What a monitoring pass could not settle yet, in words: the open window and why none was made.

A pass computes the open window too (``partial``), so "0 windows" only happens when no served
prediction is in the log: :func:`why_none` says which case it is (nothing logged, nothing since
``since``, only shadow copies). :func:`open_note` describes an open window ("3,000 predictions in
the 1h window that closes at 18:00 UTC"), and whether its alerts wait for ``min_samples`` rows.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import polars as pl

from loopml.monitoring.windows import SERVED
from loopml.predlog import read_log
from loopml.spec import Spec
from loopml.store import WindowRecord


def open_note(window: WindowRecord, spec: Spec) -> str:
    """One line on an open window: its rows, when it closes, whether alerts can fire on it."""
    if window.size.endswith("rows"):
        full = int(window.size.removesuffix("rows"))
        where = f"{window.rows:,} of the {full:,} predictions of the open count window"
    else:
        same_day = (window.end - timedelta(microseconds=1)).date() == window.start.date()
        closes = f"{window.end:{'%H:%M' if same_day else '%Y-%m-%d %H:%M'}} UTC"
        where = f"{window.rows:,} predictions in the {window.size} window that closes at {closes}"
    need = spec.monitoring.min_samples
    if window.rows < need:
        then = f"alerts on it wait for {need:,} rows ({need - window.rows:,} more)"
    else:
        then = "its rules are checked now, and again on each pass until it closes"
    return f"{where} ({window.model_version}); {then}"


def why_none(spec: Spec, log_folder: str | Path, *, since: datetime | None = None) -> str:
    """Why a pass over ``[since, now)`` computed no window, with what to do about it."""
    recent = read_log(log_folder, spec.name, since=since)
    if recent.height:
        routes = recent.get_column("route").value_counts(sort=True)
        seen = ", ".join(f"{n:,} {route}" for route, n in routes.iter_rows())
        if not recent.filter(pl.col("route").is_in(SERVED)).height:
            return (
                f"{recent.height:,} predictions logged for '{spec.name}' ({seen}), none answered "
                f"by the {' or '.join(SERVED)} model: shadow copies are not monitored; promote a "
                "model ('loopml promote') or send traffic to it"
            )
        return f"{recent.height:,} predictions logged for '{spec.name}' ({seen})"
    if since is not None:
        before = read_log(log_folder, spec.name).height
        if before:
            return (
                f"no prediction of '{spec.name}' logged since {since:%Y-%m-%d %H:%M:%S} UTC "
                f"({before:,} before it); pass an earlier --since, or send traffic to 'loopml "
                "serve'"
            )
    return (
        f"no prediction of '{spec.name}' logged in {log_folder} yet: send requests to "
        "'loopml serve' (POST /predict); logs are flushed every serving.log_flush_interval"
    )
