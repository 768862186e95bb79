"""Baselines and candidate estimators, their default parameters and their tuning spaces.

Every estimator sees the feature pipeline's matrix: numeric columns plus integer category codes.
The linear model one-hot encodes the code columns and scales the rest; trees use codes directly
(LightGBM as native categoricals). Baselines (majority class / mean, and the linear model) are
always trained, so every candidate's score has something to be compared with.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import optuna
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from loopml.spec import Task

N_JOBS = 2
EARLY_STOPPING_ROUNDS = 50


@dataclass(frozen=True)
class Candidate:
    """A model family: how to build it from parameters, and the space to tune them in."""

    name: str
    baseline: bool
    defaults: dict[str, Any]
    space: Callable[[optuna.Trial], dict[str, Any]] | None = None
    tags: tuple[str, ...] = field(default=())


def _linear_space(trial: optuna.Trial) -> dict[str, Any]:
    return {"C": trial.suggest_float("C", 1e-3, 1e2, log=True)}


def _forest_space(trial: optuna.Trial) -> dict[str, Any]:
    return {
        "n_estimators": trial.suggest_int("n_estimators", 50, 300, step=50),
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 1, 50, log=True),
        "max_features": trial.suggest_float("max_features", 0.2, 1.0),
        "max_samples": trial.suggest_float("max_samples", 0.2, 1.0),
    }


def _lightgbm_space(trial: optuna.Trial) -> dict[str, Any]:
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 8, 256, log=True),
        "min_child_samples": trial.suggest_int("min_child_samples", 5, 200, log=True),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.5, 1.0),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 10.0, log=True),
        "cat_smooth": trial.suggest_float("cat_smooth", 1.0, 50.0, log=True),
    }


CANDIDATES: dict[str, Candidate] = {
    "baseline": Candidate("baseline", True, {}),
    "linear": Candidate("linear", True, {"C": 1.0}, _linear_space),
    "random_forest": Candidate(
        "random_forest",
        False,
        {"n_estimators": 100, "min_samples_leaf": 5, "max_features": 0.5, "max_samples": 0.5},
        _forest_space,
    ),
    "lightgbm": Candidate(
        "lightgbm",
        False,
        {
            "learning_rate": 0.05,
            "num_leaves": 31,
            "min_child_samples": 20,
            "colsample_bytree": 0.9,
            "subsample": 0.9,
            "reg_lambda": 1.0,
            "cat_smooth": 10.0,
        },
        _lightgbm_space,
    ),
}


def build(
    name: str, task: Task, params: dict[str, Any], categorical: list[int], n_columns: int, seed: int
) -> Any:
    """An unfitted estimator of candidate ``name`` with ``params``."""
    classify = task != "regression"
    if name == "baseline":
        return DummyClassifier(strategy="prior") if classify else DummyRegressor(strategy="mean")
    if name == "linear":
        numeric = [i for i in range(n_columns) if i not in set(categorical)]
        encode = ColumnTransformer(
            [
                (
                    "categories",
                    OneHotEncoder(
                        handle_unknown="infrequent_if_exist", min_frequency=20, max_categories=100
                    ),
                    categorical,
                ),
                ("numbers", StandardScaler(), numeric),
            ],
            sparse_threshold=0.0,
        )
        model = (
            LogisticRegression(C=params["C"], max_iter=2000)
            if classify
            else Ridge(alpha=1.0 / params["C"])
        )
        return Pipeline([("encode", encode), ("model", model)])
    if name == "random_forest":
        cls = RandomForestClassifier if classify else RandomForestRegressor
        return cls(**params, n_jobs=N_JOBS, random_state=seed)
    if name == "lightgbm":
        cls = lgb.LGBMClassifier if classify else lgb.LGBMRegressor
        return cls(
            **params,
            n_estimators=2000,
            subsample_freq=1,
            n_jobs=N_JOBS,
            random_state=seed,
            verbose=-1,
        )
    raise ValueError(f"unknown candidate {name!r}")


def fit(
    estimator: Any,
    name: str,
    X: np.ndarray,
    y: np.ndarray,
    w: np.ndarray | None,
    *,
    categorical: list[int],
    X_valid: np.ndarray,
    y_valid: np.ndarray,
    callbacks: list[Any] | None = None,
) -> Any:
    """Fit ``estimator``; LightGBM stops early on the validation data."""
    if name == "lightgbm":
        estimator.fit(
            X,
            y,
            sample_weight=w,
            eval_X=(X_valid,),
            eval_y=(y_valid,),
            categorical_feature=categorical or "auto",
            callbacks=[
                lgb.early_stopping(EARLY_STOPPING_ROUNDS, first_metric_only=True, verbose=False),
                *(callbacks or []),
            ],
        )
        return estimator
    if name == "linear":
        return estimator.fit(X, y, model__sample_weight=w)
    return estimator.fit(X, y, sample_weight=w)
