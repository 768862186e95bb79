"""What the gate judges, measured: the new version, the champion and the baselines on the same rows.

:func:`judge` scores a training run's best candidate, the champion (in its own class order: a new
class may have come) and each baseline of the run on the gate's rows (the test split, or a
:class:`~loopml.registry.gate.Comparison`), pairs the best candidate with each of them
(:func:`loopml.stats.paired.paired_difference` at ``metric.confidence``), estimates the best
candidate's primary metric on its test split with its interval, and lets :func:`gate` decide. A
champion that cannot be loaded or scored there is never replaced automatically.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from loopml.errors import LoopmlError, NotFoundError
from loopml.modeling import metrics as M
from loopml.modeling.model import TrainedModel
from loopml.modeling.train import TrainResult
from loopml.registry.gate import Comparison, GateDecision, _labelled, encode_like, gate
from loopml.registry.package import load_package
from loopml.spec import Spec
from loopml.stats.paired import PairedDifference, metric_interval, paired_difference
from loopml.store import Store


@dataclass(frozen=True)
class Judgement:
    """The gate's decision, ``on`` which rows, the new version's metrics there, and the
    champion it was compared with (and its metrics there), for the package's record."""

    decision: GateDecision
    on: str
    metrics: dict[str, float]
    champion: str | None
    champion_metrics: dict[str, float] | None


def judge(
    store: Store,
    spec: Spec,
    result: TrainResult,
    *,
    comparison: Comparison | None = None,
    champion: str | None = None,
) -> Judgement:
    """Measure and decide (see the module doc); ``champion`` defaults to the spec's alias."""
    best = result.best
    if comparison is not None:
        frame, y = _labelled(comparison.frame, result.classes, spec, comparison.label)
        where = comparison.label
    else:
        test_rows = result.data.split.test
        frame, y, where = result.data.frame[test_rows], result.data.y[test_rows], "the test split"
    output = _output(best.model, frame)
    metrics = (
        best.metrics["test"]
        if comparison is None
        else M.compute(spec.task, y, output, threshold=best.model.threshold)
    )
    pair = _pairing(spec, y, output, best.model.threshold)
    baselines = {
        r.name: pair(_output(r.model, frame), r.model.threshold)
        for r in result.results
        if r.baseline and r is not best
    }
    ref, champion_metrics, versus, problem = _champion(store, spec, champion, frame, pair, where)
    primary = spec.metric.name
    test = None
    if len(result.data.split.test) >= 2:
        rows = result.data.split.test
        test = metric_interval(
            primary,
            spec.task,
            result.data.y[rows],
            output if comparison is None else _output(best.model, result.data.frame[rows]),
            threshold=best.model.threshold,
            confidence=spec.metric.confidence,
            seed=spec.model.seed,
        )
    decision = gate(
        spec,
        metrics,
        champion_metrics,
        on=where,
        relative=comparison is not None,
        versus=versus,
        baselines=baselines,
        validation=_validation(spec, result),
        test=test,
    )
    if problem is not None:  # never replace a champion that could not be compared
        decision = GateDecision(
            False,
            [
                *decision.checks,
                {
                    "check": "beats champion",
                    "value": None,
                    "threshold": None,
                    "passed": False,
                    "message": f"{problem}; promote by hand: loopml models alias REF champion",
                },
            ],
        )
    return Judgement(decision, where, metrics, ref, champion_metrics)


def _validation(spec: Spec, result: TrainResult) -> float | None:
    """The best candidate's primary metric on validation, unweighted like the test estimate
    it is held against (the run's own figure, weighted by the spec's weight column, is not)."""
    best = result.best
    if result.data.weight is None:
        return best.metrics["validation"].get(spec.metric.name)
    rows = result.data.split.validation
    output = _output(best.model, result.data.frame[rows])
    value = M.compute(spec.task, result.data.y[rows], output, threshold=best.model.threshold)
    return value.get(spec.metric.name)


def _output(model: TrainedModel, frame: pl.DataFrame) -> np.ndarray:
    return model.output(model.pipeline.transform(frame))


def _pairing(spec: Spec, y: np.ndarray, output: np.ndarray, threshold: float | None) -> Any:
    """The paired comparison of the best candidate's ``output`` with another model's, on the
    same rows (``keep``: the subset the other model can be scored on, in its own labels)."""

    def pair(
        other: np.ndarray,
        other_threshold: float | None,
        keep: np.ndarray | None = None,
        other_y: np.ndarray | None = None,
    ) -> PairedDifference:
        rows = slice(None) if keep is None else keep
        return paired_difference(
            spec.metric.name,
            spec.task,
            y[rows],
            output[rows],
            other,
            new_threshold=threshold,
            old_threshold=other_threshold,
            old_y=other_y,
            confidence=spec.metric.confidence,
            seed=spec.model.seed,
        )

    return pair


def _champion(
    store: Store,
    spec: Spec,
    champion: str | None,
    frame: pl.DataFrame,
    pair: Any,
    where: str,
) -> tuple[str | None, dict[str, float] | None, PairedDifference | None, str | None]:
    """The champion's ref, its metrics on the gate's rows and the paired comparison with it,
    or the problem that kept it from being scored there."""
    try:
        incumbent = load_package(store, champion or f"{spec.name}@champion")
    except NotFoundError:
        return None, None, None, None
    except LoopmlError as exc:  # a damaged champion package
        return None, None, None, f"could not load the champion: {exc}"
    ref = incumbent.record.ref
    model = incumbent.model
    try:  # in its own class order (a new class may have come): the rows it knows
        _labelled(frame, model.classes, spec, where)  # refuses too few rows, or one class
        y_inc, keep = encode_like(frame[spec.target], model.classes, spec)
        rows = frame.filter(pl.Series(keep))
        output = _output(model, rows)
        metrics = M.compute(spec.task, y_inc, output, threshold=model.threshold)
        return ref, metrics, pair(output, model.threshold, keep, y_inc), None
    except Exception as exc:  # e.g. the spec's features changed since it was trained
        return ref, None, None, f"could not score the champion {ref} on the same data: {exc}"
