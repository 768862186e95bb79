"""Tuning one candidate on a run's data: the objective, the study's name, and parallel workers.

The objective fits the candidate with a trial's parameters and returns its validation score
(:mod:`loopml.modeling.tune` runs the study). A study is named after the project, the dataset
version, the candidate and a hash of what makes trials comparable, so an interrupted run resumes
it and an edited spec starts a new one. With ``model.parallel_trials > 1`` the missing trials are
shared among local worker processes, each loading the same study from the store's database.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import optuna

from loopml.compute import LocalExecutor
from loopml.data.versions import DatasetVersion
from loopml.errors import LoopmlError
from loopml.features.pipeline import FeaturePipeline
from loopml.modeling import metrics as M
from loopml.modeling.candidates import CANDIDATES
from loopml.modeling.fitting import fit_candidate
from loopml.modeling.prepare import TrainingData
from loopml.modeling.progress import OnProgress, TrialFinished
from loopml.modeling.tune import Objective, TuneResult, create_study, run_trials, tune
from loopml.spec import Spec
from loopml.store import Store


def _objective(
    name: str, data: TrainingData, spec: Spec, pipeline: FeaturePipeline, classes: list[Any]
) -> Objective:
    """Fit candidate ``name`` with a trial's parameters; return its validation score."""
    defaults = CANDIDATES[name].defaults
    metric = spec.metric.name

    def objective(params: dict[str, Any], trial: optuna.Trial) -> float:
        model = fit_candidate(name, {**defaults, **params}, data, spec, pipeline, classes, trial)
        _, y_valid, w_valid = data.part("validation")
        output = model.output(data.X["validation"])
        threshold = (
            M.choose_threshold(y_valid, output[:, 1], w_valid) if spec.task == "binary" else None
        )
        value = M.compute(spec.task, y_valid, output, threshold=threshold, weight=w_valid)[metric]
        if not np.isfinite(value):
            raise ValueError(f"{metric} is not finite on the validation data")
        return value

    return objective


@dataclass(frozen=True)
class _TuneJob:
    """One worker's share of a study: everything it needs, picklable (no store, no frame)."""

    storage: str
    study_name: str
    candidate: str
    spec: dict[str, Any]
    pipeline: dict[str, Any]
    data: TrainingData
    classes: list[Any]
    n_trials: int
    seed: int


def _tune_worker(job: _TuneJob) -> int:
    spec = Spec.model_validate(job.spec)
    pipeline = FeaturePipeline.from_dict(job.pipeline)
    space = CANDIDATES[job.candidate].space
    if space is None:
        raise LoopmlError(f"candidate '{job.candidate}' has no tuning space")
    study = create_study(job.storage, job.study_name, spec.metric.name, job.seed, job.n_trials)
    run_trials(
        study,
        space,
        _objective(job.candidate, job.data, spec, pipeline, job.classes),
        job.n_trials,
        spec.model.timeout,
    )
    return job.n_trials


def _search_key(spec: Spec, name: str) -> str:
    """A short hash of what makes trials comparable: task, target, features, metric, space.

    A study is resumed only when these are unchanged; editing the spec starts a new study.
    """
    import hashlib

    import orjson

    what = {
        "task": spec.task,
        "target": spec.target,
        "features": spec.features.model_dump(mode="json"),
        "metric": spec.metric.name,
        "weight": spec.weight_column,
        "split": [spec.model.validation_fraction, spec.model.test_fraction, spec.time_column],
        "defaults": CANDIDATES[name].defaults,
    }
    return hashlib.sha256(orjson.dumps(what, option=orjson.OPT_SORT_KEYS)).hexdigest()[:8]


def tune_candidate(
    store: Store,
    spec: Spec,
    name: str,
    data: TrainingData,
    pipeline: FeaturePipeline,
    classes: list[Any],
    version: DatasetVersion,
    budget: int,
    emit: OnProgress,
    warm: dict[str, Any],
) -> TuneResult:
    """Run (or resume) ``name``'s study to ``budget`` trials, starting from ``warm``'s parameters
    in a new study; report each finished trial to ``emit``."""
    space = CANDIDATES[name].space
    if space is None:
        raise LoopmlError(f"candidate '{name}' has no tuning space")
    study_name = f"{spec.name}.{version.ref}.{name}.{_search_key(spec, name)}"
    parallel = None
    if spec.model.parallel_trials > 1:
        lean = replace(data, frame=data.frame.clear())

        def run_shares(shares: list[int]) -> None:
            jobs = [
                _TuneJob(
                    store.db_url,
                    study_name,
                    name,
                    spec.model_dump(mode="json"),
                    pipeline.to_dict(),
                    lean,
                    classes,
                    share,
                    spec.model.seed + i + 1,
                )
                for i, share in enumerate(shares)
            ]
            LocalExecutor(len(jobs)).map(_tune_worker, jobs)

        parallel = (spec.model.parallel_trials, run_shares)
    return tune(
        space=space,
        objective=_objective(name, data, spec, pipeline, classes),
        metric=spec.metric.name,
        n_trials=budget,
        storage=store.db_url,
        study_name=study_name,
        seed=spec.model.seed,
        timeout=spec.model.timeout,
        warm_start={k: v for k, v in warm.items() if k in CANDIDATES[name].defaults},
        on_trial=lambda done, total, best: emit(TrialFinished(name, done, total, best)),
        parallel=parallel,
    )
