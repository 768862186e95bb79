"""Which features matter now: features ranked by importance-weighted drift, and the window that
ranking is read from.

A feature's **weighted drift** is its share of the model's own importance times its drift, as
Deepchecks aggregates drift and as incidents rank their features
(:mod:`loopml.monitoring.incidents`): the drift is the deciding effect size (PSI by default),
or the PSI when a p-value decides, since a p-value measures evidence rather than how far a
feature moved. Without importance shares (a model without its own measure, an unreadable
package) every feature weighs alike, so the ranking falls back to the drift itself. Prediction
drift, which no single importance weighs, is ranked first whenever it is measured.

The ranking is read from the latest window holding at least ``min_samples`` rows (the spec's
``monitoring.min_samples``, below which no rule judges a window): a partial window of a dozen
rows has drift figures made of noise. Only when no window is that large is the latest used.

Pure: plain data in, plain data out (property-tested in tests/unit/reports).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from loopml.store import WindowRecord

PREDICTION = "prediction"
_P_VALUES = ("ks_pvalue", "chi2_pvalue")


@dataclass(frozen=True)
class RankedFeature:
    """One feature's drift on the ranking's window, and its weight in the ranking."""

    feature: str
    statistic: str  # the deciding statistic (``psi``, ``ks_pvalue``, ...)
    value: float | None  # its value on the window
    threshold: float | None
    drifted: bool
    psi: float | None
    importance: float | None  # the feature's share of the model's importance (None: prediction)
    effect: float | None  # the drift that is weighed: the effect size, or PSI for a p-value
    score: float | None  # importance times effect


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def judged_window(windows: Sequence[WindowRecord], min_samples: int) -> WindowRecord | None:
    """The latest of ``windows`` (oldest first) with at least ``min_samples`` rows, or the
    latest one when none is that large; ``None`` when there are none."""
    for window in reversed(windows):
        if window.rows >= min_samples:
            return window
    return windows[-1] if windows else None


def rank_drift(
    window: WindowRecord, shares: Mapping[str, float], features: Sequence[str] = ()
) -> list[RankedFeature]:
    """Every feature of ``window``'s drift figures, prediction first, then by weighted drift
    (highest first, ties by name); ``features`` (the spec's) are added, unranked, when the
    window measured no drift for them. ``shares`` missing or empty: equal weights."""
    weigh = bool(shares)
    ranked = []
    for found in window.details.get("drift", []):
        name = str(found.get("feature"))
        statistic = str(found.get("decided_by", "psi"))
        value, psi = _finite(found.get("value")), _finite(found.get("psi"))
        effect = psi if statistic in _P_VALUES else value
        importance = None if name == PREDICTION else (shares.get(name, 0.0) if weigh else 1.0)
        score = None
        if effect is not None:
            score = effect if importance is None else importance * effect
        ranked.append(
            RankedFeature(
                name,
                statistic,
                value,
                _finite(found.get("threshold")),
                bool(found.get("drifted")),
                psi,
                importance if weigh or name == PREDICTION else None,
                effect,
                score,
            )
        )
    seen = {r.feature for r in ranked}
    ranked += [
        RankedFeature(name, "", None, None, False, None, shares.get(name), None, None)
        for name in features
        if name not in seen
    ]
    return sorted(ranked, key=_order)


def _order(r: RankedFeature) -> tuple[bool, bool, float, str]:
    return (r.feature != PREDICTION, r.score is None, -(r.score or 0.0), r.feature)


def rank_keys(
    window: WindowRecord | None,
    keys: Sequence[str],
    shares: Mapping[str, float],
    order: Sequence[str] = (),
) -> list[str]:
    """``keys`` (``<family>.<feature>``) by importance times their value on ``window``, highest
    first — how incidents rank input rules — then by their feature's place in ``order`` (the
    drift ranking), then by name. Without ``window`` or values, ``order`` alone decides."""
    place = {name: i for i, name in enumerate(order)}
    weigh = bool(shares)

    def key(name: str) -> tuple[float, int, str]:
        feature = name.split(".", 1)[1] if "." in name else name
        raw = _finite(window.metrics.get(name)) if window is not None else None
        weight = (shares.get(feature, 0.0) if weigh else 1.0) * (raw or 0.0)
        return (-weight, place.get(feature, len(place)), name)

    return sorted(dict.fromkeys(keys), key=key)
