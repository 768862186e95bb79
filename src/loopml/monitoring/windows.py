"""Window metrics: what the logged predictions of one model version did in one window.

A window is a span of time (``monitoring.window``, aligned to the epoch: 1 h windows start on
the hour) or a run of ``monitoring.window_rows`` predictions. The open window (a time window
whose end has not passed, the rows after the last full count window) is computed too, marked
``partial``, so a fault shows within one monitoring pass rather than when the hour closes; the
store replaces it (same key) on every pass until it closes. A closed window changes only when its
labels arrive later; :func:`compute_windows` therefore recomputes the windows that end after
``since`` and the store replaces them.

Per window (rows answered by stable or canary; shadow copies are not served traffic):

- **inputs**: missing fraction per feature and its increase over training, values outside the
  training range, categories training never saw, rows, throughput;
- **outputs**: error rate, non-null outputs, the share predicted positive (binary) or the
  score's quantiles, a score histogram;
- **target and prior shift**: the labels' rate or mean and the predicted-positive rate against
  the held-out rows', beyond sampling noise (:mod:`loopml.monitoring.shift`);
- **service**: latency p50/p95/p99;
- **drift**: every feature and the scores against the held-out rows' (validation and test
  splits, kept in the package at registration: :mod:`loopml.monitoring.drift`); the window is
  profiled first, so drift costs O(sketch) per feature, whatever the window's size;
- **quality** once labels arrived (the spec's metrics, label coverage, the primary metric per
  slice) and **estimated quality** before (a binary classifier's expected accuracy, ROC AUC and
  PR AUC from its calibrated scores, a regression's expected MAE and RMSE from its validation
  residuals, each with a 90 % interval), and whether the labels left that interval
  (:mod:`loopml.monitoring.quality_estimate`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from loopml.data.profiling import profile_frame
from loopml.data.schema import Schema
from loopml.modeling import metrics as M
from loopml.monitoring.drift import profile_drift, sketch_drift
from loopml.monitoring.inputs import input_metrics
from loopml.monitoring.quality_estimate import estimated_metrics
from loopml.monitoring.shift import shift_metrics
from loopml.predlog import decode_features, read_log
from loopml.registry import Package, load_package
from loopml.spec import Spec
from loopml.stats.categories import DEFAULT_TOP_K
from loopml.stats.quantiles import QuantileSketch
from loopml.store import Store, WindowRecord

SERVED = ("stable", "canary")
HISTOGRAM_BINS = 10
_DTYPES: dict[str, pl.DataType] = {
    "numeric": pl.Float64(),
    "categorical": pl.String(),
    "boolean": pl.Boolean(),
    "datetime": pl.String(),
}


@dataclass(frozen=True)
class Windowing:
    """How windows are cut: every ``seconds`` of time, or every ``rows`` predictions."""

    seconds: float | None = None
    rows: int | None = None

    @property
    def name(self) -> str:
        if self.rows is not None:
            return f"{self.rows}rows"
        assert self.seconds is not None
        return _duration_name(self.seconds)

    @classmethod
    def of(cls, spec: Spec) -> Windowing:
        if spec.monitoring.window_rows is not None:
            return cls(rows=spec.monitoring.window_rows)
        return cls(seconds=spec.monitoring.window.total_seconds())


def _duration_name(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def compute_windows(
    store: Store,
    spec: Spec,
    log_folder: str | Path,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    windowing: Windowing | None = None,
) -> list[WindowRecord]:
    """The windows of ``spec``'s deployment with rows logged in ``[since, until)``: the closed
    ones, and the open one of each model version as ``partial``."""
    cut = windowing or Windowing.of(spec)
    now = until or datetime.now(UTC)
    frame = read_log(log_folder, spec.name, since=since, until=now)
    frame = frame.filter(pl.col("route").is_in(SERVED))
    packages: dict[str, Package] = {}
    windows = []
    for version, rows in frame.group_by("model_version", maintain_order=True):
        name = str(version[0])
        if name not in packages:
            packages[name] = load_package(store, name)
        for start, end, part, partial in _cut(rows, cut, now):
            ids = part.get_column("request_id").to_list()
            labels = store.feedback.labels(ids) if ids else {}
            seen = min(end, now) if partial else end  # throughput over the time it was open
            record = window_metrics(part, packages[name], spec, labels, start, seen, cut)
            windows.append(replace(record, end=end, partial=partial))
    return sorted(windows, key=lambda w: (w.start, w.model_version))


def _cut(
    rows: pl.DataFrame, cut: Windowing, now: datetime
) -> Iterator[tuple[datetime, datetime, pl.DataFrame, bool]]:
    """``(start, end, rows, partial)`` per window: a count window ends at its last row, a
    time window when its span does (in the future for the open one)."""
    if cut.rows is not None:
        for offset in range(0, rows.height, cut.rows):  # the last one partial unless full
            part = rows.slice(offset, cut.rows)
            yield part["ts"][0], part["ts"][-1], part, part.height < cut.rows
        return
    assert cut.seconds is not None
    step = timedelta(seconds=cut.seconds)
    keyed = rows.with_columns(pl.col("ts").dt.truncate(f"{int(cut.seconds)}s").alias("_window"))
    for (start,), part in keyed.group_by("_window", maintain_order=True):
        yield start, start + step, part.drop("_window"), start + step > now


def window_metrics(
    rows: pl.DataFrame,
    package: Package,
    spec: Spec,
    labels: dict[str, Any],
    start: datetime,
    end: datetime,
    cut: Windowing,
) -> WindowRecord:
    """Every metric of one window of one model version (see the module doc); ``labels`` are
    the ground truth known so far, by request id."""
    schema = package.schema
    features = [name for name in schema.columns if name in package.profile.columns]
    decoded = decode_features(
        rows, {name: _DTYPES[schema.columns[name].kind] for name in features}, prefix="f."
    )
    inputs = decoded.select([f"f.{name}" for name in features]).rename(
        {f"f.{name}": name for name in features}
    )
    errors = rows.get_column("error").is_not_null()
    answered = decoded.filter(~errors)
    scores = answered.get_column("score").cast(pl.Float64).to_numpy()
    finite = np.isfinite(scores)
    answers = scores[finite]  # the answered rows' numeric outputs
    seconds = max((end - start).total_seconds(), 1e-9)
    metrics: dict[str, float | None] = {
        "rows": float(rows.height),
        "throughput_rps": rows.height / seconds,
        "error_rate": float(errors.sum()) / max(rows.height, 1),
        "non_null_outputs": float(finite.mean()) if len(finite) else None,
    }
    metrics.update(_input_metrics(inputs, schema, package, features))
    latency = answered.get_column("latency_ms").to_numpy()
    for q in (50, 95, 99):
        metrics[f"latency_p{q}_ms"] = float(np.percentile(latency, q)) if len(latency) else None
    comparable = [n for n in features if schema.columns[n].kind != "datetime"]  # sent as text
    drift = profile_drift(
        package.drift_reference,
        # the window is in hand: count every category exactly, so no reference category is
        # read as absent because it fell out of the window's top counts
        profile_frame(inputs, columns=comparable, top_k=max(DEFAULT_TOP_K, inputs.height)),
        comparable,
        spec.monitoring.drift,
    )
    reference = package.meta.score_profile
    if reference and len(answers):
        drift.append(
            sketch_drift(
                "prediction",
                QuantileSketch.from_dict(reference),
                QuantileSketch.from_values(answers),
                spec.monitoring.drift,
            )
        )
    for d in drift:
        metrics[f"drift.{d.feature}"] = 1.0 if d.drifted else 0.0
        metrics[f"drift_value.{d.feature}"] = _finite(d.value)
    metrics.update(_output_metrics(answers, package, spec))
    quality, slices, coverage = _quality(answered, scores, package, spec, labels)
    metrics["label_coverage"] = coverage
    metrics.update({f"quality.{k}": _finite(v) for k, v in quality.items()})
    metrics.update(
        shift_metrics(
            spec.task,
            package.meta.held_out,
            _labelled(answered, labels, spec),
            answers,
            package.model.decision_threshold if spec.task == "binary" else None,
        )
    )
    metrics.update(estimated_metrics(answered, scores, package, spec, labels, quality))
    details = {
        "drift": [d.as_dict() for d in drift],
        "histogram": _histogram(answers, spec),
        "slices": slices,
        "quantiles": {
            name: _quantiles(inputs.get_column(name))
            for name in features
            if schema.columns[name].kind == "numeric"
        },
    }
    return WindowRecord(
        spec.name,
        package.record.ref,
        cut.name,
        start,
        end,
        rows.height,
        {k: _finite(v) for k, v in metrics.items()},
        details,
    )


def _labelled(answered: pl.DataFrame, labels: dict[str, Any], spec: Spec) -> np.ndarray:
    """The encoded labels that have arrived for the window's answered rows."""
    found = [labels[i] for i in answered.get_column("request_id").to_list() if i in labels]
    if not found or spec.task == "multiclass":
        return np.array([])
    return np.asarray(M.encode_labels(found, spec.task, spec.positive_class), dtype=np.float64)


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _input_metrics(
    inputs: pl.DataFrame, schema: Schema, package: Package, features: list[str]
) -> dict[str, float | None]:
    """:func:`input_metrics`, and each feature's missing share's increase over training."""
    values = {k: _finite(v) for k, v in input_metrics(inputs, schema, features).items()}
    for name in features:
        current = values.get(f"missing_fraction.{name}")
        trained = package.profile[name].missing_fraction
        values[f"missing_increase.{name}"] = (
            None if current is None else max(0.0, current - trained)
        )
    return values


def _output_metrics(scores: np.ndarray, package: Package, spec: Spec) -> dict[str, float | None]:
    if not len(scores):
        return {}
    if spec.task == "binary":
        return {
            "predicted_positive": float(np.mean(scores >= package.model.decision_threshold)),
            "score_mean": float(np.mean(scores)),
        }
    low, mid, high = np.percentile(scores, [10, 50, 90])
    return {"score_p10": float(low), "score_p50": float(mid), "score_p90": float(high)}


def _histogram(scores: np.ndarray, spec: Spec) -> dict[str, list[float]]:
    if not len(scores):
        return {"edges": [], "counts": []}
    if spec.task == "regression":
        counts, edges = np.histogram(scores, bins=HISTOGRAM_BINS)
    else:
        counts, edges = np.histogram(scores, bins=HISTOGRAM_BINS, range=(0.0, 1.0))
    return {"edges": [float(e) for e in edges], "counts": [float(c) for c in counts]}


def _quantiles(values: pl.Series) -> list[float | None]:
    clean = values.drop_nulls().drop_nans()
    if clean.is_empty():
        return []
    return [_finite(clean.quantile(q)) for q in (0.05, 0.25, 0.5, 0.75, 0.95)]


def _quality(
    answered: pl.DataFrame,
    scores: np.ndarray,
    package: Package,
    spec: Spec,
    labels: dict[str, Any],
) -> tuple[dict[str, float], dict[str, dict[str, Any]], float]:
    """Metrics on the labelled rows, the primary metric per slice, and the label coverage."""
    ids = answered.get_column("request_id").to_list()
    keep = np.array([i in labels for i in ids], dtype=bool) & np.isfinite(scores)
    coverage = float(keep.mean()) if len(keep) else 0.0
    if keep.sum() < 2 or spec.task == "multiclass":  # the log's score is only the top class's
        return {}, {}, coverage
    y = M.encode_labels(
        [labels[i] for i, k in zip(ids, keep, strict=True) if k], spec.task, spec.positive_class
    )
    output = scores[keep]
    quality = M.compute(spec.task, y, output, threshold=package.model.threshold)
    quality["labelled"] = float(keep.sum())
    slices: dict[str, dict[str, Any]] = {}
    labelled = answered.filter(pl.Series(keep))
    for item in spec.slices:
        column = f"f.{item.column}"
        if column not in labelled.columns:
            continue
        values = labelled.get_column(column)
        if item.bins is not None:
            groups = values.cast(pl.Float64).cut(item.bins).cast(pl.String)
        else:
            groups = values.cast(pl.String)
        table: dict[str, Any] = {}
        for group in groups.unique().drop_nulls().to_list()[:50]:
            mask = (groups == group).fill_null(False).to_numpy()
            if mask.sum() >= 2:
                value = M.one(spec.metric.name, spec.task, y[mask], output[mask])
                table[str(group)] = {"rows": int(mask.sum()), spec.metric.name: _finite(value)}
        slices[item.name] = table
    return quality, slices, coverage
