"""Preparing a training run's data: check the columns, encode the target, split; fit nothing.

:func:`encode_target` turns the target column into codes (classes in a fixed order, the positive
class last for a binary task) or floats (regression), dropping rows without a target;
:func:`prepare` adds the checks a model needs (no all-missing feature, a valid weight column, two
classes in the training split) and the split. The feature pipeline is fitted later, on the
training rows only (see :mod:`loopml.modeling.train`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from loopml.errors import DataError
from loopml.modeling import metrics as M
from loopml.modeling.splits import Split, split_frame
from loopml.spec import Spec

#: the splits of a training run, in the order they are evaluated
SPLITS = ("train", "validation", "test")


@dataclass
class TrainingData:
    """The encoded data of a training run, kept for evaluation and error analysis."""

    frame: pl.DataFrame
    y: np.ndarray
    weight: np.ndarray | None
    split: Split
    X: dict[str, np.ndarray]
    dropped_rows: int
    classes: list[Any] = field(default_factory=list)

    def part(self, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        rows = getattr(self.split, name)
        w = None if self.weight is None else self.weight[rows]
        return self.X[name], self.y[rows], w


def encode_target(series: pl.Series, spec: Spec) -> tuple[np.ndarray, list[Any], np.ndarray]:
    """``(y, classes, keep)``: codes (or values), labels in code order, rows with a target."""
    keep = series.is_not_null().to_numpy()
    if series.dtype.is_float():
        keep &= ~series.is_nan().fill_null(True).to_numpy()
    values = series.filter(pl.Series(keep))
    if spec.task == "regression":
        if not values.dtype.is_numeric():
            raise DataError(
                f"target '{spec.target}' must be numeric for a regression task, got {values.dtype}"
            )
        return values.cast(pl.Float64).to_numpy(), [], keep
    if values.dtype.is_float():  # 1.0 and 1 are one class, named "1"
        integral = values == values.round()
        text = pl.select(
            pl.when(integral)
            .then(values.cast(pl.Int64, strict=False).cast(pl.String))
            .otherwise(values.cast(pl.String))
        ).to_series()
    else:
        text = values.cast(pl.String)
    labels = sorted(text.unique().to_list())
    if len(labels) < 2:
        raise DataError(
            f"target '{spec.target}' has one class ({labels[0] if labels else 'none'}) in the "
            "training data: a classifier needs at least two; check the data or the target column"
        )
    if spec.task == "binary":
        if len(labels) != 2:
            raise DataError(
                f"target '{spec.target}' has {len(labels)} classes, a binary task needs 2: "
                f"set task: multiclass (classes: {', '.join(labels[:10])})"
            )
        positive = (
            M.label_text(spec.positive_class) if spec.positive_class is not None else labels[1]
        )
        if positive not in labels:
            raise DataError(
                f"positive_class {spec.positive_class!r} is not a value of '{spec.target}' "
                f"(values: {', '.join(labels)})"
            )
        labels = [label for label in labels if label != positive] + [positive]
    codes = {label: i for i, label in enumerate(labels)}
    y = text.replace_strict(codes, return_dtype=pl.Int64).to_numpy()
    first = pl.DataFrame({"text": text, "value": values}).unique("text", keep="first")
    originals = dict(zip(first["text"].to_list(), first["value"].to_list(), strict=True))
    return y, [originals.get(label, label) for label in labels], keep


def prepare(frame: pl.DataFrame, spec: Spec) -> TrainingData:
    """Check, encode and split the data; fit nothing yet."""
    spec.check_columns(frame.columns, where="the training data")
    y_all, classes, keep = encode_target(frame[spec.target], spec)
    frame = frame.filter(pl.Series(keep))
    empty = [c for c in spec.features.all if _all_missing(frame[c])]
    if empty:
        raise DataError(
            f"feature(s) {', '.join(empty)} have no values at all in the training data: "
            "remove them from the spec's features or fix the data"
        )
    weight = None
    if spec.weight_column:
        w = frame[spec.weight_column].cast(pl.Float64, strict=False)
        if w.null_count() or (w < 0).any():
            raise DataError(
                f"weight column '{spec.weight_column}' must hold non-negative numbers without "
                f"missing values ({w.null_count()} missing, {(w < 0).sum()} negative)"
            )
        weight = w.to_numpy()
    split = split_frame(frame, spec, y_all)
    if spec.task != "regression" and len(np.unique(y_all[split.train])) < 2:
        raise DataError("the training split holds a single class: add data or shuffle the split")
    return TrainingData(frame, y_all, weight, split, {}, int((~keep).sum()), classes)


def _all_missing(series: pl.Series) -> bool:
    missing = series.is_null()
    if series.dtype.is_float():
        missing |= series.is_nan()
    return bool(missing.all())
