"""The champion gate: may a new version replace the champion? All are scored on the same rows.

:func:`gate` checks a new version's metrics against the spec's targets (``metric.target``,
``targets.metrics``); that it beats the champion on the same rows by more than the spec's margin
**beyond noise** (the ``metric.confidence`` interval of the paired gain, see
:mod:`loopml.stats.paired`, wholly above ``metric.margin``), so a challenger never replaces the
serving model on a lucky draw of rows; and that it beats, the same way, each baseline trained on
the same data (a model no better than the linear baseline or the class prior has shown nothing).
It also says, as a warning that blesses or blocks nothing, when the model's validation value lies
outside its test estimate's interval: selection on validation then says little of later data.
Each check records its value, threshold and a message, so a rejected version says why. The rows
are the new version's test split, or a :class:`Comparison`: recent labelled rows that neither
model trained on (the maintenance loop's), scored by each model in its own class order
(:func:`encode_like`). :mod:`loopml.registry.evidence` measures what the gate judges.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from loopml.errors import LoopmlError
from loopml.modeling import metrics as M
from loopml.modeling.model import TrainedModel
from loopml.spec import Spec
from loopml.stats.paired import Estimate, PairedDifference

#: the check that warns when validation and test disagree (it never fails)
AGREEMENT = "validation agrees with test"


@dataclass(frozen=True)
class GateDecision:
    """Whether a new version may become champion, with every check's value and threshold."""

    blessed: bool
    checks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def reason(self) -> str:
        """The verdict in words, from the checks themselves: the failing checks' messages; else
        every target passed only against the champion (a target missed on a hard window that the
        champion misses too) with its message, then how the champion and the baselines were
        beaten; then any warning. The store's note, the CLI and the dashboard show this; the
        model card shows the same checks."""
        warnings = [f"warning: {c['message']}" for c in self.checks if c.get("warning")]
        failed = [c["message"] for c in self.checks if not c["passed"]]
        if failed:
            return "; ".join([*failed, *warnings])
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
        parts += [c["message"] for c in self.checks if c["check"].startswith("beats the ")]
        return "; ".join([*parts, *warnings])


def _meets(name: str, value: float | None, target: float) -> bool:
    if value is None:
        return False
    return value >= target if M.greater_is_better(name) else value <= target


def _shown(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def baseline_label(name: str) -> str:
    """How the gate names a baseline: the trivial one (class prior or mean) by what it is."""
    return "the constant baseline" if name == "baseline" else f"the {name} baseline"


def gate(
    spec: Spec,
    metrics: dict[str, float],
    champion: dict[str, float] | None,
    *,
    on: str = "the test split",
    relative: bool = False,
    versus: PairedDifference | None = None,
    baselines: dict[str, PairedDifference] | None = None,
    validation: float | None = None,
    test: Estimate | None = None,
) -> GateDecision:
    """Check a new version's metrics against the spec's targets, the champion and the
    baselines, all measured ``on`` the same rows: ``versus`` is the paired comparison of the new
    version with the champion (whose ``champion`` metrics are the targets' fallback), and
    ``baselines`` its paired comparison with each baseline, by name. With ``relative`` (a
    comparison window of recent production data, not a test split), a target the champion
    misses there too (a hard month, not a worse model) holds the new version to the champion's
    value instead. ``validation`` (the primary metric there) and ``test`` (its estimate on the
    test split) make the warning when they disagree beyond the test estimate's noise."""
    checks: list[dict[str, Any]] = []
    primary = spec.metric.name

    def check(
        name: str,
        value: float | None,
        threshold: float | None,
        passed: bool,
        message: str,
        **extra: Any,
    ) -> None:
        checks.append(
            {
                "check": name,
                "value": value,
                "threshold": threshold,
                "passed": passed,
                "message": message,
                **extra,
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
    margin = spec.metric.margin
    if champion is not None and champion.get(primary) is not None:
        champ = champion[primary]
        bar = champ + (margin if M.greater_is_better(primary) else -margin)
        if versus is None:
            check(
                "beats champion",
                metrics.get(primary),
                bar,
                False,
                f"no paired comparison with the champion on {on}: the gate needs both models' "
                "outputs on the same rows to judge the gain beyond noise",
            )
        else:
            ok = versus.beats(margin)
            check(
                "beats champion",
                versus.new,
                bar,
                ok,
                f"{primary} {versus.new:.4f} vs champion {versus.old:.4f} on {on} "
                f"({versus.describe()}, margin {margin})"
                + ("" if ok else _beyond_noise(versus, margin, "the champion keeps serving")),
                gain=versus.to_dict(),
            )
    for name, diff in (baselines or {}).items():
        label = baseline_label(name)
        ok = diff.beats(0.0)
        check(
            f"beats {label}",
            diff.new,
            diff.old,
            ok,
            (f"beats {label}" if ok else f"does not beat {label}")
            + f": {primary} {diff.new:.4f} vs {diff.old:.4f} on {on} ({diff.describe()})"
            + ("" if ok else _beyond_noise(diff, 0.0, _instead(name))),
            gain=diff.to_dict(),
        )
    if validation is not None and test is not None and math.isfinite(test.low):
        agrees = test.covers(validation)
        check(
            AGREEMENT,
            validation,
            None,
            True,
            f"{primary} {validation:.4f} on validation "
            + ("within" if agrees else "outside")
            + f" the test split's {test.confidence:.0%} interval [{test.low:.4f}, "
            f"{test.high:.4f}] ({test.value:.4f} on {test.rows:,} rows)"
            + (
                ""
                if agrees
                else ": the two disagree beyond the test estimate's noise, so choosing on "
                "validation says little of later data; compare the splits' periods (drift), "
                "or use model.cv_folds"
            ),
            warning=not agrees,
        )
    return GateDecision(all(c["passed"] for c in checks), checks)


def _instead(name: str) -> str:
    """What to do when the best candidate does not beat baseline ``name``."""
    if name == "baseline":
        return (
            "nothing was learnt beyond the class prior (or the mean): check the features "
            "(loopml data report) or wait for more rows"
        )
    return (
        f"the simpler model does as well here: train it alone (model.candidates: [{name}]), "
        "add features that help, or promote this version by hand (loopml models alias REF "
        "champion)"
    )


def _beyond_noise(diff: PairedDifference, margin: float, then: str) -> str:
    """Why a gain did not count: expected, got, and what follows."""
    if not math.isfinite(diff.low):
        return (
            f": {diff.rows:,} rows are too few to measure the gain's noise (or hold one class in "
            f"most resamples); {then}"
        )
    return (
        f": not above {margin} beyond noise (expected the whole interval above it; more "
        f"labelled rows narrow it); {then}"
    )


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
