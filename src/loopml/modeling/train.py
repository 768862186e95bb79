"""Training: baselines and candidates on a dataset version, tuned, evaluated and tracked.

One ``train`` call is one parent run in the store (kind ``train``) with a child run per candidate
(kind ``candidate``). Every run records its parameters, metrics per split, the dataset version,
the code version (git commit, ``-dirty`` when changed), package versions, durations and the spec.
The best candidate is chosen on the validation split by the spec's primary metric; test metrics
are reported for every candidate, so the leaderboard shows how each would do on later data.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import optuna
import polars as pl

from loopml.compute import LocalExecutor
from loopml.data.versions import DatasetVersion, get_version, load_frame
from loopml.errors import DataError, LoopmlError
from loopml.features.pipeline import FeaturePipeline
from loopml.modeling import metrics as M
from loopml.modeling.candidates import CANDIDATES, build, fit
from loopml.modeling.model import TrainedModel
from loopml.modeling.splits import Split, split_frame
from loopml.modeling.tracking import code_version, environment
from loopml.modeling.tune import (
    LIGHTGBM_METRIC,
    TuneResult,
    create_study,
    lightgbm_pruning_callback,
    run_trials,
    tune,
)
from loopml.spec import Spec
from loopml.store import Store

Event = Callable[..., None]
SPLITS = ("train", "validation", "test")
#: LightGBM treats a categorical column natively only up to this many levels: beyond it, native
#: splits overfit (measured on flights' ~4,000 tail numbers: test ROC AUC 0.65 natively vs 0.70
#: with the frequency-ordered codes as a number).
MAX_NATIVE_LEVELS = 200


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
class TrainingData:
    """The encoded data of a training run, kept for evaluation and error analysis."""

    frame: pl.DataFrame
    y: np.ndarray
    weight: np.ndarray | None
    split: Split
    X: dict[str, np.ndarray]
    dropped_rows: int
    classes: list[Any] = field(default_factory=list)

    def part(self, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        rows = getattr(self.split, name)
        w = None if self.weight is None else self.weight[rows]
        return self.X[name], self.y[rows], w


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
            key=lambda row: -_score(row["cv"] if row["cv"] is not None else row["validation"], key),
        )


def encode_target(series: pl.Series, spec: Spec) -> tuple[np.ndarray, list[Any], np.ndarray]:
    """``(y, classes, keep)``: codes (or values), labels in code order, rows with a target."""
    keep = series.is_not_null().to_numpy()
    if series.dtype.is_float():
        keep &= ~series.is_nan().fill_null(True).to_numpy()
    values = series.filter(pl.Series(keep))
    if spec.task == "regression":
        if not values.dtype.is_numeric():
            raise DataError(
                f"target '{spec.target}' must be numeric for a regression task, got {values.dtype}"
            )
        return values.cast(pl.Float64).to_numpy(), [], keep
    if values.dtype.is_float():  # 1.0 and 1 are one class, named "1"
        integral = values == values.round()
        text = pl.select(
            pl.when(integral)
            .then(values.cast(pl.Int64, strict=False).cast(pl.String))
            .otherwise(values.cast(pl.String))
        ).to_series()
    else:
        text = values.cast(pl.String)
    labels = sorted(text.unique().to_list())
    if len(labels) < 2:
        raise DataError(
            f"target '{spec.target}' has one class ({labels[0] if labels else 'none'}) in the "
            "training data: a classifier needs at least two; check the data or the target column"
        )
    if spec.task == "binary":
        if len(labels) != 2:
            raise DataError(
                f"target '{spec.target}' has {len(labels)} classes, a binary task needs 2: "
                f"set task: multiclass (classes: {', '.join(labels[:10])})"
            )
        positive = (
            M.label_text(spec.positive_class) if spec.positive_class is not None else labels[1]
        )
        if positive not in labels:
            raise DataError(
                f"positive_class {spec.positive_class!r} is not a value of '{spec.target}' "
                f"(values: {', '.join(labels)})"
            )
        labels = [label for label in labels if label != positive] + [positive]
    codes = {label: i for i, label in enumerate(labels)}
    y = text.replace_strict(codes, return_dtype=pl.Int64).to_numpy()
    first = pl.DataFrame({"text": text, "value": values}).unique("text", keep="first")
    originals = dict(zip(first["text"].to_list(), first["value"].to_list(), strict=True))
    return y, [originals.get(label, label) for label in labels], keep


def prepare(frame: pl.DataFrame, spec: Spec) -> TrainingData:
    """Check, encode and split the data; fit nothing yet."""
    spec.check_columns(frame.columns, where="the training data")
    y_all, classes, keep = encode_target(frame[spec.target], spec)
    frame = frame.filter(pl.Series(keep))
    empty = [c for c in spec.features.all if _all_missing(frame[c])]
    if empty:
        raise DataError(
            f"feature(s) {', '.join(empty)} have no values at all in the training data: "
            "remove them from the spec's features or fix the data"
        )
    weight = None
    if spec.weight_column:
        w = frame[spec.weight_column].cast(pl.Float64, strict=False)
        if w.null_count() or (w < 0).any():
            raise DataError(
                f"weight column '{spec.weight_column}' must hold non-negative numbers without "
                f"missing values ({w.null_count()} missing, {(w < 0).sum()} negative)"
            )
        weight = w.to_numpy()
    split = split_frame(frame, spec, y_all)
    if spec.task != "regression" and len(np.unique(y_all[split.train])) < 2:
        raise DataError("the training split holds a single class: add data or shuffle the split")
    return TrainingData(frame, y_all, weight, split, {}, int((~keep).sum()), classes)


def _all_missing(series: pl.Series) -> bool:
    missing = series.is_null()
    if series.dtype.is_float():
        missing |= series.is_nan()
    return bool(missing.all())


def _evaluate(model: TrainedModel, data: TrainingData, spec: Spec) -> dict[str, dict[str, float]]:
    outputs = {name: model.output(data.X[name]) for name in SPLITS}
    if spec.task == "binary":
        _, y_valid, w_valid = data.part("validation")
        model.threshold = M.choose_threshold(y_valid, outputs["validation"][:, 1], w_valid)
    result = {}
    for name in SPLITS:
        _, y, w = data.part(name)
        result[name] = M.compute(spec.task, y, outputs[name], threshold=model.threshold, weight=w)
    return result


def _fit_candidate(
    name: str,
    params: dict[str, Any],
    data: TrainingData,
    spec: Spec,
    pipeline: FeaturePipeline,
    classes: list[Any],
    trial: optuna.Trial | None = None,
) -> TrainedModel:
    X, y, w = data.part("train")
    X_valid, y_valid, _ = data.part("validation")
    extra = dict(params)
    callbacks = []
    if name == "lightgbm" and spec.metric.name in LIGHTGBM_METRIC:
        extra["metric"] = LIGHTGBM_METRIC[spec.metric.name]
        if trial is not None:
            callbacks.append(lightgbm_pruning_callback(trial, spec.metric.name))
    estimator = build(
        name, spec.task, extra, pipeline.categorical_indices_, X.shape[1], spec.model.seed
    )
    native = pipeline.categorical_indices_
    if name == "lightgbm":  # codes of high-cardinality columns stay ordinal (by frequency)
        native = [
            index
            for index, levels in zip(native, pipeline.categorical_levels_, strict=True)
            if levels <= MAX_NATIVE_LEVELS
        ]
    estimator = fit(
        estimator,
        name,
        X,
        y,
        w,
        categorical=native,
        X_valid=X_valid,
        y_valid=y_valid,
        callbacks=callbacks,
    )
    return TrainedModel(spec.task, name, pipeline, estimator, classes, params=params)


def train(
    store: Store,
    spec: Spec,
    dataset: str | DatasetVersion,
    *,
    tune_trials: int | None = None,
    on_event: Event | None = None,
    warm_start: dict[str, dict[str, Any]] | None = None,
    baselines: bool = True,
) -> TrainResult:
    """Train baselines and candidates on ``dataset``; tune with ``tune_trials`` (spec default).
    ``baselines=False`` skips the baselines (a simulation that only needs the best model)."""
    emit = on_event or (lambda *args, **kwargs: None)
    version = get_version(store, dataset) if isinstance(dataset, str) else dataset
    frame = load_frame(store, version)
    emit("stage", text=f"preparing {version.ref}: {frame.height:,} rows")
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
        best = max(pool, key=lambda r: _score(_selection_score(r, metric), metric))
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


def _selection_score(result: CandidateResult, metric: str) -> float | None:
    """The cross-validated mean when folds were run, else the validation score."""
    return float(result.cv["mean"]) if result.cv else result.metrics["validation"].get(metric)


def _score(value: float | None, metric: str) -> float:
    if value is None or not np.isfinite(value):
        return -np.inf
    return value if M.greater_is_better(metric) else -value


def cross_validate(
    name: str,
    params: dict[str, Any],
    data: TrainingData,
    spec: Spec,
    pipeline: FeaturePipeline,
    classes: list[Any],
) -> dict[str, Any]:
    """The primary metric on k folds of the training and validation rows (test rows untouched).

    With a time column the folds are time-ordered (each fold is scored on rows after the ones it
    trained on); otherwise they are stratified by class (plain k-fold for regression). LightGBM
    stops early on the scored fold, which flatters it slightly; the test split stays honest.
    """
    from sklearn.model_selection import KFold, StratifiedKFold, TimeSeriesSplit

    k = spec.model.cv_folds or 5
    rows = np.concatenate([data.split.train, data.split.validation])
    if spec.time_column:  # in time order, so each fold scores rows after the ones it fits on
        times = data.frame[spec.time_column].to_numpy()[rows]
        rows = rows[np.argsort(times, kind="stable")]
    X = pipeline.transform(data.frame[rows])
    y = data.y[rows]
    w = None if data.weight is None else data.weight[rows]
    if spec.time_column:
        splitter: Any = TimeSeriesSplit(n_splits=k)
    elif spec.task == "regression":
        splitter = KFold(n_splits=k, shuffle=True, random_state=spec.model.seed)
    else:
        splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=spec.model.seed)
    scores = []
    for fit_rows, score_rows in splitter.split(X, y):
        fold = TrainingData(
            frame=data.frame.clear(),
            y=y,
            weight=w,
            split=Split(fit_rows, score_rows, score_rows, "fold"),
            X={"train": X[fit_rows], "validation": X[score_rows], "test": X[score_rows]},
            dropped_rows=0,
        )
        model = _fit_candidate(name, params, fold, spec, pipeline, classes)
        output = model.output(X[score_rows])
        w_fold = None if w is None else w[score_rows]
        threshold = (
            M.choose_threshold(y[score_rows], output[:, 1], w_fold)
            if spec.task == "binary"
            else None
        )
        metrics = M.compute(spec.task, y[score_rows], output, threshold=threshold, weight=w_fold)
        scores.append(metrics[spec.metric.name])
    return {
        "metric": spec.metric.name,
        "folds": scores,
        "mean": float(np.mean(scores)),
        "std": float(np.std(scores)),
        "method": type(splitter).__name__,
    }


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
    emit: Event,
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
            tuning = _tune(
                store, spec, name, data, pipeline, classes, version, budget, emit, warm or params
            )
            params.update(tuning.params)
        emit("stage", text=f"fitting {name}")
        model = _fit_candidate(name, params, data, spec, pipeline, classes)
        scores = _evaluate(model, data, spec)
        cv = None
        if spec.model.cv_folds:
            emit("stage", text=f"cross-validating {name} ({spec.model.cv_folds} folds)")
            cv = cross_validate(name, params, data, spec, pipeline, classes)
        duration = time.perf_counter() - started
        emit("candidate", name=name, metrics=scores, seconds=duration)
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


def _objective(
    name: str, data: TrainingData, spec: Spec, pipeline: FeaturePipeline, classes: list[Any]
) -> Callable[[dict[str, Any], optuna.Trial], float]:
    """Fit candidate ``name`` with a trial's parameters; return its validation score."""
    defaults = CANDIDATES[name].defaults
    metric = spec.metric.name

    def objective(params: dict[str, Any], trial: optuna.Trial) -> float:
        model = _fit_candidate(name, {**defaults, **params}, data, spec, pipeline, classes, trial)
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


def _tune(
    store: Store,
    spec: Spec,
    name: str,
    data: TrainingData,
    pipeline: FeaturePipeline,
    classes: list[Any],
    version: DatasetVersion,
    budget: int,
    emit: Event,
    warm: dict[str, Any],
) -> TuneResult:
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
        on_trial=lambda done, total, best: emit(
            "trial", name=name, done=done, total=total, best=best
        ),
        parallel=parallel,
    )
