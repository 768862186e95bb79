"""Training: baselines and candidates on a dataset version, tuned, evaluated and tracked.

One ``train`` call is one parent run in the store (kind ``train``) with a child run per candidate
(kind ``candidate``). Every run records its parameters, metrics per split, the dataset version,
the code version (git commit, ``-dirty`` when changed), package versions, durations and the spec.
The best candidate is chosen on the validation split by the spec's primary metric (see
:mod:`loopml.modeling.selection`); test metrics are reported for every candidate, so the
leaderboard shows how each would do on later data.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from loopml.data.versions import DatasetVersion, get_version, load_frame
from loopml.errors import LoopmlError
from loopml.features.pipeline import FeaturePipeline
from loopml.modeling.candidates import CANDIDATES
from loopml.modeling.fitting import evaluate, fit_candidate
from loopml.modeling.model import TrainedModel
from loopml.modeling.prepare import SPLITS, TrainingData, prepare
from loopml.modeling.progress import CandidateTrained, OnProgress, StageStarted, ignore
from loopml.modeling.search import tune_candidate
from loopml.modeling.selection import cross_validate, rank_value, selection_score
from loopml.modeling.tracking import code_version, environment
from loopml.modeling.tune import TuneResult
from loopml.spec import Spec
from loopml.store import Store


@dataclass
class CandidateResult:
    """One trained candidate: its parameters, metrics per split, and the model itself."""

    name: str
    baseline: bool
    params: dict[str, Any]
    metrics: dict[str, dict[str, float]]
    duration_s: float
    model: TrainedModel
    run_id: int | None = None
    tuning: TuneResult | None = None
    cv: dict[str, Any] | None = None


@dataclass
class TrainResult:
    """The outcome of :func:`train`: the leaderboard and the chosen candidate."""

    run_id: int
    dataset: DatasetVersion
    primary: str
    results: list[CandidateResult]
    best: CandidateResult
    data: TrainingData
    classes: list[Any] = field(default_factory=list)

    def leaderboard(self) -> list[dict[str, Any]]:
        """One row per candidate, best first by the selection score (baselines included)."""
        key = self.primary
        rows = [
            {
                "candidate": r.name,
                "baseline": r.baseline,
                "validation": r.metrics["validation"].get(key),
                "test": r.metrics["test"].get(key),
                "train": r.metrics["train"].get(key),
                "cv": r.cv["mean"] if r.cv else None,
                "seconds": round(r.duration_s, 2),
                "trials": r.tuning.n_trials if r.tuning else 0,
                "best": r is self.best,
                "run_id": r.run_id,
            }
            for r in self.results
        ]
        return sorted(
            rows,
            key=lambda row: (
                -rank_value(row["cv"] if row["cv"] is not None else row["validation"], key)
            ),
        )


def train(
    store: Store,
    spec: Spec,
    dataset: str | DatasetVersion,
    *,
    tune_trials: int | None = None,
    on_event: OnProgress | None = None,
    warm_start: dict[str, dict[str, Any]] | None = None,
    baselines: bool = True,
) -> TrainResult:
    """Train baselines and candidates on ``dataset``; tune with ``tune_trials`` (spec default).
    ``baselines=False`` skips the baselines (a simulation that only needs the best model)."""
    emit = on_event or ignore
    version = get_version(store, dataset) if isinstance(dataset, str) else dataset
    frame = load_frame(store, version)
    emit(StageStarted(f"preparing {version.ref}: {frame.height:,} rows"))
    data = prepare(frame, spec)
    classes = data.classes
    spec_json = spec.model_dump(mode="json")
    parent = store.runs.start(
        name=spec.name,
        kind="train",
        dataset_id=version.record.id,
        dataset_ref=version.ref,
        code_version=code_version(),
        environment=environment(),
        spec=spec_json,
        params={
            "split": data.split.method,
            "sizes": data.split.sizes(),
            "dropped_rows_without_target": data.dropped_rows,
        },
    )
    try:
        pipeline = FeaturePipeline(spec.features).fit(
            data.frame[data.split.train], data.y[data.split.train]
        )
        data.X = {
            name: pipeline.transform(data.frame[getattr(data.split, name)]) for name in SPLITS
        }
        trials = spec.model.tune if tune_trials is None else tune_trials
        results = [
            _run_candidate(
                store,
                spec,
                name,
                data,
                pipeline,
                classes,
                parent.id,
                version,
                trials,
                emit,
                (warm_start or {}).get(name),
            )
            for name in [*(["baseline"] if baselines else []), *spec.model.candidates]
        ]
        pool = [r for r in results if r.name != "baseline"] or results
        metric = spec.metric.name
        best = max(
            pool,
            key=lambda r: rank_value(
                selection_score(r.cv, r.metrics["validation"], metric), metric
            ),
        )
        result = TrainResult(parent.id, version, spec.metric.name, results, best, data, classes)
        store.runs.finish(
            parent.id,
            metrics={
                "leaderboard": result.leaderboard(),
                "best": best.name,
                "best_metrics": best.metrics,
            },
            params={"best_params": best.params},
        )
        return result
    except BaseException as exc:
        store.runs.finish(parent.id, status="failed", error=f"{type(exc).__name__}: {exc}")
        raise


def _run_candidate(
    store: Store,
    spec: Spec,
    name: str,
    data: TrainingData,
    pipeline: FeaturePipeline,
    classes: list[Any],
    parent_id: int,
    version: DatasetVersion,
    trials: int,
    emit: OnProgress,
    warm: dict[str, Any] | None,
) -> CandidateResult:
    candidate = CANDIDATES[name]
    params = dict(candidate.defaults)
    run = store.runs.start(
        name=f"{spec.name}/{name}",
        kind="candidate",
        parent_id=parent_id,
        dataset_id=version.record.id,
        dataset_ref=version.ref,
    )
    started = time.perf_counter()
    try:
        tuning = None
        budget = trials if name == "lightgbm" else trials // 4
        if candidate.space is not None and budget > 0:
            tuning = tune_candidate(
                store, spec, name, data, pipeline, classes, version, budget, emit, warm or params
            )
            params.update(tuning.params)
        emit(StageStarted(f"fitting {name}"))
        model = fit_candidate(name, params, data, spec, pipeline, classes)
        scores = evaluate(model, data, spec)
        cv = None
        if spec.model.cv_folds:
            emit(StageStarted(f"cross-validating {name} ({spec.model.cv_folds} folds)"))
            cv = cross_validate(name, params, data, spec, pipeline, classes)
        duration = time.perf_counter() - started
        emit(CandidateTrained(name, scores, duration))
        store.runs.finish(
            run.id,
            metrics={**scores, **({"cv": cv} if cv else {})},
            params={
                **params,
                "threshold": model.threshold,
                **(
                    {
                        "tuning": {
                            "trials": tuning.n_trials,
                            "pruned": tuning.n_pruned,
                            "study": tuning.study_name,
                            "best_validation": tuning.value,
                        }
                    }
                    if tuning
                    else {}
                ),
            },
        )
        return CandidateResult(
            name, candidate.baseline, params, scores, duration, model, run.id, tuning, cv
        )
    except BaseException as exc:
        store.runs.finish(run.id, status="failed", error=f"{type(exc).__name__}: {exc}")
        if isinstance(exc, LoopmlError | KeyboardInterrupt):
            raise
        raise LoopmlError(
            f"training candidate '{name}' failed: {type(exc).__name__}: {exc}"
        ) from exc
