"""Error analysis of a trained model on held-out data: plain, JSON-safe data, computed without I/O.

:func:`analyze` returns an :class:`Analysis`: overall metrics; for classification the confusion
matrix at the model's threshold; for binary tasks the ROC and PR curves (at most 200 points
each), a calibration curve (10 quantile bins of the predicted probability) and the threshold
table; for regression the residuals (a sample of at most 2,000 points, and quantiles over every
row); feature importance; metrics per spec slice and the worst slices (see
:mod:`loopml.modeling.slices` for the bins, the scoring and the search).

Feature importance (gain and permutation, per input column) is described in
:mod:`loopml.modeling.importance`.

``coverage`` says what the model did not see: per categorical input, the share of rows whose
value was unseen (or too rare) in training and so shares the "other" code; per input, the share
of missing values. Everything in :class:`Analysis` is finite floats, ints, strings, lists, dicts
and ``None`` (an undefined metric is ``None``, never NaN), so ``Analysis.from_dict`` inverts
``to_dict`` through any JSON library.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import polars as pl
from sklearn import metrics as skm

from loopml.errors import DataError
from loopml.modeling import metrics as M
from loopml.modeling.groups import GroupScorer, group_metric
from loopml.modeling.importance import blocks, feature_importance
from loopml.modeling.model import TrainedModel
from loopml.modeling.slices import Bins, bin_column, spec_slices, worst_slices
from loopml.spec import Spec

FORMAT = "loopml.analysis/1"
CURVE_POINTS = 200
CALIBRATION_BINS = 10
RESIDUAL_POINTS = 2000


@dataclass(frozen=True)
class Analysis:
    """The error analysis of one model on one held-out frame (see the module docstring)."""

    task: str
    primary: str
    n_rows: int
    overall: dict[str, float | None]
    slice_metric: str
    min_support: int
    confusion: dict[str, Any] | None
    roc: dict[str, Any] | None
    pr: dict[str, Any] | None
    calibration: dict[str, Any] | None
    thresholds: list[dict[str, float]] | None
    residuals: dict[str, Any] | None
    importance: list[dict[str, Any]]
    slices: list[dict[str, Any]]
    worst_slices: list[dict[str, Any]]
    coverage: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (with ``"format"``); :meth:`from_dict` inverts it."""
        return {"format": FORMAT, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Analysis:
        if data.get("format") != FORMAT:
            raise DataError(
                f"expected an analysis document of format {FORMAT}, got {data.get('format')!r}; "
                "re-run the analysis with this loopml version"
            )
        missing = [f.name for f in fields(cls) if f.name not in data]
        if missing:
            raise DataError(f"the analysis document lacks {', '.join(missing)}; it is corrupt")
        return cls(**{f.name: data[f.name] for f in fields(cls)})


def _plain(value: Any) -> Any:
    """Numpy scalars to Python, NaN/inf to None, tuples to lists, recursively."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _thin(*arrays: np.ndarray, points: int = CURVE_POINTS) -> list[list[float]]:
    """At most ``points`` evenly spaced entries of each array, keeping the first and last."""
    n = len(arrays[0])
    keep = np.unique(np.linspace(0, n - 1, min(n, points)).round().astype(int))
    return [np.round(a[keep], 6).tolist() for a in arrays]


def _binary_curves(
    y: np.ndarray, score: np.ndarray, w: np.ndarray | None, threshold: float
) -> dict[str, Any]:
    if len(np.unique(y)) < 2:
        return {"roc": None, "pr": None, "calibration": _calibration(y, score, w)}
    fpr, tpr, _ = skm.roc_curve(y, score, sample_weight=w)
    precision, recall, _ = skm.precision_recall_curve(y, score, sample_weight=w)
    fpr_, tpr_ = _thin(fpr, tpr)
    recall_, precision_ = _thin(recall, precision)
    grid = np.unique(np.r_[M.THRESHOLD_GRID[::4], round(threshold, 4)])
    return {
        "roc": {"fpr": fpr_, "tpr": tpr_, "auc": skm.roc_auc_score(y, score, sample_weight=w)},
        "pr": {
            "recall": recall_,
            "precision": precision_,
            "ap": skm.average_precision_score(y, score, sample_weight=w),
        },
        "calibration": _calibration(y, score, w),
        "thresholds": M.threshold_table(y, score, grid, w),
    }


def _calibration(y: np.ndarray, score: np.ndarray, w: np.ndarray | None) -> dict[str, Any]:
    """Mean predicted probability vs observed positive rate in 10 quantile bins of the score."""
    edges = np.quantile(score, np.linspace(0, 1, CALIBRATION_BINS + 1))[1:-1]
    bins = np.searchsorted(edges, score, side="right")
    weight = np.ones(len(y)) if w is None else w
    total = np.bincount(bins, weights=weight, minlength=CALIBRATION_BINS)
    used = total > 0
    predicted = np.bincount(bins, weights=weight * score, minlength=CALIBRATION_BINS)[used]
    observed = np.bincount(bins, weights=weight * y, minlength=CALIBRATION_BINS)[used]
    return {
        "predicted": np.round(predicted / total[used], 6).tolist(),
        "observed": np.round(observed / total[used], 6).tolist(),
        "count": np.bincount(bins, minlength=CALIBRATION_BINS)[used].tolist(),
    }


def _confusion(model: TrainedModel, y: np.ndarray, decided: np.ndarray) -> dict[str, Any]:
    k = max(len(model.classes), int(max(y.max(), decided.max())) + 1)
    matrix = np.bincount(y.astype(int) * k + decided.astype(int), minlength=k * k)
    labels = [str(c) for c in model.classes] or [str(i) for i in range(k)]
    return {"labels": labels, "matrix": matrix.reshape(k, k).tolist()}


def _residuals(y: np.ndarray, pred: np.ndarray, rng: np.random.Generator) -> dict[str, Any]:
    residual = y - pred
    rows = np.sort(rng.choice(len(y), min(len(y), RESIDUAL_POINTS), replace=False))
    qs = {"p05": 0.05, "p25": 0.25, "p50": 0.5, "p75": 0.75, "p95": 0.95}
    values = np.quantile(residual, list(qs.values()))
    return {
        "predicted": np.round(pred[rows], 6).tolist(),
        "residual": np.round(residual[rows], 6).tolist(),
        "quantiles": {k: float(v) for k, v in zip(qs, values, strict=True)},
    }


# --- the analysis -----------------------------------------------------------------------------


def _coverage(model: TrainedModel, X: np.ndarray, bins: dict[str, Bins]) -> list[dict[str, Any]]:
    out = []
    n = max(X.shape[0], 1)
    for (column, start, _), encoder in zip(blocks(model), model.pipeline.encoders_, strict=True):
        missing = bins[column].codes == bins[column].n - 1 if column in bins else None
        item: dict[str, Any] = {
            "column": column,
            "kind": encoder.kind,
            "missing": None if missing is None else float(missing.mean()),
            "levels": None,
            "other": None,
        }
        if encoder.kind == "categorical":
            item["levels"] = len(getattr(encoder, "levels", []))
            item["other"] = float((X[:, start] == getattr(encoder, "other_code", -1)).sum() / n)
        out.append(item)
    return out


def analyze(
    model: TrainedModel,
    frame: pl.DataFrame,
    y: np.ndarray,
    spec: Spec,
    *,
    weight: np.ndarray | None = None,
    min_support: int | None = None,
    seed: int = 0,
) -> Analysis:
    """Analyse ``model`` on the held-out ``frame`` with encoded target ``y`` (see module doc).

    ``y`` is as :func:`loopml.modeling.prepare.encode_target` makes it; ``min_support`` is the
    fewest rows a worst slice may have (default: the larger of 30 and 1 % of the rows).
    """
    y = np.asarray(y)
    if len(y) != frame.height or (weight is not None and len(weight) != frame.height):
        raise DataError(
            f"the frame has {frame.height} rows but y has {len(y)}"
            + ("" if weight is None else f" and weight {len(weight)}")
            + "; pass the target and weights of exactly the frame's rows"
        )
    if frame.height == 0:
        raise DataError("cannot analyse a model on an empty frame: pass the held-out rows")
    rng = np.random.default_rng(seed)
    task, primary = model.task, spec.metric.name
    X = model.pipeline.transform(frame)
    output = model.output(X)
    decided = model.decide(output)
    overall = M.compute(task, y, output, threshold=model.threshold, weight=weight)

    curves: dict[str, Any] = {}
    if task == "binary":
        threshold = model.threshold if model.threshold is not None else 0.5
        curves = _binary_curves(y, output[:, 1], weight, threshold)

    slice_metric = group_metric(task, primary)
    scorer = GroupScorer(task, slice_metric, y, output, threshold=model.threshold, weight=weight)
    slice_overall = float(scorer.score(np.zeros(len(y), dtype=np.int64), 1).value[0])
    support = min_support if min_support is not None else max(30, math.ceil(0.01 * len(y)))
    kinds = {enc.column: enc.kind for enc in model.pipeline.encoders_}
    bins = {
        column: bin_column(frame, column, kind=kind)
        for column, kind in kinds.items()
        if kind != "text"
    }
    return Analysis(
        task=task,
        primary=primary,
        n_rows=frame.height,
        overall=_plain(overall),
        slice_metric=slice_metric,
        min_support=support,
        confusion=_confusion(model, y, decided) if task != "regression" else None,
        roc=_plain(curves.get("roc")),
        pr=_plain(curves.get("pr")),
        calibration=_plain(curves.get("calibration")),
        thresholds=_plain(curves.get("thresholds")),
        residuals=_residuals(y, output, rng) if task == "regression" else None,
        importance=_plain(feature_importance(model, X, y, weight, primary, rng)),
        slices=_plain(spec_slices(frame, scorer, spec.slices, slice_overall, kinds)),
        worst_slices=_plain(
            worst_slices(list(bins.values()), scorer, slice_overall, min_support=support)
        ),
        coverage=_plain(_coverage(model, X, bins)),
    )
