"""Training on real data: baselines and candidates, tuning that resumes, tracking, bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import optuna
import polars as pl
import pytest

from loopml.data.versions import add_frame
from loopml.errors import DataError, SpecError
from loopml.modeling.progress import CandidateTrained, ProgressEvent, TrialFinished
from loopml.modeling.train import train
from loopml.modeling.tune import tune
from loopml.spec import Spec, parse_spec
from loopml.store import Store

FLIGHTS_SPEC = """\
name: flights
task: binary
target: late
positive_class: true
id_column: flight_id
time_column: scheduled_departure
features:
  numeric: [distance, hour, day_of_week, temp, dewp, humid, wind_speed, precip, visib, seats]
  categorical: [carrier, origin, dest]
metric: {name: roc_auc, target: 0.6}
slices: [{name: origin, column: origin}]
model:
  candidates: [linear, random_forest, lightgbm]
"""


@pytest.fixture()
def sqlite_store(tmp_path: Path) -> Any:
    with Store(f"sqlite:///{tmp_path / 'loopml.db'}", tmp_path / "artifacts") as store:
        yield store


def flights_spec(**changes: str) -> Spec:
    text = FLIGHTS_SPEC
    for old, new in changes.items():
        text = text.replace(old, new)
    return parse_spec(text)


def test_flights_leaderboard_and_tracking(
    sqlite_store: Store, flights_sample: pl.DataFrame
) -> None:
    spec = flights_spec()
    version = add_frame(sqlite_store, flights_sample, name="flights", source="test")
    events: list[ProgressEvent] = []
    result = train(sqlite_store, spec, version, on_event=events.append)
    board = result.leaderboard()
    names = [row["candidate"] for row in board]
    assert set(names) == {"baseline", "linear", "random_forest", "lightgbm"}
    by_name = {row["candidate"]: row for row in board}
    assert by_name["baseline"]["validation"] == pytest.approx(0.5)  # the prior says nothing
    assert result.best.name != "baseline"
    assert by_name[result.best.name]["validation"] > by_name["baseline"]["validation"] + 0.05
    assert board[0]["candidate"] == result.best.name  # sorted best first
    # time split: train earliest, test latest
    times = result.data.frame["scheduled_departure"]
    assert times[result.data.split.train].max() <= times[result.data.split.test].min()
    # binary metrics beyond accuracy, threshold chosen on validation
    test = result.best.metrics["test"]
    assert {"precision", "recall", "pr_auc", "f1"} <= set(test)
    assert 0 < result.best.model.threshold < 1  # type: ignore[operator]
    # tracking: a parent run and one child per candidate with params, metrics and lineage
    parent = sqlite_store.runs.get(result.run_id)
    assert parent.status == "finished" and parent.dataset_ref == "flights@1"
    assert parent.environment["packages"]["lightgbm"]
    assert parent.spec["target"] == "late"
    assert parent.metrics["best"] == result.best.name
    children = sqlite_store.runs.list(parent_id=parent.id)
    assert {c.name.split("/")[-1] for c in children} == set(names)
    assert all(c.status == "finished" and "validation" in c.metrics for c in children)
    assert any(isinstance(e, CandidateTrained) for e in events)


def test_tuning_resumes_an_interrupted_study(sqlite_store: Store) -> None:
    calls: list[dict[str, Any]] = []

    def objective(params: dict[str, Any], trial: optuna.Trial) -> float:
        calls.append(params)
        return -((params["x"] - 2.0) ** 2)

    def space(trial: optuna.Trial) -> dict[str, Any]:
        return {"x": trial.suggest_float("x", -5, 5)}

    common = {
        "space": space,
        "objective": objective,
        "metric": "roc_auc",
        "storage": sqlite_store.db_url,
        "study_name": "resume-test",
        "seed": 0,
    }
    first = tune(n_trials=4, **common)
    assert first.n_trials == 4 and len(calls) == 4
    second = tune(n_trials=7, **common)  # the study already has 4: only 3 more run
    assert second.n_trials == 7 and len(calls) == 7
    assert second.value >= first.value


def test_lightgbm_tuning_records_trials(sqlite_store: Store, flights_sample: pl.DataFrame) -> None:
    spec = flights_spec(**{"[linear, random_forest, lightgbm]": "[lightgbm]"})
    version = add_frame(sqlite_store, flights_sample, name="flights", source="test")
    seen: list[TrialFinished] = []
    result = train(
        sqlite_store,
        spec,
        version,
        tune_trials=4,
        on_event=lambda e: seen.append(e) if isinstance(e, TrialFinished) else None,
    )
    lightgbm = next(r for r in result.results if r.name == "lightgbm")
    assert lightgbm.tuning is not None and lightgbm.tuning.n_trials == 4
    assert seen[-1].done == 4 and seen[-1].best is not None
    child = sqlite_store.runs.get(lightgbm.run_id)  # type: ignore[arg-type]
    assert child.params["tuning"]["trials"] == 4


@pytest.mark.parametrize("task", ["regression", "multiclass"])
def test_other_tasks_on_scikit_learn_data(sqlite_store: Store, task: str) -> None:
    from sklearn.datasets import load_diabetes, load_wine

    bunch = load_diabetes() if task == "regression" else load_wine()
    names = [n.replace(" ", "_") for n in bunch.feature_names]
    frame = pl.DataFrame(bunch.data, schema=names, orient="row").with_columns(
        target=pl.Series(bunch.target)
    )
    metric = "rmse" if task == "regression" else "f1"
    spec = parse_spec(
        f"name: {task}\ntask: {task}\ntarget: target\nfeatures: {{numeric: [{', '.join(names)}]}}\n"
        f"metric: {{name: {metric}}}\nmodel: {{candidates: [linear, lightgbm]}}\n"
    )
    version = add_frame(sqlite_store, frame, name=task, source="sklearn")
    result = train(sqlite_store, spec, version)
    board = {row["candidate"]: row for row in result.leaderboard()}
    if task == "regression":
        assert board[result.best.name]["test"] < board["baseline"]["test"]  # lower RMSE
        assert result.best.model.output(result.data.X["test"]).ndim == 1
    else:
        assert board[result.best.name]["test"] > 0.8  # wine is easy
        assert result.best.model.output(result.data.X["test"]).shape[1] == 3
        assert result.classes == [0, 1, 2]


def test_bad_training_input(sqlite_store: Store, flights_sample: pl.DataFrame) -> None:
    version = add_frame(sqlite_store, flights_sample, name="flights", source="test")
    with pytest.raises(SpecError, match="did you mean 'temp'"):
        train(sqlite_store, flights_spec(**{"temp, dewp": "tmp, dewp"}), version)
    one_class = add_frame(
        sqlite_store, flights_sample.with_columns(late=pl.lit(False)), name="flights", source="test"
    )
    with pytest.raises(DataError, match="one class"):
        train(sqlite_store, flights_spec(), one_class)
    empty = add_frame(
        sqlite_store,
        flights_sample.with_columns(temp=pl.lit(None, pl.Float64)),
        name="flights",
        source="test",
    )
    with pytest.raises(DataError, match="temp have no values"):
        train(sqlite_store, flights_spec(), empty)
    tiny = add_frame(sqlite_store, flights_sample.head(60), name="flights", source="test")
    with pytest.raises(DataError, match="the split needs at least"):
        train(sqlite_store, flights_spec(), tiny)
    assert sqlite_store.runs.list() == []  # bad input is refused before any run is recorded


def test_sample_weights_change_the_model(sqlite_store: Store, flights_sample: pl.DataFrame) -> None:
    weighted = flights_sample.with_columns(
        w=pl.when(pl.col("origin") == "EWR").then(10.0).otherwise(0.1)
    )
    version = add_frame(sqlite_store, weighted, name="flights", source="test")
    spec = flights_spec(**{"[linear, random_forest, lightgbm]": "[linear]"})
    plain = train(sqlite_store, spec, version)
    heavy = train(
        sqlite_store,
        parse_spec(
            FLIGHTS_SPEC.replace("[linear, random_forest, lightgbm]", "[linear]")
            + "weight_column: w\n"
        ),
        version,
    )
    a = plain.best.model.output(plain.data.X["test"])[:, 1]
    b = heavy.best.model.output(heavy.data.X["test"])[:, 1]
    assert not np.allclose(a, b)


def test_parallel_trials_share_one_study(sqlite_store: Store, flights_sample: pl.DataFrame) -> None:
    spec = parse_spec(
        FLIGHTS_SPEC.replace("[linear, random_forest, lightgbm]", "[linear]")
        + "  parallel_trials: 2\n"
    )
    version = add_frame(sqlite_store, flights_sample.head(3000), name="flights", source="test")
    result = train(sqlite_store, spec, version, tune_trials=12)  # linear gets 12 // 4 = 3 trials
    linear = next(r for r in result.results if r.name == "linear")
    assert linear.tuning is not None and linear.tuning.n_trials == 3
    study = optuna.load_study(study_name=linear.tuning.study_name, storage=sqlite_store.db_url)
    assert len(study.trials) == 3  # two workers split the trials of one study, none lost


def test_cross_validation_scores_time_ordered_folds(
    sqlite_store: Store, flights_sample: pl.DataFrame
) -> None:
    spec = parse_spec(
        FLIGHTS_SPEC.replace("[linear, random_forest, lightgbm]", "[linear, lightgbm]")
        + "  cv_folds: 3\n"
    )
    version = add_frame(sqlite_store, flights_sample, name="flights", source="test")
    result = train(sqlite_store, spec, version)
    for candidate in result.results:
        assert candidate.cv is not None and candidate.cv["method"] == "TimeSeriesSplit"
        assert len(candidate.cv["folds"]) == 3
    board = result.leaderboard()
    assert board[0]["candidate"] == result.best.name  # selected by the cross-validated mean
    assert board[0]["cv"] == max(r["cv"] for r in board if r["candidate"] != "baseline")
    child = sqlite_store.runs.get(result.best.run_id)  # type: ignore[arg-type]
    assert child.metrics["cv"]["mean"] == pytest.approx(board[0]["cv"])


def test_float_target_with_an_integer_positive_class(sqlite_store: Store) -> None:
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer()
    names = [f"f{i}" for i in range(bunch.data.shape[1])]
    frame = pl.DataFrame(bunch.data, schema=names, orient="row").with_columns(
        target=pl.Series(bunch.target.astype(float))  # 0.0 / 1.0
    )
    spec = parse_spec(
        f"name: cancer\ntask: binary\ntarget: target\npositive_class: 1\n"
        f"features: {{numeric: [{', '.join(names)}]}}\nmetric: {{name: roc_auc}}\n"
        "model: {candidates: [linear]}\n"
    )
    result = train(sqlite_store, spec, add_frame(sqlite_store, frame, name="c", source="sk"))
    assert result.classes == [0.0, 1.0]
    assert result.best.metrics["test"]["roc_auc"] > 0.95


def test_editing_the_features_starts_a_new_study(
    sqlite_store: Store, flights_sample: pl.DataFrame
) -> None:
    version = add_frame(sqlite_store, flights_sample.head(4000), name="flights", source="t")
    spec = flights_spec(**{"[linear, random_forest, lightgbm]": "[linear]"})
    first = train(sqlite_store, spec, version, tune_trials=8)
    fewer = flights_spec(**{"[linear, random_forest, lightgbm]": "[linear]", ", seats": ""})
    second = train(sqlite_store, fewer, version, tune_trials=8)
    a, b = (next(r for r in x.results if r.name == "linear").tuning for x in (first, second))
    assert a is not None and b is not None
    assert a.study_name != b.study_name and b.n_trials == 2  # ran its own trials
