"""Estimated quality on real models: registration keeps a calibration (binary) or an error model
(regression) fitted on the validation split, a window shows each estimate with its interval, and
labels that leave the interval flag the window (concept shift)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from loopml.monitoring.alerts import default_rules
from loopml.monitoring.windows import Windowing, window_metrics
from loopml.registry import Package, load_package
from loopml.reports.monitor_charts import figures
from loopml.spec import Spec, parse_spec
from loopml.stats.calibration import Calibration
from loopml.stats.error_model import ErrorModel
from loopml.store import Store, WindowRecord
from tests.support.projects import FLIGHTS_SPEC, registered_store

BINARY = FLIGHTS_SPEC + "metric: {name: roc_auc}\nmodel: {candidates: [lightgbm]}\n"
REGRESSION = """\
name: flights
task: regression
target: temp
id_column: flight_id
time_column: scheduled_departure
features:
  numeric: [dewp, humid, hour, wind_speed, pressure]
  categorical: [origin]
metric: {name: rmse}
model: {candidates: [lightgbm]}
"""
START = datetime(2013, 4, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def binary(
    tmp_path_factory: pytest.TempPathFactory, flights_sample: pl.DataFrame
) -> Iterator[tuple[Store, Spec]]:
    spec = parse_spec(BINARY)
    with registered_store(tmp_path_factory.mktemp("binary"), spec, flights_sample) as store:
        yield store, spec


@pytest.fixture(scope="module")
def regression(
    tmp_path_factory: pytest.TempPathFactory, flights_sample: pl.DataFrame
) -> Iterator[tuple[Store, Spec]]:
    spec = parse_spec(REGRESSION)
    frame = flights_sample.filter(pl.col("temp").is_not_null())
    with registered_store(tmp_path_factory.mktemp("regression"), spec, frame) as store:
        yield store, spec


def unseen_rows(
    flights: pl.DataFrame, store: Store, spec: Spec, rows: int, seed: int
) -> pl.DataFrame:
    """January–March flights the model never saw (the sample keeps every 5th row: offset 2)
    from its held-out period (after its training rows: where the validation split lies, so
    neighbours of training rows share no hour's weather), with a label."""
    sample = flights.filter(pl.col("month") <= 3)
    sample = sample.gather_every(sample.height // 20_000 + 1)
    if spec.task == "regression":
        sample = sample.filter(pl.col("temp").is_not_null())
    sizes = load_package(store, "flights@1").meta.lineage.sizes
    assert sizes is not None
    held_out_from = sample.sort(spec.time_column)[spec.time_column][sizes["train"]]
    q1 = flights.filter(pl.col("month") <= 3).gather_every(5, offset=2)
    q1 = q1.filter(pl.col(spec.target).is_not_null() & (pl.col(spec.time_column) >= held_out_from))
    return q1.sample(rows, seed=seed)


def window_of(package: Package, spec: Spec, part: pl.DataFrame, labels: list) -> WindowRecord:
    """The window ``loopml monitor`` computes for ``part`` served by ``package``, labelled."""
    model = package.model
    ids = [f"r{i}" for i in range(part.height)]
    log = pl.DataFrame(
        {
            "request_id": ids,
            "features": part.drop(spec.target)
            .select(pl.struct(pl.all()).struct.json_encode())
            .to_series(),
            "error": pl.Series([None] * part.height, dtype=pl.String),
            "score": model.scores(model.output(model.pipeline.transform(part))),
            "latency_ms": np.zeros(part.height),
        }
    )
    end = START + timedelta(hours=1)
    cut = Windowing(seconds=3600)
    return window_metrics(log, package, spec, dict(zip(ids, labels, strict=True)), START, end, cut)


def test_registration_keeps_a_monotone_calibration_map_of_the_validation_split(
    binary: tuple[Store, Spec],
) -> None:
    store, _ = binary
    meta = load_package(store, "flights@1").meta
    assert meta.calibration is not None and meta.error_model is None
    calibration = Calibration.from_dict(meta.calibration)
    assert meta.lineage.sizes is not None
    assert calibration.rows == meta.lineage.sizes["validation"]
    mapped = calibration.apply(np.linspace(0, 1, 101))
    # flights of the same days share delays no feature explains: the test split's windows, in
    # time order, stray further from the estimate than independent rows would
    assert set(calibration.dispersion) == {"roc_auc", "pr_auc", "accuracy"}
    assert all(v >= 1 for v in calibration.dispersion.values())
    assert calibration.dispersion["pr_auc"] > 1.5
    assert (np.diff(mapped) >= 0).all() and mapped.min() >= 0 and mapped.max() <= 1


def test_a_window_shows_each_estimate_inside_its_interval_and_labels_that_agree_are_not_flagged(
    binary: tuple[Store, Spec], flights: pl.DataFrame
) -> None:
    store, spec = binary
    package = load_package(store, "flights@1")
    part = unseen_rows(flights, store, spec, 3_000, seed=1)
    window = window_of(package, spec, part, part[spec.target].to_list())
    m = window.metrics
    for name in ("roc_auc", "pr_auc", "accuracy"):
        low, value, high = (
            m[f"expected.{name}_low"],
            m[f"expected.{name}"],
            m[f"expected.{name}_high"],
        )
        assert low is not None and value is not None and high is not None
        assert 0 <= low <= value <= high <= 1 and high - low < 0.2, (name, low, value, high)
        assert m[f"estimate_outside.{name}"] in (0.0, 1.0)
    assert m["estimate_outside.roc_auc"] == 0.0, (m["quality.roc_auc"], m["expected.roc_auc"])
    assert abs(m["quality.roc_auc"] - m["expected.roc_auc"]) < 0.03


def test_labels_that_now_mean_the_opposite_flag_the_window_as_concept_shift(
    binary: tuple[Store, Spec], flights: pl.DataFrame
) -> None:
    """The same inputs, their labels flipped: the estimate cannot see it, the labels can."""
    store, spec = binary
    package = load_package(store, "flights@1")
    part = unseen_rows(flights, store, spec, 1_000, seed=2)
    window = window_of(package, spec, part, [not v for v in part[spec.target].to_list()])
    assert window.metrics["quality.roc_auc"] < 0.5 < window.metrics["expected.roc_auc_low"]
    assert window.metrics["estimate_outside.roc_auc"] == 1.0
    assert window.metrics["estimate_outside.accuracy"] == 1.0
    rule = [r for r in default_rules(spec) if r.metric == "estimate_outside.roc_auc"]
    assert rule and rule[0].consecutive > 1  # one window in ten is outside by chance


def test_few_labels_give_no_flag_and_an_old_package_estimates_from_its_raw_scores(
    binary: tuple[Store, Spec], flights: pl.DataFrame
) -> None:
    store, spec = binary
    package = load_package(store, "flights@1")
    part = unseen_rows(flights, store, spec, 1_000, seed=3)
    labels = part[spec.target].to_list()
    few = window_of(package, spec, part.head(50), labels[:50])  # under min_samples (100)
    assert "expected.roc_auc_low" in few.metrics and "estimate_outside.roc_auc" not in few.metrics
    old = dataclasses.replace(package, meta=package.meta.model_copy(update={"calibration": None}))
    raw = window_of(old, spec, part, labels)
    calibrated = window_of(package, spec, part, labels)
    assert raw.metrics["expected.roc_auc"] is not None
    assert raw.metrics["expected.accuracy"] != calibrated.metrics["expected.accuracy"]


def test_a_regression_window_estimates_its_error_from_the_validation_residuals(
    regression: tuple[Store, Spec], flights: pl.DataFrame
) -> None:
    store, spec = regression
    package = load_package(store, "flights@1")
    assert package.meta.error_model is not None and package.meta.calibration is None
    assert ErrorModel.from_dict(package.meta.error_model).rows > 0
    part = unseen_rows(flights, store, spec, 3_000, seed=4)
    window = window_of(package, spec, part, part[spec.target].to_list())
    m = window.metrics
    for name in ("mae", "rmse"):
        low, value, high = (
            m[f"expected.{name}_low"],
            m[f"expected.{name}"],
            m[f"expected.{name}_high"],
        )
        assert low is not None and value is not None and high is not None
        assert 0 < low <= value <= high
        assert m[f"estimate_outside.{name}"] in (0.0, 1.0)
    assert m["quality.mae"] == pytest.approx(m["expected.mae"], rel=0.25)
    shifted = window_of(package, spec, part, [v + 15.0 for v in part[spec.target].to_list()])
    assert shifted.metrics["estimate_outside.mae"] == 1.0  # 15 °F off: the error model cannot know


def test_meta_with_a_calibration_reads_back_and_writes_it(binary: tuple[Store, Spec]) -> None:
    store, _ = binary
    meta = load_package(store, "flights@1").meta
    again = type(meta).from_json(meta.model_dump(), ref="flights@1")
    assert again.calibration == meta.calibration
    assert "error_model" not in meta.model_dump()  # unset keys stay out of meta.json


def test_the_quality_chart_shades_the_interval_and_marks_windows_the_labels_left(
    binary: tuple[Store, Spec], flights: pl.DataFrame
) -> None:
    store, spec = binary
    package = load_package(store, "flights@1")
    part = unseen_rows(flights, store, spec, 1_000, seed=5)
    labels = part[spec.target].to_list()
    agree = window_of(package, spec, part, labels)
    flipped = window_of(package, spec, part, [not v for v in labels])
    flipped = dataclasses.replace(flipped, start=agree.start + timedelta(hours=1))
    charts = {ident: figure for ident, _, figure in figures(spec, [agree, flipped], [])}
    traces = charts["quality"]["data"]
    shaded = [t for t in traces if t.get("fill") == "tonexty"]
    assert shaded and shaded[0]["y"] == [agree.metrics["expected.roc_auc_high"],
                                        flipped.metrics["expected.roc_auc_high"]]  # fmt: skip
    marked = [t for t in traces if "outside" in t["name"]]
    assert marked and marked[0]["x"] == [flipped.start.isoformat()]
    other = [t["name"] for t in charts.get("quality-all", {"data": []})["data"]]
    assert "expected.roc_auc_low" not in other  # the band, not two more lines
