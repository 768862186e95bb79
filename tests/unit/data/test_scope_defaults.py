"""`loopml init`'s defaults on real-shaped frames (the bundled flights, with columns of clear
meaning added): the time column read into dates or refused, text versus categorical versus
numeric, time proxies, the project's name, and what validation checks on the target and the
excluded columns."""

from __future__ import annotations

import itertools
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from loopml.data.kinds import column_kind
from loopml.data.naming import project_name
from loopml.data.profiling import profile_frame
from loopml.data.schema import infer_schema
from loopml.data.scope import propose_spec
from loopml.data.validate import validate
from loopml.data.versions import add_frame, load_frame
from loopml.errors import DataError
from loopml.modeling.splits import split_frame
from loopml.spec import parse_spec
from loopml.store import Store


def _months(flights_sample: pl.DataFrame) -> pl.DataFrame:
    """Q1 flights whose only time is the month, written ``Jan-2013`` (text sorts Feb first)."""
    return flights_sample.with_columns(
        period=pl.col("scheduled_departure").dt.strftime("%b-%Y")
    ).drop("scheduled_departure")


def test_month_names_are_read_as_dates_and_the_split_runs_forward(
    flights_sample: pl.DataFrame, store: Store
) -> None:
    frame = _months(flights_sample)
    proposal = propose_spec(frame, target="late", time_column="period")
    spec = proposal.spec
    assert spec.time_column == "period" and spec.time_format == "%b-%Y"
    assert parse_spec(proposal.text).time_format == "%b-%Y"  # written in the spec
    time = next(f for f in proposal.findings if f.role == "time")
    assert "'%b-%Y'" in time.reason
    # found without --time-column too: the first text column in time order
    assert propose_spec(frame, target="late").spec.time_column == "period"

    stored = load_frame(store, add_frame(store, frame, name="months", source="test", spec=spec))
    assert stored["period"].dtype == pl.Date
    split = split_frame(stored, spec, stored["late"].to_numpy())
    periods = stored["period"].to_numpy()
    assert periods[split.train].max() <= periods[split.test].min()
    assert set(stored["period"].gather(split.test).to_list()) == {date(2013, 3, 1)}


def test_integer_years_are_dates_and_an_unorderable_time_column_is_refused(
    flights_sample: pl.DataFrame,
) -> None:
    yearly = flights_sample.with_columns(season=2010 + pl.col("month"))
    assert propose_spec(yearly, target="late", time_column="season").spec.time_format == "%Y"
    numbered = flights_sample.with_columns(week=pl.col("scheduled_departure").dt.week())
    with pytest.raises(DataError) as info:
        propose_spec(numbered, target="late", time_column="week")
    message = str(info.value)
    assert "time column 'week' cannot be ordered as dates" in message and "Int8" in message
    assert "--time-format" in message
    named = propose_spec(numbered, target="late", time_column="week", time_format="%Y")
    with pytest.raises(DataError, match="no year"):
        propose_spec(numbered, target="late", time_column="week", time_format="%m")
    assert named is not None


def test_job_titles_are_text_district_numbers_categorical_and_flags_no_time_proxy(
    flights_sample: pl.DataFrame,
) -> None:
    rng = np.random.default_rng(0)
    n = flights_sample.height
    # job titles as they come: a few common ones, a long tail of variants (Zipf-distributed)
    levels = ["", "Junior ", "Senior ", "Lead ", "Principal ", "Staff ", "Chief ", "Head of "]
    fields = ["Data", "Cloud", "Field", "Sales", "Risk", "Software", "Network", "Product",
              "Marketing", "Finance", "Clinical", "Supply Chain"]  # fmt: skip
    roles = ["Engineer", "Analyst", "Manager", "Scientist", "Consultant", "Architect",
             "Specialist", "Coordinator", "Director", "Technician"]  # fmt: skip
    extra = ["", " II", " III", ", Remote", " (Contract)", ", EMEA", ", APAC"]
    combos = [f"{a}{b} {c}{d}" for a, b, c, d in itertools.product(levels, fields, roles, extra)]
    rng.shuffle(combos)
    weights = 1 / np.arange(1, len(combos) + 1)
    titles = [combos[i] for i in rng.choice(len(combos), n, p=weights / weights.sum())]
    holidays = [date(2013, 1, 1), date(2013, 1, 21), date(2013, 2, 18)]
    frame = flights_sample.with_columns(
        job_title=pl.Series(titles),
        district=pl.Series(rng.integers(1, 26, n)),
        holiday=pl.col("scheduled_departure").dt.date().is_in(holidays).cast(pl.Int64),
    )
    assert frame["job_title"].n_unique() > 3000  # thousands of values, most with few rows
    proposal = propose_spec(frame, target="late")
    spec = proposal.spec
    assert spec.features.text == ["job_title"]
    assert {"district", "engines"} <= set(spec.features.categorical)
    # a one-word code of thousands of values has no words to share: categorical, not text
    assert column_kind(flights_sample["tailnum"]) == ("categorical", "")
    # a calendar part keeps its order; a two-valued flag of dates is no time proxy
    assert {"hour", "day_of_week", "holiday"} <= set(spec.features.numeric)
    flagged = {f.column: f.reason for f in proposal.flagged}
    assert flagged["month"].startswith("time proxy") and flagged["day"].startswith("time proxy")
    assert "holiday" not in flagged
    # slices prefer named categories to integer codes
    assert [s.column for s in spec.slices] == ["carrier", "origin", "plane_type"]


@pytest.mark.parametrize(
    ("source", "target", "name"),
    [
        ("flights/train.csv", "late", "flights_late"),
        ("data/chicago_ridership_2001.csv", "ridership", "chicago_ridership"),
        ("/srv/weekly/data_v2.parquet", "direction", "weekly_direction"),
        ("/tmp/train.csv", "arr-delay", "arr_delay"),
        ("sqlite:///warehouse.db", "churned", "churned"),
        ("flights.csv", "9th", "flights_9th"),
        ("/tmp/2019.csv", "9th", "project_9th"),
    ],
)
def test_a_project_is_named_after_its_data_and_target(source: str, target: str, name: str) -> None:
    assert project_name(source, target) == name
    spec = "task: binary\ntarget: y\nfeatures: {numeric: [x]}\nmetric: {name: roc_auc}\n"
    assert parse_spec(f"name: {name}\n{spec}").name == name  # a name the spec accepts


def test_validation_keeps_to_the_inputs_not_the_target_or_excluded_columns(
    flights: pl.DataFrame, flights_sample: pl.DataFrame
) -> None:
    spec = propose_spec(flights_sample, target="late").spec
    assert {"month", "day", "year"} <= set(spec.features.exclude)
    schema = infer_schema(profile_frame(flights_sample), spec)
    april = flights.filter(pl.col("month") == 4).head(20_000)
    april = april.with_columns(day=pl.lit(None, dtype=pl.Int64))  # an excluded column emptied
    report = validate(april, schema)
    quiet = {"late", *spec.features.exclude}
    assert not [v.message for v in report.violations if v.column in quiet]
    assert any(v.column == "temp" and v.rule == "range" for v in report.violations)
    # the target and excluded columns keep presence and type
    assert not validate(april.drop("late", "month"), schema).ok


def test_init_writes_the_time_format_and_names_the_project(
    flights_sample: pl.DataFrame, tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "flights").mkdir()
    _months(flights_sample).write_csv(tmp_path / "flights" / "train.csv")
    args = ("init", "flights/train.csv", "--target", "late", "--time-column")
    code, out, err = cli(*args, "period")
    assert code == 0, err
    text = (tmp_path / "loopml.yaml").read_text()
    assert "name: flights_late" in text and "time_format: '%b-%Y'" in text
    assert "--name flights_late" in " ".join(out.split())
    code, _, err = cli(*args, "carrier", "--force")
    assert code == 2 and "time column 'carrier' cannot be ordered as dates" in " ".join(err.split())
