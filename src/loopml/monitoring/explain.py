"""What an alert measured, in numbers a person can act on.

A drift rule fires on the window's 0/1 verdict (``drift.temp``), but the verdict says nothing of
how far the feature moved. :func:`describe` reads the window's own evidence back — the drift
test's statistic and threshold (``details["drift"]``), the window's quantiles, the input shares
— and the model package's reference (the held-out rows of the training period, its schema), and
states the statistic, its threshold and the effect in the feature's units::

    temp: PSI 8.05 > 0.2; training median 38, window median 78
    carrier: unseen 0.012 > 0.01; 1.2 % of values never seen in training

The same description is stored in the alert's evidence (``statistic``, ``summary``) and feeds
the CLI, the webhook text, the dashboard and incidents.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from loopml.errors import LoopmlError
from loopml.registry import Package, load_package
from loopml.spec import AlertRule
from loopml.stats.quantiles import QuantileSketch
from loopml.store import Store, WindowRecord

logger = logging.getLogger(__name__)

STATISTICS = {
    "psi": "PSI",
    "jensen_shannon": "Jensen-Shannon",
    "wasserstein": "Wasserstein",
    "ks_pvalue": "KS p-value",
    "chi2_pvalue": "chi² p-value",
}
"""How each drift statistic (``FeatureDrift.decided_by``) is named for people."""


class Packages:
    """Model packages by reference, each loaded once (``None`` when it cannot be: the
    description then goes without the training side)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._loaded: dict[str, Package | None] = {}

    def get(self, ref: str) -> Package | None:
        if ref not in self._loaded:
            try:
                self._loaded[ref] = load_package(self._store, ref)
            except LoopmlError as exc:
                logger.warning("alerts on %s go without its training figures: %s", ref, exc)
                self._loaded[ref] = None
        return self._loaded[ref]


def describe(
    window: WindowRecord, rule: AlertRule, key: str, value: float, package: Package | None
) -> dict[str, Any]:
    """The statistic behind ``key``'s crossing on ``window``: ``feature``, ``statistic`` (its
    name), ``value``, ``threshold``, ``comparator``, ``effect`` (in the feature's units, or
    ``None``), ``psi`` (drift only) and ``text`` — one line saying all of it."""
    feature = key.split(".", 1)[1] if "." in key and key.split(".", 1)[0] == rule.metric else None
    out: dict[str, Any] = {
        "feature": feature,
        "statistic": rule.metric,
        "value": value,
        "threshold": rule.threshold,
        "comparator": rule.comparator,
        "effect": None,
        "psi": None,
    }
    if rule.metric == "drift" and feature is not None:
        found = next((d for d in window.details.get("drift", []) if d["feature"] == feature), None)
        if found is not None:
            decided = str(found.get("decided_by", "psi"))
            out.update(
                statistic=STATISTICS.get(decided, decided),
                value=found.get("value"),
                threshold=found.get("threshold"),
                comparator="<" if decided.endswith("pvalue") else ">",
                psi=found.get("psi"),
            )
        out["effect"] = _drift_effect(window, feature, package)
    elif feature is not None:
        out["effect"] = _input_effect(window, rule.metric, feature, value, package)
    shown = f"{out['statistic']} {_num(out['value'])} {out['comparator']} {_num(out['threshold'])}"
    text = f"{feature}: {shown}" if feature else shown
    out["text"] = f"{text}; {out['effect']}" if out["effect"] else text
    return out


def _num(value: Any) -> str:
    if not isinstance(value, int | float) or not math.isfinite(value):
        return "n/a"
    return f"{value:.3g}"


def _units(value: float) -> str:
    """A value in the feature's units: whole numbers from 100 up (1013, not 1.01e+03)."""
    return f"{value:.0f}" if abs(value) >= 100 else _num(value)


def _percent(share: float) -> str:
    return f"{100 * share:.2g} %" if share < 0.1 else f"{100 * share:.0f} %"


def _median(sketch: QuantileSketch) -> float | None:
    median = float(sketch.quantiles([0.5])[0]) if sketch.n else math.nan
    return median if math.isfinite(median) else None


def _drift_effect(window: WindowRecord, feature: str, package: Package | None) -> str | None:
    """Training median against window median (numbers, predictions), else the unseen share."""
    if feature == "prediction":
        reference = package.meta.score_profile if package is not None else None
        trained = _median(QuantileSketch.from_dict(reference)) if reference else None
        what, now = "median", window.metrics.get("score_p50")
        if now is None:  # a classifier's window keeps the mean score
            what, now = "mean", window.metrics.get("score_mean")
        if trained is None or now is None:
            return None
        return f"training median score {_num(trained)}, window {what} {_num(now)}"
    quantiles = window.details.get("quantiles", {}).get(feature) or []
    column = package.drift_reference.columns.get(feature) if package is not None else None
    if quantiles and quantiles[2] is not None and column is not None and column.numeric:
        trained = _median(column.numeric.sketch)
        if trained is not None:
            return f"training median {_units(trained)}, window median {_units(quantiles[2])}"
    unseen = window.metrics.get(f"unseen.{feature}")
    if unseen:
        return f"{_percent(float(unseen))} of values never seen in training"
    return None


def _input_effect(
    window: WindowRecord, family: str, feature: str, value: float, package: Package | None
) -> str | None:
    """The input share in words, beside training's where the package knows it."""
    if family in ("missing_increase", "missing_fraction"):
        now = window.metrics.get(f"missing_fraction.{feature}")
        column = package.profile.columns.get(feature) if package is not None else None
        if now is None:
            return None
        trained = f", {_percent(column.missing_fraction)} in training" if column else ""
        return f"missing in {_percent(float(now))} of rows{trained}"
    if family == "unseen":
        return f"{_percent(value)} of values never seen in training"
    if family == "out_of_range":
        rule = package.schema.columns.get(feature) if package is not None else None
        span = ""
        if rule is not None and (rule.min is not None or rule.max is not None):
            span = f" [{_units(rule.min) if rule.min is not None else '-inf'}, "
            span += f"{_units(rule.max) if rule.max is not None else 'inf'}]"
        return f"{_percent(value)} of values outside the training range{span}"
    return None
