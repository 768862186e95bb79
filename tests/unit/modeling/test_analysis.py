"""Error analysis on real data: flights (binary), diabetes (regression), wine (multiclass).

Models are built directly (a fitted FeaturePipeline + a LightGBM or scikit-learn estimator), so
these tests depend on neither the store nor the training loop. Every number the analysis reports
is checked against an independent computation: scikit-learn's metrics on the same rows, and for
slices the rows their conditions select (``slice_mask``) scored by ``metrics.compute``.
"""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import orjson
import polars as pl
import pytest
from sklearn import metrics as skm
from sklearn.datasets import load_diabetes, load_wine
from sklearn.ensemble import RandomForestClassifier

from loopml.errors import DataError
from loopml.features.pipeline import FeaturePipeline
from loopml.modeling import metrics as M
from loopml.modeling.analysis import Analysis, analyze
from loopml.modeling.candidates import build
from loopml.modeling.groups import GroupScorer
from loopml.modeling.model import TrainedModel
from loopml.modeling.prepare import encode_target
from loopml.modeling.slices import PAIR_MARGIN_SE, bin_column, slice_mask
from loopml.spec import Features, Metric, Slice, Spec

FLIGHTS = Features(
    numeric=[
        "distance", "temp", "dewp", "humid", "wind_dir", "wind_speed", "wind_gust", "precip",
        "pressure", "visib", "plane_year", "engines", "seats", "hour", "minute", "day_of_week",
        "day",
    ],
    categorical=["carrier", "origin", "dest", "tailnum", "plane_type"],
    datetime=["scheduled_departure"],
)  # fmt: skip
PLANTED = "MQ"  # the carrier whose test labels are flipped


@dataclass
class Case:
    spec: Spec
    model: TrainedModel
    frame: pl.DataFrame
    y: np.ndarray


def flights_spec() -> Spec:
    return Spec(
        name="flights",
        task="binary",
        target="late",
        positive_class=True,
        time_column="scheduled_departure",
        features=FLIGHTS,
        metric=Metric(name="roc_auc", target=0.7),
        slices=[
            Slice(name="carrier", column="carrier"),
            Slice(name="distance", column="distance", bins=[500, 1000, 2000]),
        ],
    )


@pytest.fixture(scope="module")
def flights_case(flights: pl.DataFrame, flights_sample: pl.DataFrame) -> Case:
    spec = flights_spec()
    train = flights_sample
    test = flights.filter(pl.col("month") == 4).gather_every(4)
    y_train, classes, _ = encode_target(train["late"], spec)
    y_test, _, _ = encode_target(test["late"], spec)
    pipeline = FeaturePipeline(spec.features).fit(train)
    estimator = lgb.LGBMClassifier(
        n_estimators=80, num_leaves=15, learning_rate=0.1, n_jobs=2, random_state=0, verbose=-1
    ).fit(pipeline.transform(train), y_train, categorical_feature=pipeline.categorical_indices_)
    model = TrainedModel("binary", "lightgbm", pipeline, estimator, classes, threshold=0.3)
    return Case(spec, model, test, y_test)


@pytest.fixture(scope="module")
def flights_analysis(flights_case: Case) -> Analysis:
    c = flights_case
    return analyze(c.model, c.frame, c.y, c.spec)


@pytest.fixture(scope="module")
def planted(flights_case: Case) -> tuple[np.ndarray, Analysis]:
    c = flights_case
    y = c.y.copy()
    bad = (c.frame["carrier"] == PLANTED).to_numpy()
    y[bad] = 1 - y[bad]
    return y, analyze(c.model, c.frame, y, c.spec)


# --- the group scorer is exact --------------------------------------------------------------

CASES = [
    ("binary", m)
    for m in ["roc_auc", "pr_auc", "accuracy", "balanced_accuracy", "f1", "precision", "recall",
              "log_loss"]
] + [("multiclass", m) for m in ["roc_auc", "accuracy", "balanced_accuracy", "f1", "log_loss"]] + [
    ("regression", m) for m in ["rmse", "mae"]
]  # fmt: skip


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(("task", "metric"), CASES)
def test_group_scores_equal_metrics_compute_on_each_group(
    task: str, metric: str, weighted: bool
) -> None:
    rng = np.random.default_rng(7)
    n = 1500
    weight = rng.uniform(0.2, 3.0, n) if weighted else None
    if task == "binary":
        y = rng.integers(0, 2, n)
        p = np.round(np.clip(0.3 * y + rng.uniform(0, 0.7, n), 0, 1), 2)  # rounded: many ties
        output = np.column_stack([1 - p, p])
    elif task == "multiclass":
        y = rng.integers(0, 3, n)
        output = rng.dirichlet([1, 1, 1], n)
        output[np.arange(n), y] += 0.4
        output = np.round(output / output.sum(axis=1, keepdims=True), 2)
        output /= output.sum(axis=1, keepdims=True)
    else:
        y = rng.normal(size=n)
        output = y + rng.normal(size=n)
    codes = rng.integers(0, 6, n)
    scorer = GroupScorer(task, metric, y, output, threshold=0.4, weight=weight)  # type: ignore[arg-type]
    scores = scorer.score(codes, 7)
    for g in range(6):
        rows = codes == g
        w = None if weight is None else weight[rows]
        expected = M.compute(task, y[rows], output[rows], threshold=0.4, weight=w)[metric]  # type: ignore[arg-type]
        assert scores.value[g] == pytest.approx(expected, rel=1e-9, abs=1e-12)
        assert 0 < scores.se[g] < 1
    assert scores.rows[6] == 0 and np.isnan(scores.value[6])


def test_a_slice_lacking_a_class_has_no_auc() -> None:
    y = np.array([1, 1, 1, 0, 1, 0])
    output = np.column_stack([1 - np.linspace(0, 1, 6), np.linspace(0, 1, 6)])
    scores = GroupScorer("binary", "roc_auc", y, output).score(np.array([0, 0, 0, 1, 1, 1]), 2)
    assert np.isnan(scores.value[0])
    assert scores.value[1] == pytest.approx(skm.roc_auc_score(y[3:], output[3:, 1]))


# --- bins and their conditions ----------------------------------------------------------------


def test_bins_describe_real_columns_and_their_conditions_select_the_same_rows(
    flights_case: Case,
) -> None:
    frame = flights_case.frame.with_columns(pl.col("carrier").cast(pl.Categorical))
    kinds = {e.column: e.kind for e in flights_case.model.pipeline.encoders_}
    for column in ["carrier", "precip", "visib", "engines", "temp", "plane_year",
                   "scheduled_departure", "origin"]:  # fmt: skip
        bins = bin_column(frame, column, kind=kinds[column])
        assert bins.codes.min() >= 0 and bins.codes.max() < bins.n
        for code in range(bins.n):
            expected = bins.codes == code
            assert (slice_mask(frame, bins.conditions[code]) == expected).all(), bins.labels[code]
    precip = bin_column(frame, "precip")
    assert precip.labels[0] == "precip <= 0"  # the point mass at zero gets its own bin
    assert (precip.codes == 0).mean() > 0.8
    engines = bin_column(frame, "engines")
    assert "engines == 2" in engines.labels and engines.labels[-1] == "engines is missing"
    assert (engines.codes == engines.n - 1).sum() == frame["engines"].null_count()
    when = bin_column(frame, "scheduled_departure")
    assert when.conditions[1][0][2].startswith("2013-04-")
    distance = bin_column(frame, "distance", edges=[500, 1000])
    assert distance.labels[:3] == ["distance <= 500", "500 < distance <= 1000", "distance > 1000"]


# --- binary: flights --------------------------------------------------------------------------


def test_binary_analysis_agrees_with_scikit_learn(
    flights_case: Case, flights_analysis: Analysis
) -> None:
    a, c = flights_analysis, flights_case
    n = c.frame.height
    score = c.model.output(c.model.pipeline.transform(c.frame))[:, 1]
    decided = (score >= 0.3).astype(int)
    assert a.task == "binary" and a.primary == "roc_auc" and a.slice_metric == "roc_auc"
    assert a.n_rows == n and a.min_support == max(30, int(np.ceil(n / 100)))
    assert a.confusion is not None and a.confusion["labels"] == ["False", "True"]
    assert sum(map(sum, a.confusion["matrix"])) == n
    assert a.confusion["matrix"] == skm.confusion_matrix(c.y, decided).tolist()
    assert a.roc is not None and a.pr is not None and a.calibration is not None
    assert a.roc["auc"] == pytest.approx(skm.roc_auc_score(c.y, score), abs=1e-12)
    assert a.overall["roc_auc"] == pytest.approx(a.roc["auc"])
    assert a.pr["ap"] == pytest.approx(skm.average_precision_score(c.y, score), abs=1e-12)
    assert 2 < len(a.roc["fpr"]) <= 200 and len(a.pr["recall"]) <= 200
    assert (a.roc["fpr"][0], a.roc["tpr"][0], a.roc["fpr"][-1], a.roc["tpr"][-1]) == (0, 0, 1, 1)
    assert np.all(np.diff(a.roc["fpr"]) >= 0)
    assert sum(a.calibration["count"]) == n and len(a.calibration["count"]) == 10
    assert np.all(np.diff(a.calibration["predicted"]) > 0)
    assert a.overall["accuracy"] == pytest.approx(skm.accuracy_score(c.y, decided))
    assert a.thresholds is not None and 0.3 in [row["threshold"] for row in a.thresholds]
    assert a.residuals is None
    # unseen tail numbers share the "other" code; the coverage says how many rows
    tailnum = next(i for i in a.coverage if i["column"] == "tailnum")
    encoder = next(e for e in c.model.pipeline.encoders_ if e.column == "tailnum")
    known = set(encoder.levels)  # type: ignore[attr-defined]
    unseen = ~c.frame["tailnum"].drop_nulls().is_in(sorted(known))
    assert tailnum["other"] == pytest.approx(unseen.sum() / n) and tailnum["other"] > 0.01


def test_analysis_is_json_safe_and_round_trips(flights_analysis: Analysis) -> None:
    document = orjson.loads(orjson.dumps(flights_analysis.to_dict()))
    assert Analysis.from_dict(document) == flights_analysis
    with pytest.raises(DataError, match="format"):
        Analysis.from_dict({**document, "format": "loopml.analysis/0"})


def test_spec_slices_score_every_carrier_and_distance_bin(
    flights_case: Case, flights_analysis: Analysis
) -> None:
    c, a = flights_case, flights_analysis
    carriers = [row for row in a.slices if row["slice"] == "carrier"]
    assert sum(row["count"] for row in carriers) == c.frame.height
    distance = [row["value"] for row in a.slices if row["slice"] == "distance"]
    assert distance[:2] == ["distance <= 500", "500 < distance <= 1000"]
    ua = next(row for row in carriers if row["value"] == "carrier == 'UA'")
    rows = (c.frame["carrier"] == "UA").to_numpy()
    output = c.model.output(c.model.pipeline.transform(c.frame.filter(rows)))
    assert ua["metric"] == pytest.approx(skm.roc_auc_score(c.y[rows], output[:, 1]))
    assert ua["gap"] == pytest.approx(a.overall["roc_auc"] - ua["metric"])


def test_a_planted_bad_carrier_is_the_top_worst_slice(
    flights_case: Case, flights_analysis: Analysis, planted: tuple[np.ndarray, Analysis]
) -> None:
    c = flights_case
    y, a = planted
    worst = a.worst_slices
    assert len(worst) == 10
    assert worst[0]["conditions"] == [["carrier", "==", PLANTED]]
    assert worst[0]["description"] == f"carrier == '{PLANTED}'"
    # the plant made it: without it this carrier is not among the worst slices
    assert all(w["description"] != worst[0]["description"] for w in flights_analysis.worst_slices)
    carriers = [r for r in a.slices if r["slice"] == "carrier" and r["gap"] is not None]
    assert max(carriers, key=lambda r: r["gap"])["value"] == f"carrier == '{PLANTED}'"
    output = c.model.output(c.model.pipeline.transform(c.frame))
    ranks = [w["adjusted_gap"] for w in worst]  # the gap shrunk by its noise
    assert ranks == sorted(ranks, reverse=True)
    assert all(0 < w["adjusted_gap"] < w["gap"] for w in worst)
    for item in worst:  # each reported slice is exactly the rows its conditions select
        rows = slice_mask(c.frame, item["conditions"])
        assert rows.sum() == item["count"] >= a.min_support
        expected = skm.roc_auc_score(y[rows], output[rows, 1])
        assert item["metric"] == pytest.approx(expected)
        assert item["gap"] == pytest.approx(item["overall"] - item["metric"])
        columns = [cond[0] for cond in item["conditions"]]
        if len(set(columns)) == 2:  # a pair: worse than each single parent (by > 1 se)
            for column in set(columns):
                parent = slice_mask(c.frame, [x for x in item["conditions"] if x[0] == column])
                parent_auc = skm.roc_auc_score(y[parent], output[parent, 1])
                assert item["metric"] < parent_auc - PAIR_MARGIN_SE * item["se"]


# --- regression: diabetes ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def diabetes() -> tuple[Spec, pl.DataFrame, pl.DataFrame]:
    data = load_diabetes()
    rng = np.random.default_rng(3)
    frame = pl.DataFrame(
        {name: data.data[:, i] for i, name in enumerate(data.feature_names)}
        | {"progression": data.target}
    )
    frame = frame.with_columns(
        pl.col("sex").round(4),  # two standardized values: a category
        signal=pl.Series(data.target + rng.normal(0, 5, len(data.target))),  # planted
    )
    numeric = [n for n in data.feature_names if n != "sex"] + ["signal"]
    spec = Spec(
        name="diabetes",
        task="regression",
        target="progression",
        features=Features(numeric=numeric, categorical=["sex"]),
        metric=Metric(name="r2"),
        slices=[Slice(name="sex", column="sex"), Slice(name="bmi", column="bmi")],
    )
    test = rng.random(frame.height) < 0.35
    return spec, frame.filter(~pl.Series(test)), frame.filter(pl.Series(test))


@pytest.mark.parametrize("kind", ["lightgbm", "linear"])
def test_regression_analysis_and_permutation_finds_the_planted_feature(
    diabetes: tuple[Spec, pl.DataFrame, pl.DataFrame], kind: str
) -> None:
    spec, train, test = diabetes
    pipeline = FeaturePipeline(spec.features).fit(train)
    X = pipeline.transform(train)
    y_train, _, _ = encode_target(train["progression"], spec)
    y, _, _ = encode_target(test["progression"], spec)
    if kind == "lightgbm":
        estimator = lgb.LGBMRegressor(
            n_estimators=60, num_leaves=7, min_child_samples=10, verbose=-1, n_jobs=2
        ).fit(X, y_train, categorical_feature=pipeline.categorical_indices_)
    else:
        estimator = build("linear", "regression", {"C": 1.0}, pipeline.categorical_indices_,
                          X.shape[1], 0).fit(X, y_train)  # fmt: skip
    model = TrainedModel("regression", kind, pipeline, estimator)
    a = analyze(model, test, y, spec)
    pred = model.output(pipeline.transform(test))
    assert a.slice_metric == "rmse" and a.primary == "r2"
    assert a.overall["r2"] == pytest.approx(skm.r2_score(y, pred))
    assert a.confusion is None and a.roc is None and a.calibration is None
    assert a.residuals is not None and len(a.residuals["predicted"]) == test.height
    q = a.residuals["quantiles"]
    assert q["p05"] < q["p25"] < q["p50"] < q["p75"] < q["p95"]
    assert q["p50"] == pytest.approx(np.median(y - pred))
    top = a.importance[0]
    assert top["feature"] == "signal" and top["permutation"] > 0.5  # r2 collapses without it
    assert all(i["permutation"] < 0.2 for i in a.importance[1:])
    gains = {i["feature"]: i["gain"] for i in a.importance}
    assert sum(gains.values()) == pytest.approx(1.0)
    assert max(gains, key=lambda f: gains[f]) == "signal"
    assert {row["slice"] for row in a.slices} == {"sex", "bmi"}
    for item in a.worst_slices:
        rows = slice_mask(test, item["conditions"])
        assert item["metric"] == pytest.approx(np.sqrt(np.mean((y[rows] - pred[rows]) ** 2)))


# --- multiclass: wine -------------------------------------------------------------------------


def test_multiclass_analysis_on_wine() -> None:
    data = load_wine()
    names = [n.replace("/", "_") for n in data.feature_names]
    frame = pl.DataFrame({n: data.data[:, i] for i, n in enumerate(names)}).with_columns(
        cultivar=pl.Series([str(data.target_names[t]) for t in data.target])
    )
    spec = Spec(
        name="wine",
        task="multiclass",
        target="cultivar",
        features=Features(numeric=names),
        metric=Metric(name="f1"),
    )
    test = np.random.default_rng(1).random(frame.height) < 0.4
    train, held = frame.filter(~pl.Series(test)), frame.filter(pl.Series(test))
    pipeline = FeaturePipeline(spec.features).fit(train)
    y_train, classes, _ = encode_target(train["cultivar"], spec)
    y, _, _ = encode_target(held["cultivar"], spec)
    forest = RandomForestClassifier(n_estimators=50, random_state=0, n_jobs=2)
    model = TrainedModel(
        "multiclass", "random_forest", pipeline, forest.fit(pipeline.transform(train), y_train),
        classes,
    )  # fmt: skip
    a = analyze(model, held, y, spec, min_support=10)
    decided = model.decide(model.output(pipeline.transform(held)))
    assert a.confusion is not None and a.confusion["labels"] == ["class_0", "class_1", "class_2"]
    assert a.confusion["matrix"] == skm.confusion_matrix(y, decided).tolist()
    assert sum(map(sum, a.confusion["matrix"])) == held.height
    assert a.overall["f1"] == pytest.approx(skm.f1_score(y, decided, average="macro"))
    assert a.roc is None and a.pr is None and a.thresholds is None and a.residuals is None
    assert sum(i["gain"] for i in a.importance) == pytest.approx(1.0)
    for item in a.worst_slices:
        rows = slice_mask(held, item["conditions"])
        assert item["count"] == rows.sum() >= 10
        f1 = skm.f1_score(y[rows], decided[rows], average="macro")
        assert item["metric"] == pytest.approx(f1) and item["metric"] < a.overall["f1"]
    with pytest.raises(DataError, match="rows"):
        analyze(model, held, y[:-1], spec)
