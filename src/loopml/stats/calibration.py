"""A classifier's scores mapped to probabilities that mean what they say: an isotonic map.

Confidence-based performance estimation (:mod:`loopml.monitoring.estimate`) treats a row's
score as the chance its label is positive. Boosted trees and forests rarely score so: a LightGBM
that says 0.7 may be right 60 % of the time. :class:`Calibration` is fitted once, at
registration, on the validation split's scores and labels (held-out rows, as CBPE requires), with
scikit-learn's :class:`~sklearn.isotonic.IsotonicRegression`: the monotone step function closest
to the labels in squared error. Monotone, so the model's ranking (and its ROC AUC) is unchanged
except that a step ties the scores it spans.

It is stored as the fitted thresholds (``scores`` → ``probabilities``, both non-decreasing, the
probabilities within [0, 1]) in plain JSON, and applied with :func:`numpy.interp` — what
scikit-learn's ``predict`` computes (linear between thresholds, clipped outside them) — so
monitoring needs no pickled estimator and loading a package runs no code.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from loopml.errors import DataError

#: the fewest labelled rows, and of each class, a calibration is fitted on
MIN_ROWS = 20
MIN_CLASS = 5


@dataclass(frozen=True)
class Calibration:
    """The isotonic map ``scores`` → ``probabilities`` (thresholds), fitted on ``rows`` rows."""

    scores: tuple[float, ...]
    probabilities: tuple[float, ...]
    rows: int
    #: per metric, how much wider than independent rows' the interval must be (>= 1; see
    #: :func:`loopml.stats.intervals.dispersion`), measured on the test split at registration
    dispersion: dict[str, float] = field(default_factory=dict)

    @classmethod
    def fit(cls, scores: npt.ArrayLike, labels: npt.ArrayLike) -> Calibration | None:
        """The isotonic map of ``labels`` (0/1) on ``scores``; ``None`` when there are fewer than
        :data:`MIN_ROWS` finite rows or :data:`MIN_CLASS` of either class (the map would say
        more than the data)."""
        from sklearn.isotonic import IsotonicRegression

        s = np.asarray(scores, dtype=np.float64).reshape(-1)
        y = np.asarray(labels, dtype=np.float64).reshape(-1)
        if s.shape != y.shape:
            raise DataError(
                f"scores and labels must have one value per row, got {s.size} scores and "
                f"{y.size} labels"
            )
        keep = np.isfinite(s) & np.isfinite(y)
        s, y = s[keep], y[keep]
        positives = int((y == 1).sum())
        if s.size < MIN_ROWS or min(positives, s.size - positives) < MIN_CLASS:
            return None
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(s, y)
        return cls(
            tuple(float(v) for v in iso.X_thresholds_),
            tuple(float(v) for v in iso.y_thresholds_),
            int(s.size),
        )

    def apply(self, scores: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """The calibrated probabilities of ``scores`` (NaN stays NaN)."""
        s = np.asarray(scores, dtype=np.float64)
        if len(self.scores) == 1:  # a single threshold: every score maps to it
            return np.where(np.isnan(s), np.nan, self.probabilities[0])
        return np.interp(s, self.scores, self.probabilities)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": "isotonic",
            "scores": list(self.scores),
            "probabilities": list(self.probabilities),
            "rows": self.rows,
            "dispersion": dict(self.dispersion),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        """Read :meth:`to_dict`'s output, checking that it is a monotone map into [0, 1]."""
        try:
            scores = np.asarray(data["scores"], dtype=np.float64)
            probabilities = np.asarray(data["probabilities"], dtype=np.float64)
            rows = int(data.get("rows", 0))
        except (KeyError, TypeError, ValueError) as exc:
            raise _bad(f"it is not a map of lists 'scores' and 'probabilities' ({exc})") from exc
        if data.get("method", "isotonic") != "isotonic":
            raise _bad(f"method {data.get('method')!r} is not 'isotonic'")
        if scores.ndim != 1 or scores.shape != probabilities.shape or not scores.size:
            raise _bad(
                f"{scores.size} scores and {probabilities.size} probabilities, expected the same "
                "non-zero number"
            )
        if not (np.isfinite(scores).all() and np.isfinite(probabilities).all()):
            raise _bad("it holds a non-finite value")
        if (np.diff(scores) < 0).any() or (np.diff(probabilities) < 0).any():
            raise _bad("its scores or probabilities decrease")
        if probabilities[0] < 0 or probabilities[-1] > 1:
            raise _bad("a probability lies outside [0, 1]")
        return cls(
            tuple(scores.tolist()), tuple(probabilities.tolist()), rows, read_dispersion(data, _bad)
        )


def _bad(problem: str) -> DataError:
    return DataError(
        f"the package's calibration map cannot be used: {problem}; expected non-decreasing "
        "'scores' and 'probabilities' within [0, 1], as registration writes them; re-register "
        "the model from its run"
    )


def read_dispersion(data: dict[str, Any], bad: Callable[[str], DataError]) -> dict[str, float]:
    """The optional ``dispersion`` of a stored map: metric name -> a finite factor >= 1."""
    raw = data.get("dispersion") or {}
    if not isinstance(raw, dict):
        raise bad(f"its dispersion is {type(raw).__name__}, not a map of metric to factor")
    found = {}
    for name, value in raw.items():
        if not isinstance(value, int | float) or not math.isfinite(value) or value < 1:
            raise bad(f"its dispersion of {name!r} is {value!r}, expected a number >= 1")
        found[str(name)] = float(value)
    return found
