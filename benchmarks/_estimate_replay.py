"""Estimated quality against labelled quality on the flights replay (``bench_monitor``'s part).

A throwaway project as ``bench_loop`` sets it up: the spec ``loopml init`` proposes for
January–March (target ``late``, LightGBM only), trained and registered — so the package holds the
isotonic calibration of its validation split. April–December is replayed in calendar windows
(``--estimate-window``, default one week) through :func:`loopml.monitoring.windows.window_metrics`
with every label known, as ``loopml monitor`` computes a window once its labels arrived. As a
control, the champion's test split (held out, never used for its calibration) in windows of
1,000 rows, in time order and shuffled.

Per metric (ROC AUC, PR AUC, accuracy): the mean absolute error of ``expected.<m>`` against
``quality.<m>``, the share of windows whose labelled value lies inside the 90 % interval, and the
same for the estimate from the raw, uncalibrated scores (what loopml computed before), for
comparison. Goals (issue 13, item 6): MAE ≤ 0.015 ROC AUC, coverage ≥ 80 %.
"""

from __future__ import annotations

import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from rich.console import Console
from rich.table import Table

from loopml.data.scope import propose_spec
from loopml.data.versions import add_frame
from loopml.datasets import flights
from loopml.loop.simulate import windows_of
from loopml.modeling.train import train
from loopml.monitoring.estimate import estimate_binary
from loopml.monitoring.windows import Windowing, window_metrics
from loopml.registry import Package, load_package, register
from loopml.spec import Spec, parse_spec
from loopml.store import Store, WindowRecord

METRICS = ("roc_auc", "pr_auc", "accuracy")
GOAL_MAE, GOAL_COVERAGE = 0.015, 0.80
CONTROL_ROWS = 1_000


def _spec(q1: pl.DataFrame) -> Spec:
    proposal = propose_spec(q1, target="late", name="flights", source="flights_q1.parquet")
    spec = parse_spec(proposal.text)
    model = spec.model.model_copy(update={"candidates": ["lightgbm"]})
    return type(spec).model_validate({**spec.model_dump(), "model": model.model_dump()})


def _window(
    part: pl.DataFrame, package: Package, spec: Spec, begin: datetime, end: datetime
) -> tuple[WindowRecord, dict[str, float]]:
    """The window ``loopml monitor`` computes once every label is in, and the uncalibrated
    estimate of the same scores (what loopml showed before calibration)."""
    model = package.model
    scores = model.scores(model.output(model.pipeline.transform(part)))
    ids = [f"bench-{i}" for i in range(part.height)]
    log = pl.DataFrame(
        {
            "request_id": ids,
            "features": part.drop(spec.target)
            .select(pl.struct(pl.all()).struct.json_encode())
            .to_series(),
            "error": pl.Series([None] * part.height, dtype=pl.String),
            "score": scores,
            "latency_ms": np.zeros(part.height),
        }
    )
    labels = dict(zip(ids, part[spec.target].to_list(), strict=True))
    cut = Windowing(seconds=max((end - begin).total_seconds(), 1.0))
    window = window_metrics(log, package, spec, labels, begin, end, cut)
    return window, estimate_binary(scores, None, model.decision_threshold)


def run(console: Console, every: str = "1w") -> dict[str, Any]:
    """Train, replay, print the table and the goals; return the figures."""
    started = time.perf_counter()
    data = flights()
    q1, later = data.filter(pl.col("month") <= 3), data.filter(pl.col("month") >= 4)
    spec = _spec(q1)
    rows: list[tuple[WindowRecord, dict[str, float]]] = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-estimate-") as folder,
        Store(f"sqlite:///{Path(folder) / 'loopml.db'}", Path(folder) / "artifacts") as store,
    ):
        with console.status("estimate: training the champion on January–March…"):
            version = add_frame(store, q1, name="flights", source="flights_q1.parquet", spec=spec)
            record, _ = register(store, spec, train(store, spec, version))
            package = load_package(store, record.ref)
        trained = time.perf_counter() - started
        with console.status("estimate: replaying April–December…"):
            for begin, end, part in windows_of(later, spec, every=every, rows=None):
                if part.height >= spec.monitoring.min_samples:
                    rows.append(_window(part, package, spec, begin, end))
        controls = _held_out(q1, package, spec)
    figures = _report(console, rows, every, trained, time.perf_counter() - started)
    figures["held_out"] = {
        name: _report(console, found, f"{CONTROL_ROWS}-row", trained, 0.0, title=name, goals=False)
        for name, found in controls.items()
    }
    return figures


def _held_out(
    q1: pl.DataFrame, package: Package, spec: Spec
) -> dict[str, list[tuple[WindowRecord, dict[str, float]]]]:
    """The control: the champion's test split (the last held-out weeks of January–March, never
    used for its calibration) in windows of :data:`CONTROL_ROWS`, in time order and shuffled —
    where CBPE's assumption (the validation split's calibration holds) is as true as it gets."""
    sizes = package.meta.lineage.sizes
    assert sizes is not None
    labelled = q1.filter(pl.col(spec.target).is_not_null()).sort(spec.time_column)
    test = labelled.tail(sizes["test"])
    found: dict[str, list[tuple[WindowRecord, dict[str, float]]]] = {}
    for name, frame in (
        ("test split, time order", test),
        ("test split, shuffled", test.sample(fraction=1.0, shuffle=True, seed=1)),
    ):
        found[name] = []
        for offset in range(0, frame.height - CONTROL_ROWS + 1, CONTROL_ROWS):
            part = frame.slice(offset, CONTROL_ROWS)
            begin = part[spec.time_column].min()
            found[name].append(_window(part, package, spec, begin, begin))  # type: ignore[arg-type]
    return found


def _report(
    console: Console,
    rows: list[tuple[WindowRecord, dict[str, float]]],
    every: str,
    trained: float,
    seconds: float,
    *,
    title: str = "flights April–December",
    goals: bool = True,
) -> dict[str, Any]:
    table = Table(
        title=f"Estimated vs labelled quality, {title} in {every} windows "
        f"({len(rows)} windows, 90 % intervals)"
    )
    for name in ("metric", "MAE", "max |error|", "coverage", "mean width", "flagged", "raw MAE"):
        table.add_column(name, justify="left" if name == "metric" else "right")
    table.add_column("raw coverage", justify="right")
    figures: dict[str, Any] = {"windows": len(rows), "every": every}
    for metric in METRICS:
        got = [
            (w.metrics[f"quality.{metric}"], w.metrics[f"expected.{metric}"],
             w.metrics[f"expected.{metric}_low"], w.metrics[f"expected.{metric}_high"],
             w.metrics.get(f"estimate_outside.{metric}"), raw)
            for w, raw in rows
            if w.metrics.get(f"quality.{metric}") is not None
            and w.metrics.get(f"expected.{metric}") is not None
        ]  # fmt: skip
        if not got:
            continue
        truth, point, low, high, outside, raw = (list(column) for column in zip(*got, strict=True))
        t, e, lo, hi = (np.asarray(v, dtype=float) for v in (truth, point, low, high))
        r = np.asarray([x[metric] for x in raw])
        r_lo = np.asarray([x[f"{metric}_low"] for x in raw])
        r_hi = np.asarray([x[f"{metric}_high"] for x in raw])
        found = {
            "mae": float(np.mean(np.abs(e - t))),
            "max_error": float(np.max(np.abs(e - t))),
            "coverage": float(np.mean((lo <= t) & (t <= hi))),
            "width": float(np.mean(hi - lo)),
            "flagged": int(sum(1 for o in outside if o == 1.0)),
            "raw_mae": float(np.mean(np.abs(r - t))),
            "raw_coverage": float(np.mean((r_lo <= t) & (t <= r_hi))),
        }
        figures[metric] = found
        table.add_row(
            metric, f"{found['mae']:.4f}", f"{found['max_error']:.4f}", f"{found['coverage']:.0%}",
            f"{found['width']:.4f}", f"{found['flagged']}/{len(t)}", f"{found['raw_mae']:.4f}",
            f"{found['raw_coverage']:.0%}",
        )  # fmt: skip
    console.print(table)
    auc = figures.get("roc_auc")
    if not goals:
        return figures
    console.print(
        f"estimate replay: champion trained in {trained:.0f} s, {seconds:.0f} s in all; "
        "'raw': the same estimate from uncalibrated scores (loopml before calibration)"
    )
    if auc:
        for name, got, ok in (
            (f"MAE ≤ {GOAL_MAE} ROC AUC", f"{auc['mae']:.4f}", auc["mae"] <= GOAL_MAE),
            (
                f"coverage ≥ {GOAL_COVERAGE:.0%} at a 90 % interval",
                f"{auc['coverage']:.0%}",
                auc["coverage"] >= GOAL_COVERAGE,
            ),
        ):
            console.print(f"  {'[green]met[/]' if ok else '[red]missed[/]'}  {name}: {got}")
    return figures
