"""Hyperparameter tuning with Optuna: TPE sampling, median pruning, studies kept in the store.

A study lives in the project's own database (Optuna's tables beside loopml's), named after the
project, dataset version and candidate, so an interrupted ``loopml train --tune N`` resumes: it
runs only the trials still missing. LightGBM trials report their validation score as boosting
goes on, and the median pruner stops the unpromising ones early.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import optuna

from loopml.modeling.metrics import greater_is_better

#: primary metric -> LightGBM's name for it on the validation set (for pruning and early stopping)
LIGHTGBM_METRIC = {
    "roc_auc": "auc",
    "pr_auc": "average_precision",
    "rmse": "rmse",
    "mae": "l1",
}

Objective = Callable[[dict[str, Any], optuna.Trial], float]


@dataclass(frozen=True)
class TuneResult:
    """The best parameters found, their validation score, and how many trials ran in total."""

    params: dict[str, Any]
    value: float
    n_trials: int
    n_pruned: int
    study_name: str


def _finished(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return [t for t in study.get_trials(deepcopy=False) if t.state in states]


def _storage(url: str) -> str | optuna.storages.RDBStorage:
    """Optuna's storage on the store's database; SQLite waits for the write lock like loopml."""
    if url.startswith("sqlite"):
        return optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 30}})
    return url


def create_study(
    storage: str, study_name: str, metric: str, seed: int, n_trials: int
) -> optuna.Study:
    """Create or load the study (TPE sampler, median pruner) kept in the store's database."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return optuna.create_study(
        study_name=study_name,
        storage=_storage(storage),
        load_if_exists=True,
        direction="maximize" if greater_is_better(metric) else "minimize",
        sampler=optuna.samplers.TPESampler(
            seed=seed, n_startup_trials=min(5, max(1, n_trials // 3))
        ),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=50),
    )


def run_trials(
    study: optuna.Study,
    space: Callable[[optuna.Trial], dict[str, Any]],
    objective: Objective,
    n_trials: int,
    timeout: timedelta | None = None,
    callbacks: list[Any] | None = None,
) -> None:
    """Run exactly ``n_trials`` more trials of ``study`` (one worker's share)."""
    study.optimize(
        lambda trial: objective(space(trial), trial),
        n_trials=n_trials,
        timeout=timeout.total_seconds() if timeout else None,
        callbacks=callbacks,
        catch=(ValueError, ArithmeticError),
    )


def tune(
    *,
    space: Callable[[optuna.Trial], dict[str, Any]],
    objective: Objective,
    metric: str,
    n_trials: int,
    storage: str,
    study_name: str,
    seed: int,
    timeout: timedelta | None = None,
    warm_start: dict[str, Any] | None = None,
    on_trial: Callable[[int, int, float | None], None] | None = None,
    parallel: tuple[int, Callable[[list[int]], object]] | None = None,
) -> TuneResult:
    """Run (or resume) a study until it has ``n_trials`` finished trials or ``timeout`` passes.

    ``objective(params, trial)`` fits a model and returns its validation score; it may call
    ``trial.report`` and raise :class:`optuna.TrialPruned`. ``on_trial(done, total, best)`` is
    called after each trial, for progress bars. ``parallel=(workers, run_shares)`` hands the
    missing trials to ``run_shares([n_1, …])``, which runs each share in its own worker against
    the same study (see :mod:`loopml.compute`); progress is then reported when all are done.
    """
    study = create_study(storage, study_name, metric, seed, n_trials)
    done = len(_finished(study))
    if warm_start and done == 0:
        study.enqueue_trial(warm_start, skip_if_exists=True)

    def report(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if on_trial is not None:
            on_trial(len(_finished(study)), n_trials, _best_value(study))

    remaining = max(0, n_trials - done)
    if on_trial is not None:
        on_trial(done, n_trials, _best_value(study))
    if remaining and parallel is not None and parallel[0] > 1:
        # Enqueued (warm-start) trials run here first: two workers popping the same waiting
        # trial from a SQLite study race, and the loser fails with "Cannot tell a COMPLETE trial".
        waiting = len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,)))
        if waiting:
            run_trials(study, space, objective, min(waiting, remaining), timeout, [report])
            remaining = max(0, n_trials - len(_finished(study)))
        workers, run_shares = parallel
        shares = [remaining // workers + (i < remaining % workers) for i in range(workers)]
        if remaining:
            run_shares([share for share in shares if share])
            report(study, study.trials[-1])
    elif remaining:
        run_trials(study, space, objective, remaining, timeout, [report])
    finished = _finished(study)
    best_value = _best_value(study)
    if best_value is None:
        raise optuna.exceptions.OptunaError(f"study {study_name!r} has no completed trial")
    return TuneResult(
        params=dict(study.best_trial.params),
        value=float(best_value),
        n_trials=len(finished),
        n_pruned=sum(t.state == optuna.trial.TrialState.PRUNED for t in finished),
        study_name=study_name,
    )


def _best_value(study: optuna.Study) -> float | None:
    try:
        return float(study.best_value)
    except ValueError:  # no completed trial yet
        return None


def lightgbm_pruning_callback(trial: optuna.Trial, metric: str, every: int = 10) -> Any:
    """A LightGBM callback reporting the validation score to ``trial`` and pruning on request."""
    name = LIGHTGBM_METRIC[metric]

    def callback(env: Any) -> None:
        if env.iteration % every:
            return
        for _, metric_name, value, _ in env.evaluation_result_list:
            if metric_name == name:
                trial.report(float(value), step=env.iteration)
                if trial.should_prune():
                    raise optuna.TrialPruned(f"pruned at iteration {env.iteration}")

    callback.order = 25  # type: ignore[attr-defined]
    return callback
