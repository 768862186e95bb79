"""Target and prior shift: has what the model predicts, or what turns out true, moved since the
held-out rows it was checked on?

Drift of the inputs says the world looks different; these say the answer is different — the
positive rate moving from 42 % to 54 % (prior shift), the model saying "positive" more often
than it did (output shift, visible without labels), a regression target's level moving.

Each shift is a number that is 0 while the window is within sampling noise of the reference, so
a default rule can alert on it whatever the window's size:

- binary, ``label_shift`` (labelled rows) and ``predicted_positive_shift`` (all answered rows):
  the change in log-odds of the rate, less ``Z`` standard errors of the window's estimate. Odds,
  not points: 2 % → 4 % is as large a change as 42 % → 58 %, both a doubling of the odds or
  near it, while 5 points mean little at 50 % and everything at 2 %. ``LOG_ODDS`` (0.25, about
  42 % → 48 % or 2 % → 2.6 %, beyond the noise) is the default rule's threshold.
- regression, ``label_shift``: the change of the labels' mean in units of the reference's
  standard deviation, less ``Z`` standard errors; the default threshold is ``MEAN_SHIFT`` (0.25).

The reference is the package's held-out rows (``meta.held_out``, kept at registration); a
package written before it kept them gets no shift metrics.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

Z = 2.576  # two-sided 99 %: a default rule should rarely fire on noise
LOG_ODDS = 0.25
MEAN_SHIFT = 0.25
_EPS = 0.5  # the Haldane–Anscombe correction: a rate of 0 or 1 has finite log-odds


def _log_odds_shift(rate: float, count: int, reference: float) -> float:
    """|logit(window rate) − logit(reference)| beyond ``Z`` standard errors of the window's."""
    positives = rate * count
    window = math.log((positives + _EPS) / (count - positives + _EPS))
    base = math.log(max(reference, 1e-6) / max(1 - reference, 1e-6))
    se = math.sqrt(1 / (positives + _EPS) + 1 / (count - positives + _EPS))
    return max(0.0, abs(window - base) - Z * se)


def shift_metrics(
    task: str,
    held_out: dict[str, float] | None,
    labelled: np.ndarray,
    scores: np.ndarray,
    threshold: float | None,
) -> dict[str, float | None]:
    """The window's shift metrics (see the module doc); ``labelled`` holds the encoded labels
    of its labelled rows, ``scores`` every answered row's score."""
    if not held_out:
        return {}
    found: dict[str, Any] = {}
    if task == "binary":
        if len(labelled) and "label_rate" in held_out:
            rate = float(np.mean(labelled))
            found["label_rate"] = rate
            found["label_shift"] = _log_odds_shift(rate, len(labelled), held_out["label_rate"])
        if len(scores) and threshold is not None and "predicted_positive" in held_out:
            rate = float(np.mean(scores >= threshold))
            found["predicted_positive_shift"] = _log_odds_shift(
                rate, len(scores), held_out["predicted_positive"]
            )
    elif task == "regression" and len(labelled) > 1 and held_out.get("label_std"):
        std = held_out["label_std"]
        mean = float(np.mean(labelled))
        found["label_mean"] = mean
        moved = abs(mean - held_out["label_mean"]) / std
        found["label_shift"] = max(0.0, moved - Z / math.sqrt(len(labelled)))
    return found
