"""A window's estimated quality, its interval, and whether the labels left it (concept shift).

Window metrics (the spec's ``quality.*`` names, estimated before labels):

- binary: ``expected.accuracy``, ``expected.roc_auc``, ``expected.pr_auc``, each with ``_low`` and
  ``_high`` — the central 90 % interval of the value the window's labels will show, if the
  package's calibration (fitted on its validation split) still holds: labels simulated from the
  calibrated probabilities, the spread widened by the dispersion the test split's windows showed
  in time order (rows of the same hours share causes no feature records);
- regression: ``expected.mae`` and ``expected.rmse`` with theirs, from the package's binned
  validation residuals;
- ``estimate_outside.<metric>``: 1 when the labelled value (``quality.<metric>``) lies outside the
  interval estimated for the *same* labelled rows, else 0 — computed once at least
  ``monitoring.min_samples`` rows are labelled. At a 90 % interval one window in ten is outside
  by chance; more, or several windows in a row, says the inputs now mean other labels and the
  estimate can no longer be trusted.

Packages registered before calibration was stored estimate from their raw scores, as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl

from loopml.monitoring.estimate import estimate_binary, estimate_regression
from loopml.registry import Package
from loopml.spec import Spec
from loopml.stats.calibration import Calibration
from loopml.stats.error_model import ErrorModel


def estimated_metrics(
    answered: pl.DataFrame,
    scores: np.ndarray,
    package: Package,
    spec: Spec,
    labels: dict[str, Any],
    quality: dict[str, float],
) -> dict[str, float | None]:
    """``expected.*`` of the answered rows' ``scores`` and ``estimate_outside.*`` against the
    labelled ``quality`` (see the module doc); empty for multiclass or no usable scores."""
    estimate = _estimator(package, spec)
    finite = np.isfinite(scores)
    if estimate is None or not finite.any():
        return {}
    found = estimate(scores[finite])
    metrics: dict[str, float | None] = {f"expected.{k}": v for k, v in found.items()}
    ids = answered.get_column("request_id").to_list()
    keep = np.array([i in labels for i in ids], dtype=bool) & finite
    if keep.sum() < spec.monitoring.min_samples:
        return metrics
    same_rows = found if keep.sum() == finite.sum() else estimate(scores[keep])
    for name in found:
        if name.endswith(("_low", "_high")) or quality.get(name) is None:
            continue
        low, high = same_rows[f"{name}_low"], same_rows[f"{name}_high"]
        if np.isfinite(low) and np.isfinite(high):
            metrics[f"estimate_outside.{name}"] = float(not low <= quality[name] <= high)
    return metrics


def _estimator(package: Package, spec: Spec) -> Callable[[np.ndarray], dict[str, float]] | None:
    meta = package.meta
    if spec.task == "binary":
        calibration = Calibration.from_dict(meta.calibration) if meta.calibration else None
        threshold = package.model.decision_threshold
        return lambda s: estimate_binary(np.clip(s, 0.0, 1.0), calibration, threshold)
    if spec.task == "regression" and meta.error_model:
        model = ErrorModel.from_dict(meta.error_model)
        return lambda s: estimate_regression(s, model)
    return None
