"""Train / validation / test splits: by time when the spec has a time column, else stratified.

A time split trains on the earliest rows, validates on the next and tests on the latest, so the
scores say how the model does on the future it will meet. Without a time column the split is
random, stratified by class for classification. Either way each part must be big enough to mean
something; otherwise the error says how many rows are needed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from sklearn.model_selection import train_test_split

from loopml.errors import DataError
from loopml.spec import Spec

MIN_ROWS = {"train": 50, "validation": 20, "test": 20}


@dataclass(frozen=True)
class Split:
    """Row positions of each part, and how they were chosen."""

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray
    method: str

    def sizes(self) -> dict[str, int]:
        return {
            "train": len(self.train),
            "validation": len(self.validation),
            "test": len(self.test),
        }


def split_frame(frame: pl.DataFrame, spec: Spec, y: np.ndarray) -> Split:
    """Split ``frame`` (with encoded target ``y``) by the spec's policy."""
    n = frame.height
    v, t = spec.model.validation_fraction, spec.model.test_fraction
    needed = max(
        int(np.ceil(MIN_ROWS[p] / f))
        for p, f in (("train", 1 - v - t), ("validation", v), ("test", t))
    )
    if n < needed:
        raise DataError(
            f"the training data has {n} rows with a target; the split needs at least {needed} "
            f"(train ≥ {MIN_ROWS['train']}, validation ≥ {MIN_ROWS['validation']}, "
            f"test ≥ {MIN_ROWS['test']} rows at fractions {1 - v - t:.2f}/{v:.2f}/{t:.2f}); "
            "add data or change model.validation_fraction / model.test_fraction"
        )
    if spec.time_column:
        order = np.argsort(frame[spec.time_column].to_numpy(), kind="stable")
        n_test, n_valid = round(n * t), round(n * v)
        n_train = n - n_valid - n_test
        return Split(
            order[:n_train],
            order[n_train : n_train + n_valid],
            order[n_train + n_valid :],
            f"time ({spec.time_column}): earliest to train, latest to test",
        )
    positions = np.arange(n)
    stratify = y if spec.task != "regression" else None
    try:
        rest, test = train_test_split(
            positions, test_size=t, random_state=spec.model.seed, stratify=stratify
        )
        train, valid = train_test_split(
            rest,
            test_size=v / (1 - t),
            random_state=spec.model.seed,
            stratify=None if stratify is None else y[rest],
        )
    except ValueError as exc:
        raise DataError(f"cannot split the data stratified by class: {exc}") from exc
    return Split(
        np.sort(train),
        np.sort(valid),
        np.sort(test),
        "random" + (", stratified by class" if stratify is not None else ""),
    )
