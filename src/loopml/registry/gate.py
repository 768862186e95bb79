"""The champion gate: may a new version replace the champion? Both are scored on the same data.

:func:`gate` checks a new version's metrics against the spec's targets (``metric.target``,
``targets.metrics``) and, when a champion exists, that it beats the champion by the spec's margin
(``metric.margin``; any gain when the margin is 0). Each check records its value, threshold and a
message, so a rejected version says why. The data is the new version's test split, or a
:class:`Comparison`: recent labelled rows that neither model trained on (the maintenance loop's),
scored by each model in its own class order (:func:`encode_like`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from loopml.errors import LoopmlError
from loopml.modeling import metrics as M
from loopml.modeling.model import TrainedModel
from loopml.spec import Spec


@dataclass(frozen=True)
class GateDecision:
    """Whether a new version may become champion, with every check's value and threshold."""

    blessed: bool
    checks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def reason(self) -> str:
        """The verdict in words, from the checks themselves: the failing checks' messages; else
        every target passed only against the champion (a target missed on a hard window that the
        champion misses too) with its message, then how the champion was beaten. The store's
        note, the CLI and the dashboard show this; the model card shows the same checks."""
        failed = [c["message"] for c in self.checks if not c["passed"]]
        if failed:
            return "; ".join(failed)
        targets = [c for c in self.checks if c["check"].endswith(" target")]
        held = [
            c["message"]
            for c in targets
            if c.get("threshold") is not None
            and not _meets(c["check"].removesuffix(" target"), c.get("value"), c["threshold"])
        ]
        parts = held or ["meets every target" if targets else "has no target to meet"]
        beat = next((c for c in self.checks if c["check"] == "beats champion"), None)
        parts.append(f"beats the champion: {beat['message']}" if beat else "no champion before it")
        return "; ".join(parts)


def _meets(name: str, value: float | None, target: float) -> bool:
    if value is None:
        return False
    return value >= target if M.greater_is_better(name) else value <= target


def _shown(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def gate(
    spec: Spec,
    metrics: dict[str, float],
    champion: dict[str, float] | None,
    *,
    on: str = "the test split",
    relative: bool = False,
) -> GateDecision:
    """Check a new version's metrics against the spec's targets and the champion's, both
    measured ``on`` the same data. With ``relative`` (a comparison window of recent production
    data, not a test split), a target the champion misses there too (a hard month, not a worse
    model) holds the new version to the champion's value instead."""
    checks: list[dict[str, Any]] = []
    primary = spec.metric.name

    def check(
        name: str, value: float | None, threshold: float | None, passed: bool, message: str
    ) -> None:
        checks.append(
            {
                "check": name,
                "value": value,
                "threshold": threshold,
                "passed": passed,
                "message": message,
            }
        )

    targets = dict(spec.targets.metrics)
    if spec.metric.target is not None:
        targets = {primary: spec.metric.target, **targets}
    for name, target in targets.items():
        got = metrics.get(name)
        ok = _meets(name, got, target)
        message = f"{name} {_shown(got)} {'meets' if ok else 'misses'} the target {target}"
        incumbent = (champion or {}).get(name)
        if (
            relative
            and not ok
            and got is not None
            and incumbent is not None
            and not _meets(name, incumbent, target)
        ):  # a bar the serving model misses on this data too: held to the serving model's
            ok = _meets(name, got, incumbent)
            message += (
                f" on {on}, as does the champion ({incumbent:.4f}): "
                f"{'no worse' if ok else 'worse'} than the champion there"
            )
        check(f"{name} target", got, target, ok, message)
    value = metrics.get(primary)
    if champion is not None and champion.get(primary) is not None and value is not None:
        champ = champion[primary]
        gain = value - champ if M.greater_is_better(primary) else champ - value
        margin = spec.metric.margin
        ok = gain >= margin if margin > 0 else gain > 0
        check(
            "beats champion",
            value,
            champ + (margin if M.greater_is_better(primary) else -margin),
            ok,
            f"{primary} {value:.4f} vs champion {champ:.4f} on {on} "
            f"(gain {gain:+.4f}, margin {margin})",
        )
    return GateDecision(all(c["passed"] for c in checks), checks)


def score_package(
    model: TrainedModel, frame: pl.DataFrame, y: np.ndarray, spec: Spec
) -> dict[str, float]:
    """A model's metrics on ``frame`` (same encoded target ``y``), with its own threshold."""
    output = model.output(model.pipeline.transform(frame))
    return M.compute(spec.task, y, output, threshold=model.threshold)


@dataclass(frozen=True)
class Comparison:
    """Where the gate compares a new version with the champion, when not on its own test split:
    labelled rows that neither trained on (the maintenance loop's most recent labelled window).
    ``label`` says what they are, for the record."""

    frame: pl.DataFrame
    label: str


def encode_like(series: pl.Series, classes: list[Any], spec: Spec) -> tuple[np.ndarray, np.ndarray]:
    """``(y, keep)``: ``series`` encoded in a trained model's class order (``classes``); rows
    without a target, or of a class the model never saw, are not kept."""
    if spec.task == "regression":
        values = series.cast(pl.Float64, strict=False)
        keep = values.is_not_null().to_numpy() & np.isfinite(values.fill_null(0.0).to_numpy())
        return values.filter(pl.Series(keep)).to_numpy(), keep
    codes = {M.label_text(c): i for i, c in enumerate(classes)}
    texts = [None if v is None else M.label_text(v) for v in series.to_list()]
    keep = np.array([t in codes for t in texts], dtype=bool)
    return np.array([codes[t] for t in texts if t in codes], dtype=int), keep


def _labelled(
    frame: pl.DataFrame, classes: list[Any], spec: Spec, label: str
) -> tuple[pl.DataFrame, np.ndarray]:
    """The rows of ``frame`` with a target a model of ``classes`` knows, and their codes."""
    y, keep = encode_like(frame[spec.target], classes, spec)
    kept = frame.filter(pl.Series(keep))
    if kept.height < 2 or (spec.task != "regression" and len(np.unique(y)) < 2):
        raise LoopmlError(
            f"{label}: {kept.height} usable labelled rows, of one class or none: the models "
            "cannot be compared there; wait for more labels"
        )
    return kept, y
