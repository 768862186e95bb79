"""A trained model: the fitted feature pipeline, the estimator, and how to read its outputs.

The same object scores a batch (a frame) and a single record (a dict) — the serving fast path
never builds a DataFrame. LightGBM models are kept as their ``Booster`` and predict on one thread,
so a single-record call does not wake a thread pool that would fight the server for the cores.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import polars as pl

from loopml.features.pipeline import FeaturePipeline
from loopml.spec import Task


@dataclass
class TrainedModel:
    """A fitted pipeline + estimator for one task.

    ``classes`` holds the target's labels in the order of the probability columns (for binary
    tasks the positive class is last); ``threshold`` is the binary decision threshold.
    """

    task: Task
    candidate: str
    pipeline: FeaturePipeline
    estimator: Any
    classes: list[Any] = field(default_factory=list)
    threshold: float | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.estimator, lgb.LGBMModel):
            self.estimator = self.estimator.booster_

    @property
    def is_booster(self) -> bool:
        return isinstance(self.estimator, lgb.Booster)

    def output(self, X: np.ndarray) -> np.ndarray:
        """Probabilities ``(n, n_classes)`` for classification, values ``(n,)`` for regression."""
        if self.is_booster:
            raw = np.asarray(self.estimator.predict(X, num_threads=1))
            if self.task == "binary":
                return np.column_stack([1.0 - raw, raw])
            return raw
        if self.task == "regression":
            return np.asarray(self.estimator.predict(X), dtype=float)
        return np.asarray(self.estimator.predict_proba(X), dtype=float)

    @property
    def decision_threshold(self) -> float:
        """The binary threshold chosen on validation data (0.5 when none was chosen)."""
        return self.threshold if self.threshold is not None else 0.5

    def decide(self, output: np.ndarray) -> np.ndarray:
        """Class codes (classification) or values (regression) from :meth:`output`."""
        if self.task == "regression":
            return output
        if self.task == "binary":
            return (output[:, 1] >= self.decision_threshold).astype(int)
        return output.argmax(axis=1)

    def scores(self, output: np.ndarray) -> np.ndarray:
        """One number per row from :meth:`output`, for comparing distributions: the positive
        class's probability (binary), the top probability (multiclass) or the value."""
        if self.task == "regression":
            return np.asarray(output, dtype=float)
        if self.task == "binary":
            return np.asarray(output[:, -1], dtype=float)
        return np.asarray(output.max(axis=1), dtype=float)

    def labels(self, codes: np.ndarray) -> list[Any]:
        """Original target labels for class codes."""
        return [self.classes[int(c)] for c in codes]

    def score_frame(self, frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """``(decisions, output)`` for every row of ``frame``."""
        output = self.output(self.pipeline.transform(frame))
        return self.decide(output), output

    def score_records(self, records: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        """``(decisions, output)`` for JSON-like records, without building a DataFrame."""
        if len(records) == 1:
            X = self.pipeline.transform_record(records[0])
        else:
            X = self.pipeline.transform_records(records)
        output = self.output(X)
        return self.decide(output), output
