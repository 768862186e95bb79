"""The time column read into dates or refused (:mod:`loopml.data.times`): property tests for
round trips through common forms, the order they keep, and the refusal of what cannot be
ordered; the spec's ``time_format`` validated when the spec is loaded."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loopml.data.times import infer_time_format, parse_times, read_times, with_time_column
from loopml.errors import DataError, SpecError
from loopml.spec import parse_spec

MONTHS = st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 1)).map(
    lambda d: d.replace(day=1)
)
DAYS = st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31))
#: (pattern, what the pattern keeps of a date) for forms whose text cannot be read two ways
UNAMBIGUOUS = [
    ("%b-%Y", lambda d: d.replace(day=1)),
    ("%B %Y", lambda d: d.replace(day=1)),
    ("%Y-%m", lambda d: d.replace(day=1)),
    ("%Y", lambda d: d.replace(month=1, day=1)),
    ("%Y-%m-%d", lambda d: d),
    ("%d %b %Y", lambda d: d),
]
SPEC = "name: p\ntask: binary\ntarget: y\nfeatures: {numeric: [x]}\nmetric: {name: roc_auc}\n"


@settings(max_examples=60, deadline=None)
@given(days=st.lists(DAYS, min_size=1, max_size=40), form=st.sampled_from(UNAMBIGUOUS))
def test_text_in_a_common_form_reads_back_as_its_dates(days: list[date], form: tuple) -> None:
    pattern, kept = form
    values = pl.Series("period", [d.strftime(pattern) for d in days])
    rule = infer_time_format(values)
    assert rule is not None
    parsed = parse_times(values, rule)
    assert parsed.to_list() == [kept(d) for d in days]
    # the order of the dates is the order of the values read: no text sort
    expected = sorted(range(len(days)), key=lambda i: (kept(days[i]), i))
    assert np.argsort(parsed.to_numpy(), kind="stable").tolist() == expected


@settings(max_examples=60, deadline=None)
@given(
    days=st.lists(DAYS, min_size=1, max_size=40),
    digits=st.sampled_from(["%Y", "%Y%m", "%Y%m%d"]),
    nulls=st.integers(0, 3),
)
def test_integer_years_and_dates_read_by_their_digits(
    days: list[date], digits: str, nulls: int
) -> None:
    values = pl.Series("period", [int(d.strftime(digits)) for d in days] + [None] * nulls)
    rule = infer_time_format(values)
    assert rule == digits
    parsed = parse_times(values, rule).to_list()
    kept = {
        "%Y": lambda d: d.replace(month=1, day=1),
        "%Y%m": lambda d: d.replace(day=1),
        "%Y%m%d": lambda d: d,
    }[digits]
    assert parsed == [kept(d) for d in days] + [None] * nulls
    # floats holding whole numbers (a CSV column with a gap) read the same
    assert parse_times(values.cast(pl.Float64), rule).to_list() == parsed


@settings(max_examples=60, deadline=None)
@given(
    moments=st.lists(
        st.datetimes(min_value=datetime(1974, 1, 1), max_value=datetime(2280, 1, 1)),
        min_size=1,
        max_size=40,
    ),
    unit=st.sampled_from(["epoch_s", "epoch_ms"]),
)
def test_epoch_numbers_read_back_as_their_moments(moments: list[datetime], unit: str) -> None:
    scale = 1 if unit == "epoch_s" else 1000
    stamps = [int(m.replace(tzinfo=UTC).timestamp()) * scale for m in moments]
    values = pl.Series("ts", stamps)
    assert infer_time_format(values) == unit
    assert parse_times(values, unit).to_list() == [m.replace(microsecond=0) for m in moments]
    as_text = values.cast(pl.String)  # a CSV column read as text reads the same
    assert infer_time_format(as_text) == unit
    assert parse_times(as_text, unit).equals(parse_times(values, unit))


@settings(max_examples=60, deadline=None)
@given(days=st.lists(DAYS.filter(lambda d: d.day <= 12), min_size=1, max_size=20))
def test_day_month_order_is_never_guessed(days: list[date]) -> None:
    values = pl.Series("when", [d.strftime("%d/%m/%Y") for d in days])
    if all(d.day == d.month for d in days):
        # both readings agree: nothing to guess
        assert parse_times(values, infer_time_format(values) or "").to_list() == days
        return
    with pytest.raises(DataError, match="ambiguous") as info:
        infer_time_format(values)
    assert "--time-format" in str(info.value)
    # named, the rule reads the values exactly
    assert read_times(values, "%d/%m/%Y").to_list() == days


WORDS = st.text(alphabet="qwrtzxvkl", min_size=3, max_size=10)


@settings(max_examples=60, deadline=None)
@given(words=st.lists(WORDS, min_size=1, max_size=10))
def test_text_that_is_no_date_is_refused_with_what_was_seen(words: list[str]) -> None:
    values = pl.Series("season", words)
    with pytest.raises(DataError) as info:
        infer_time_format(values)
    message = str(info.value)
    assert "time column 'season' cannot be ordered as dates" in message
    assert repr(words[0]) in message  # what was seen
    assert "expected dates" in message and "--time-format" in message  # and how to fix it


@settings(max_examples=60, deadline=None)
@given(periods=st.lists(st.integers(-999, 999), min_size=1, max_size=20))
def test_period_numbers_are_refused_not_taken_for_dates(periods: list[int]) -> None:
    with pytest.raises(DataError, match="cannot be ordered as dates"):
        infer_time_format(pl.Series("period", periods))


def test_a_mixed_column_is_refused_with_the_closest_form() -> None:
    values = pl.Series("month", ["2018-01-01", "2018-02-01", "Mar-2018"])
    with pytest.raises(DataError, match=r"closest form, '%Y-%m-%d', reads 2 of 3"):
        infer_time_format(values)
    with pytest.raises(DataError, match=r"cannot read 1 of 3 values \(e\.g\. row 3: 'Mar-2018'\)"):
        read_times(values, "%Y-%m-%d")
    with pytest.raises(DataError, match="do not order rows across days"):
        infer_time_format(pl.Series("at", [datetime(2020, 1, 1, 10).time()]))
    assert infer_time_format(pl.Series("at", [date(2020, 1, 1)])) is None


def test_the_spec_records_the_rule_and_frames_are_read_by_it() -> None:
    spec = parse_spec(SPEC + "time_column: month\ntime_format: '%b-%Y'\n")
    frame = pl.DataFrame({"month": ["Feb-2018", "Jan-2018", None], "x": [1, 2, 3]})
    read = with_time_column(frame, spec)
    assert read["month"].to_list() == [date(2018, 2, 1), date(2018, 1, 1), None]
    assert with_time_column(read, spec).equals(read)  # dates already: left as they are
    with pytest.raises(SpecError, match=r"time_format: .*expected epoch_s, epoch_ms or a strftime"):
        parse_spec(SPEC + "time_column: month\ntime_format: monthly\n")
    with pytest.raises(SpecError, match=r"unknown directive\(s\) %Q"):
        parse_spec(SPEC + "time_column: month\ntime_format: '%Y-%Q'\n")


def test_a_long_column_is_read_whole_not_by_its_sample() -> None:
    days = pl.date_range(date(1950, 1, 1), date(2010, 12, 31), eager=True)  # 22,280 values
    values = days.dt.strftime("%d/%m/%Y").alias("when")
    assert infer_time_format(values) == "%d/%m/%Y"
    assert parse_times(values, "%d/%m/%Y").equals(days.alias("when"))
    # one value among thousands that no form reads: refused, with how far the closest got
    for at in (0, 20_000):
        spoiled = pl.concat([values.head(at), pl.Series("when", ["1/1/1970?"]), values.slice(at)])
        with pytest.raises(DataError, match=r"closest form, '%d/%m/%Y', reads [\d,]+ of [\d,]+"):
            infer_time_format(spoiled)
