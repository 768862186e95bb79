"""Each arm's evidence for a rollout step, from the prediction log and the feedback table.

:func:`gather` reads the current step's window of the log once and splits it into the canary's
(or shadow's) rows and stable's, over the same window for both, then joins the labels that have
arrived; :func:`_arm` condenses one arm's rows into the :class:`~loopml.rollout.decide.Arm` the
decision reads, with the spec's metric and its bootstrap standard error on the labelled rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from loopml.modeling import metrics
from loopml.predlog import read_log
from loopml.rollout.decide import Arm
from loopml.rollout.state import RolloutState
from loopml.spec import Spec
from loopml.store import DeploymentRecord, Store

_BOOTSTRAP = 50
_MAX_BOOTSTRAP_ROWS = 2_000


@dataclass(frozen=True)
class Evidence:
    """Both arms over the current step, and the step's age in seconds."""

    canary: Arm  # the rollout's model, answering as the canary or as the shadow
    stable: Arm
    elapsed_s: float


def gather(
    store: Store,
    spec: Spec,
    log_folder: str | Path,
    record: DeploymentRecord,
    rollout: RolloutState,
    now: datetime,
) -> Evidence:
    """The canary's and stable's evidence in the current step (the same window for both), and
    the step's age in seconds. At 100 % stable answers nothing, and only absolute limits judge.
    """
    step_start = rollout.step_started_at
    frame = read_log(log_folder, spec.name, since=step_start)
    route = "shadow" if rollout.mode == "shadow" else "canary"
    candidate = frame.filter(
        (pl.col("ts") >= step_start)
        & (pl.col("route") == route)
        & (pl.col("model_version") == rollout.model)
    )
    stable_rows = frame.filter(
        (pl.col("ts") >= step_start)
        & (pl.col("route") == "stable")
        & (pl.col("model_version") == record.stable)
        & pl.lit(record.canary_weight < 100)  # at 100 % only requests in flight: no sample
    )
    ids = pl.concat([candidate["request_id"], stable_rows["request_id"]]).to_list()
    labels = store.feedback.labels(ids) if ids else {}
    elapsed = (now - step_start).total_seconds()
    return Evidence(_arm(candidate, labels, spec), _arm(stable_rows, labels, spec), elapsed)


def _arm(rows: pl.DataFrame, labels: dict[str, Any], spec: Spec) -> Arm:
    errors = rows.get_column("error").is_not_null()
    answered = rows.filter(~errors)
    scores = answered.get_column("score").cast(pl.Float64).to_numpy()
    finite = np.isfinite(scores)
    ids = answered.get_column("request_id").to_list()
    pairs = [
        (labels[i], s) for i, s, ok in zip(ids, scores, finite, strict=True) if ok and i in labels
    ]
    quality, se = None, 0.0
    if len(pairs) >= spec.rollout.min_labels:
        y = metrics.encode_labels([p[0] for p in pairs], spec.task, spec.positive_class)
        score = np.array([p[1] for p in pairs], dtype=float)
        quality, se = _metric_with_error(y, score, spec)
    return Arm(
        requests=rows.height,
        errors=int(errors.sum()),
        nulls=int((~finite).sum()),
        latencies_ms=answered.get_column("latency_ms").to_numpy(),
        scores=scores[finite],
        labelled=len(pairs),
        quality=quality,
        quality_se=se,
    )


def _metric_with_error(y: np.ndarray, score: np.ndarray, spec: Spec) -> tuple[float, float]:
    """The spec's metric and its bootstrap standard error (at most 2,000 rows, 50 draws)."""
    value = metrics.one(spec.metric.name, spec.task, y, score)
    rng = np.random.default_rng(0)
    if len(y) > _MAX_BOOTSTRAP_ROWS:
        keep = rng.choice(len(y), _MAX_BOOTSTRAP_ROWS, replace=False)
        y, score = y[keep], score[keep]
    draws = []
    for _ in range(_BOOTSTRAP):
        pick = rng.integers(0, len(y), len(y))
        draws.append(metrics.one(spec.metric.name, spec.task, y[pick], score[pick]))
    finite = [d for d in draws if math.isfinite(d)]
    return float(value), float(np.std(finite)) if len(finite) > 1 else 0.0
