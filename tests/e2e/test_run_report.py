"""The training report and the model card: the computed objects, and the pages in real Chromium.

Three real tasks (flights binary, diabetes regression, wine multiclass) with models built
directly, a leaderboard of real scores (a baseline, the linear model and LightGBM or a forest),
and a ``meta`` dict shaped as the registry writes ``meta.json``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb
import polars as pl
import pytest
from sklearn.datasets import load_diabetes, load_wine
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.ensemble import RandomForestClassifier

from loopml.data.profiling import profile_frame
from loopml.features.pipeline import FeaturePipeline
from loopml.modeling import metrics as M
from loopml.modeling.analysis import Analysis, analyze
from loopml.modeling.candidates import build
from loopml.modeling.model import TrainedModel
from loopml.modeling.prepare import encode_target
from loopml.registry import PackageMeta
from loopml.reports.model_card import build_model_card, model_card, model_card_html
from loopml.reports.run_report import build_run_report, figures, to_html, write_html
from loopml.spec import Features, Metric, Slice, Spec, Targets
from tests.support.pages import open_page

FLIGHTS = Features(
    numeric=["distance", "temp", "humid", "wind_speed", "precip", "visib", "plane_year", "hour",
             "day_of_week"],
    categorical=["carrier", "origin", "dest", "tailnum"],
    datetime=["scheduled_departure"],
)  # fmt: skip


@dataclass
class Run:
    """What the CLI would hold after training: spec, frames, models, leaderboard, analysis."""

    spec: Spec
    train: pl.DataFrame
    model: TrainedModel
    leaderboard: list[dict[str, Any]]
    metrics: dict[str, dict[str, float]]
    baselines: dict[str, dict[str, dict[str, float]]]
    analysis: Analysis


def _train(
    spec: Spec,
    frame: pl.DataFrame,
    candidates: dict[str, Any],
    best: str,
    *,
    threshold: float | None = None,
) -> Run:
    """Split 60/20/20 in row order, fit each candidate, score it per split, analyse the best."""
    n = frame.height
    parts = {
        "train": frame[: int(n * 0.6)],
        "validation": frame[int(n * 0.6) : int(n * 0.8)],
        "test": frame[int(n * 0.8) :],
    }
    ys = {name: encode_target(part[spec.target], spec) for name, part in parts.items()}
    classes = ys["train"][1]
    pipeline = FeaturePipeline(spec.features).fit(parts["train"])
    X = {name: pipeline.transform(part) for name, part in parts.items()}
    rows, per_candidate, models = [], {}, {}
    for name, estimator in candidates.items():
        if callable(estimator):
            estimator = estimator(pipeline, X["train"].shape[1])
        fit_kwargs = (
            {"categorical_feature": pipeline.categorical_indices_} if name == "lightgbm" else {}
        )
        estimator.fit(X["train"], ys["train"][0], **fit_kwargs)
        model = TrainedModel(spec.task, name, pipeline, estimator, classes, threshold=threshold)
        scores = {
            split: M.compute(spec.task, ys[split][0], model.output(X[split]), threshold=threshold)
            for split in parts
        }
        per_candidate[name], models[name] = scores, model
        rows.append(
            {
                "candidate": name,
                "baseline": name in ("baseline", "linear"),
                **{split: scores[split][spec.metric.name] for split in parts},
                "seconds": 0.5,
                "trials": 0,
                "best": name == best,
                "run_id": 10 + len(rows),
            }
        )
    analysis = analyze(models[best], parts["test"], ys["test"][0], spec)
    baselines = {k: v for k, v in per_candidate.items() if k in ("baseline", "linear")}
    return Run(spec, parts["train"], models[best], rows, per_candidate[best], baselines, analysis)


@pytest.fixture(scope="module")
def flights_run(flights: pl.DataFrame) -> Run:
    spec = Spec(
        name="flights",
        task="binary",
        target="late",
        positive_class=True,
        time_column="scheduled_departure",
        features=FLIGHTS,
        metric=Metric(name="roc_auc", target=0.7),
        targets=Targets(human_level=0.75),
        slices=[Slice(name="origin", column="origin"), Slice(name="hour", column="hour")],
    )
    frame = flights.filter(pl.col("month").is_in([5, 6])).gather_every(5)  # ~11,000 rows

    def linear(p: FeaturePipeline, width: int) -> Any:
        return build("linear", "binary", {"C": 1.0}, p.categorical_indices_, width, 0)

    lightgbm = lgb.LGBMClassifier(n_estimators=60, num_leaves=15, verbose=-1, n_jobs=2)
    return _train(
        spec,
        frame,
        {"baseline": DummyClassifier(), "linear": linear, "lightgbm": lightgbm},
        "lightgbm",
        threshold=0.35,
    )


@pytest.fixture(scope="module")
def diabetes_run() -> Run:
    data = load_diabetes()
    frame = pl.DataFrame(
        {n: data.data[:, i] for i, n in enumerate(data.feature_names)} | {"y": data.target}
    ).sample(fraction=1.0, shuffle=True, seed=0)
    spec = Spec(
        name="diabetes",
        task="regression",
        target="y",
        features=Features(numeric=list(data.feature_names)),
        metric=Metric(name="mae", target=50.0),
        slices=[Slice(name="bmi", column="bmi", bins=[-0.02, 0.03])],
    )
    lightgbm = lgb.LGBMRegressor(n_estimators=60, num_leaves=7, min_child_samples=10, verbose=-1)
    return _train(spec, frame, {"baseline": DummyRegressor(), "lightgbm": lightgbm}, "lightgbm")


@pytest.fixture(scope="module")
def wine_run() -> Run:
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
    frame = frame.sample(fraction=1.0, shuffle=True, seed=0)
    forest = RandomForestClassifier(n_estimators=40, random_state=0, n_jobs=2)
    return _train(
        spec, frame, {"baseline": DummyClassifier(), "random_forest": forest}, "random_forest"
    )


def _record(run: Run) -> dict[str, Any]:
    """The training run's store record, as the CLI would pass it."""
    return {
        "id": 7,
        "name": run.spec.name,
        "status": "finished",
        "dataset_ref": f"{run.spec.name}@3",
        "code_version": "4a7ef1d-dirty",
        "params": {"split": "rows in order", "sizes": {"train": run.train.height}},
        "spec": run.spec.model_dump(mode="json"),
        "duration_s": 12.5,
    }


def _meta(run: Run, *, code_version: bool = True) -> PackageMeta:
    """``meta.json`` as the registry writes it (plus the optional keys the card reads)."""
    lineage: dict[str, Any] = {
        "run_id": 7,
        "candidate_run_id": 12,
        "dataset": f"{run.spec.name}@3",
        "dataset_hash": "9f2c4e1ab8d3" + "0" * 52,
        "split": "time (scheduled_departure): earliest to train, latest to test",
        "spec": run.spec.model_dump(mode="json"),
        "sizes": {"train": run.train.height, "validation": 2000, "test": run.analysis.n_rows},
    }
    if code_version:
        lineage["code_version"] = "4a7ef1d-dirty"
    raw = {
        "format": "loopml.model/1",
        "task": run.spec.task,
        "candidate": run.model.candidate,
        "classes": run.model.classes,
        "threshold": run.model.threshold,
        "params": {"n_estimators": 60, "num_leaves": 15},
        "metrics": run.metrics,
        "feature_names": run.model.pipeline.feature_names_,
        "input_columns": run.model.pipeline.input_columns_,
        "lineage": lineage,
        "gate": {
            "blessed": True,
            "checks": [
                {
                    "check": "roc_auc target",
                    "value": 0.71,
                    "threshold": 0.7,
                    "passed": True,
                    "message": "roc_auc 0.7100 meets the target 0.7",
                }
            ],
            "champion": None,
            "champion_metrics": None,
        },
        "baselines": run.baselines,
    }
    return PackageMeta.model_validate(raw)


# --- the report object ---------------------------------------------------------------------------


def test_report_object_holds_the_leaderboard_lines_and_task_charts(
    flights_run: Run, diabetes_run: Run, wine_run: Run
) -> None:
    report = build_run_report(
        _record(flights_run), flights_run.leaderboard, flights_run.analysis, human_level=0.75,
        title="flights training",
    )  # fmt: skip
    assert report.target == 0.7 and report.human_level == 0.75 and report.primary == "roc_auc"
    assert ("dataset", "flights@3") in report.summary
    assert ("code version", "4a7ef1d-dirty") in report.summary
    ids = [id_ for id_, _, _ in figures(report)]
    assert ids == ["leaderboard", "confusion", "roc", "pr", "calibration", "thresholds",
                   "importance", "slice-0", "slice-1"]  # fmt: skip
    board = dict((i, f) for i, _, f in figures(report))["leaderboard"]
    assert [t["name"] for t in board["data"]] == ["validation", "test"]
    assert board["data"][1]["y"] == [row["test"] for row in flights_run.leaderboard]
    assert [s["y0"] for s in board["layout"]["shapes"]] == [0.7, 0.75]  # target, human level
    regression = build_run_report(
        _record(diabetes_run), diabetes_run.leaderboard, diabetes_run.analysis
    )
    ids = [id_ for id_, _, _ in figures(regression)]
    assert ids == ["leaderboard", "residuals", "residual-histogram", "importance", "slice-0"]
    assert regression.title == "training report: diabetes"
    multiclass = build_run_report(_record(wine_run), wine_run.leaderboard, wine_run.analysis)
    assert [id_ for id_, _, _ in figures(multiclass)] == ["leaderboard", "confusion", "importance"]


# --- the pages in Chromium ----------------------------------------------------------------------


@pytest.mark.parametrize("task", ["flights_run", "diabetes_run", "wine_run"])
def test_report_page_renders_every_chart_offline(
    task: str, request: pytest.FixtureRequest, browser: Any, tmp_path: Path
) -> None:
    run: Run = request.getfixturevalue(task)
    report = build_run_report(
        _record(run), run.leaderboard, run.analysis, human_level=None, title=task
    )
    path = write_html(report, tmp_path / "report.html")
    page, problems, requests = open_page(browser, path)
    charts = figures(report)
    page.wait_for_function(
        f"document.querySelectorAll('.js-plotly-plot').length === {len(charts)}", timeout=30_000
    )
    assert not problems
    assert all(url.startswith("file://") for url in requests)  # nothing fetched from a network
    for id_, _, figure in charts:  # every chart drew its data, not just an empty frame
        kind = figure["data"][0]["type"]
        drawn = {"bar": ".bars path", "scatter": ".scatterlayer .trace", "heatmap": ".hm image",
                 "histogram": ".bars path"}[kind]  # fmt: skip
        assert page.locator(f"#{id_} {drawn}").count() > 0, id_
    assert page.locator("#leaderboard-table tbody tr").count() == len(run.leaderboard)
    assert page.locator("#worst-table tbody tr").count() == len(run.analysis.worst_slices)
    assert page.locator("#importance-table tbody tr").count() == len(run.analysis.importance)
    if run.analysis.thresholds:
        assert page.locator("#threshold-table tbody tr.best").count() == 1  # the chosen one
    page.close()


# --- the model card -------------------------------------------------------------------------------


def test_model_card_has_every_section_with_real_numbers(flights_run: Run) -> None:
    run = flights_run
    profile = profile_frame(run.train)
    text = model_card(_meta(run), run.analysis, run.spec, profile=profile)
    headings = re.findall(r"^## (.+)$", text, flags=re.M)
    assert headings == ["Intended use", "Data", "Metrics", "Slices", "Limits", "Lineage"]
    test_auc = run.metrics["test"]["roc_auc"]
    assert f"| test | {test_auc:.4f} |" in text  # the metrics table, primary first
    assert "**positive class**: True (flagged when P ≥ 0.350)" in text
    assert "**time column**: scheduled_departure" in text
    assert f"train {run.train.height:,}, validation 2,000, test {run.analysis.n_rows:,}" in text
    card = build_model_card(_meta(run), run.analysis, run.spec, profile=profile)
    assert card.gate[0] == "blessed: meets every target; no champion before it"  # as registered
    linear = run.baselines["linear"]
    baseline_row = (
        f"| linear | {linear['validation']['roc_auc']:.4f} | {linear['test']['roc_auc']:.4f} |"
    )
    assert baseline_row in text
    worst = run.analysis.worst_slices[0]
    assert worst["description"].replace("|", "\\|") in text
    assert f"Weak on {worst['description']} ({worst['count']:,} test rows)" in text
    unseen = next(i for i in run.analysis.coverage if i["column"] == "tailnum")
    assert f"{unseen['other']:.1%} of test rows have a 'tailnum' value unseen" in text
    assert "Trained on data up to 2013-06-" in text  # the last departure in the training rows
    assert "**dataset hash**: 9f2c4e1ab8d3" in text and "**code version**: 4a7ef1d-dirty" in text
    assert "**training run**: 7" in text
    for row in text.splitlines():  # every table row has as many cells as its header
        if row.startswith("| ") and "---" not in row:
            assert row.endswith("|")
    without = model_card(_meta(run, code_version=False), None, run.spec)
    assert "**code version**: not recorded" in without
    assert "No analysis was recorded" in without


def test_model_card_for_regression_and_multiclass(diabetes_run: Run, wine_run: Run) -> None:
    card = build_model_card(_meta(diabetes_run), diabetes_run.analysis, diabetes_run.spec)
    assert card.metric_names[0] == "mae" and set(card.metric_names) == {"mae", "rmse", "r2"}
    assert [row["split"] for row in card.metrics] == ["train", "validation", "test"]
    assert any("bmi" in row["value"] for row in card.slices)
    card = build_model_card(_meta(wine_run), wine_run.analysis, wine_run.spec)
    assert ("classes", "class_0, class_1, class_2") in card.intended_use
    assert card.metrics[2]["f1"] == pytest.approx(wine_run.metrics["test"]["f1"])


def test_model_card_html_loads_cleanly(flights_run: Run, browser: Any, tmp_path: Path) -> None:
    html = model_card_html(_meta(flights_run), flights_run.analysis, flights_run.spec)
    assert "plotly" not in html.lower()  # a light page: no charts, no inlined JavaScript
    path = tmp_path / "card.html"
    path.write_text(html, encoding="utf-8")
    page, problems, _ = open_page(browser, path)
    assert not problems
    ids = page.eval_on_selector_all("h2", "els => els.map(e => e.id)")
    assert ids == ["intended-use", "data", "metrics", "slices", "limits", "lineage"]
    assert page.locator("table").count() >= 3
    page.close()
    assert "<script>" in to_html(
        build_run_report(_record(flights_run), flights_run.leaderboard, flights_run.analysis)
    )
