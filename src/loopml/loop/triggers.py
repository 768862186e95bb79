"""Evidence triggers: what the loop has learnt since the serving model was trained, as numbers.

Pure functions over the serving model's monitoring windows and its registration record
(:class:`Evidence`), so the daemon and the simulation weigh evidence alike:

- **new labels**: labelled production rows the serving model did not train on. A retrain is
  worth trying once they reach ``retrain.min_new_labels``, by default :data:`NEW_LABELS_SHARE`
  of its training rows (and never fewer than a retrain needs, :func:`labels_needed`). Why a
  quarter: the gate compares challenger and serving model on ``model.test_fraction`` of the
  fresh rows, so at a quarter of the training rows that comparison holds a quarter as many rows
  as the test split the model was registered on, and its standard error is twice the test's
  (SE ∝ 1/√n). Fewer new rows make a comparison too coarse to tell a real gain from noise
  more often than not; more make the loop wait long on data that changes. Sudden change is the
  drift and quality triggers' business, not this one's.
- **a quality drop**: the labelled quality of the latest window with ``monitoring.min_samples``
  labelled rows against the model's own quality at registration (its test split), relative,
  ``(reference − window) / |reference|`` for metrics where greater is better. It fires when the
  drop's one-sided 95 % lower bound exceeds ``retrain.quality_drop``: the noise is the window's
  (the width of its estimated-quality interval, rescaled to its labelled rows, or a closed form
  for the metric) and the test split's (the same per-row spread over its rows).
- **drift that matters**: a window's drift matters when the predictions drifted, or when its
  importance-weighted drift reaches the threshold: the sum over features of the feature's share
  of the model's importance times its drift in units of its threshold (the deciding statistic
  over its threshold, or the PSI over ``monitoring.drift.psi`` when a p-value decides), as
  Deepchecks aggregates drift. One feature holding all the importance drifts "enough" at its
  threshold; a feature with a tenth of it must drift ten times as far to count on its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # read only: no I/O here
    from loopml.store import WindowRecord

NEW_LABELS_SHARE = 0.25
Z = 1.645  # one-sided 95 %: the lower bound of a quality drop
_Z90 = 1.645  # half-width of a central 90 % interval, in standard errors
_P_VALUES = ("ks_pvalue", "chi2_pvalue")


@dataclass(frozen=True)
class Evidence:
    """What the loop knows of the serving ``model`` besides its alerts: the labelled rows it did
    not train on, its training rows, its primary ``metric`` at registration (``reference``, on
    ``reference_rows`` test rows), each input's share of its importance, and its recent
    monitoring ``windows`` (oldest first)."""

    model: str
    metric: str
    greater_is_better: bool
    new_labels: int
    training_rows: int
    reference: float | None = None
    reference_rows: int | None = None
    importance: dict[str, float] = field(default_factory=dict)
    windows: list[WindowRecord] = field(default_factory=list)
    drift_psi: float = 0.2


def labels_needed(min_new_labels: int | None, training_rows: int, min_samples: int) -> int:
    """The labelled rows the ``labels`` trigger waits for: ``min_new_labels`` when set, else
    :data:`NEW_LABELS_SHARE` of the training rows, and at least the ``2 × min_samples`` a retrain
    needs (the comparison window and as many rows again to learn from)."""
    if min_new_labels is not None:
        return min_new_labels
    return max(math.ceil(NEW_LABELS_SHARE * training_rows), 2 * min_samples)


def labelled(window: WindowRecord) -> int:
    """The labelled rows of ``window``: its ``quality.labelled``, else its label coverage."""
    count = window.metrics.get("quality.labelled")
    if count is None:
        count = (window.metrics.get("label_coverage") or 0.0) * window.rows
    return round(float(count))


# --- quality against the model's own at registration -----------------------------------------


@dataclass(frozen=True)
class Drop:
    """A window's quality against the reference: the relative drop and its lower bound."""

    window: WindowRecord
    value: float
    rows: int
    drop: float
    lower: float


def quality_drop(evidence: Evidence, min_labelled: int) -> Drop | None:
    """The latest closed window of the serving model with ``min_labelled`` labelled rows,
    against its quality at registration (see the module doc); ``None`` without either."""
    reference = evidence.reference
    if reference is None or not math.isfinite(reference) or abs(reference) < 1e-12:
        return None
    key = f"quality.{evidence.metric}"
    for window in reversed(evidence.windows):
        value, rows = window.metrics.get(key), labelled(window)
        if window.model_version != evidence.model or window.partial or value is None:
            continue
        if rows < min_labelled:
            continue
        se = window_se(window, evidence.metric, float(value), rows)
        if se is None:
            return None
        if evidence.reference_rows:
            se = math.sqrt(se**2 + se**2 * rows / evidence.reference_rows)
        worse = reference - value if evidence.greater_is_better else value - reference
        drop = worse / abs(reference)
        return Drop(window, float(value), rows, drop, drop - Z * se / abs(reference))
    return None


def window_se(window: WindowRecord, metric: str, value: float, rows: int) -> float | None:
    """The standard error of ``metric`` on ``window``'s ``rows`` labelled rows: from the width
    of its estimated-quality interval (computed on all its answered rows, so scaled by
    √(answered / labelled)), else a closed form for the metric."""
    m = window.metrics
    low, high = m.get(f"expected.{metric}_low"), m.get(f"expected.{metric}_high")
    if low is not None and high is not None and high > low:
        answered = max(window.rows * float(m.get("non_null_outputs") or 1.0), rows)
        return (float(high) - float(low)) / (2 * _Z90) * math.sqrt(answered / rows)
    return closed_form_se(metric, value, rows, m.get("label_rate"))


def closed_form_se(metric: str, value: float, n: int, rate: float | None = None) -> float | None:
    """A large-sample standard error of ``metric`` at ``value`` on ``n`` rows: Hanley–McNeil
    for ROC AUC (with the positive ``rate``, else balanced), a binomial one for rates, normal
    errors for RMSE, MAE and R²; log loss as its own size (per-row losses spread about as
    widely as their mean)."""
    if n < 2:
        return None
    positives = n * rate if rate is not None else n / 2
    if metric == "roc_auc":
        pos, neg = max(positives, 1.0), max(n - positives, 1.0)
        a = min(max(value, 1e-6), 1 - 1e-6)
        q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
        var = (a * (1 - a) + (pos - 1) * (q1 - a * a) + (neg - 1) * (q2 - a * a)) / (pos * neg)
        return math.sqrt(max(var, 0.0))
    if metric in ("accuracy", "balanced_accuracy", "precision", "recall", "f1", "pr_auc"):
        count = max(positives, 1.0) if metric in ("recall", "pr_auc") else n
        p = min(max(value, 0.0), 1.0)
        return math.sqrt(max(p * (1 - p), 1 / count) / count)
    if metric == "rmse":
        return abs(value) / math.sqrt(2 * n)
    if metric == "mae":
        return abs(value) * math.sqrt((math.pi / 2 - 1) / n)
    if metric == "r2":
        return max(1 - value, 0.0) * math.sqrt(2 / n)
    if metric == "log_loss":
        return abs(value) / math.sqrt(n)
    return None


# --- drift that matters -----------------------------------------------------------------------


@dataclass(frozen=True)
class Weighed:
    """A window's drift weighed: whether it matters, the importance-weighted drift (in units
    of the threshold), whether the predictions drifted, and the features that weigh most."""

    matters: bool
    weighted: float
    prediction: bool
    top: list[str]


def weigh_drift(
    window: WindowRecord, importance: dict[str, float], psi_threshold: float
) -> Weighed:
    """How much ``window``'s drift matters to the model (see the module doc)."""
    rows: list[dict[str, Any]] = window.details.get("drift", []) or []
    features = [d for d in rows if d.get("feature") != "prediction"]
    prediction = any(d.get("feature") == "prediction" and d.get("drifted") for d in rows)
    equal = 1.0 / max(len(features), 1)
    parts = []
    for d in features:
        share = importance.get(d["feature"], 0.0) if importance else equal
        parts.append((share * _in_thresholds(d, psi_threshold), d["feature"]))
    weighted = sum(p for p, _ in parts)
    top = [name for p, name in sorted(parts, reverse=True)[:3] if p > 0]
    return Weighed(prediction or weighted >= 1.0 - 1e-9, weighted, prediction, top)


def _in_thresholds(d: dict[str, Any], psi_threshold: float) -> float:
    """One feature's drift in units of its threshold (0 when it cannot be read)."""
    threshold: Any
    if d.get("decided_by") in _P_VALUES:
        value, threshold = d.get("psi"), psi_threshold
    else:
        value, threshold = d.get("value"), d.get("threshold")
    if value is None or not threshold or not math.isfinite(float(value)):
        return 0.0
    return max(float(value), 0.0) / float(threshold)
