"""How the replay cuts its windows: monthly when months fit, a coarser interval when they do not,
rows in order when the time column holds no dates (named by rows, never by made-up dates)."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loopml.datasets import chicago, weekly
from loopml.errors import DataError
from loopml.loop.replay_windows import MAX_WINDOWS, clock, cut, untimed_policy
from loopml.spec import Spec, parse_spec


def spec_of(time: str | None, target: str = "y", min_samples: int = 100) -> Spec:
    return parse_spec(
        f"name: t\ntask: regression\ntarget: {target}\ntime_column: {time or 'null'}\n"
        f"features: {{numeric: [x]}}\nmetric: {{name: rmse}}\n"
        f"monitoring: {{min_samples: {min_samples}}}\n"
    )


SPECS = {floor: spec_of(None, min_samples=floor) for floor in (1, 7, 50, 100, 200)}


def days(n: int, first: date = date(2020, 1, 1)) -> pl.DataFrame:
    return pl.DataFrame(
        {"day": [first + timedelta(days=i) for i in range(n)], "y": [float(i) for i in range(n)]}
    )


def test_months_that_hold_enough_rows_are_the_default() -> None:
    cuts = cut(days(365 * 2), spec_of("day", min_samples=20), every=None, rows=None)
    assert cuts.every == "1mo" and cuts.timed and cuts.note == "monthly windows (the default)"
    assert [w.label for w in cuts.windows[:2]] == ["2020-01-01", "2020-02-01"]


def test_daily_rows_over_years_get_a_coarser_window_and_say_why() -> None:
    """Chicago, 2009–2016: 100 monthly windows of about 30 days each are too many and too small;
    the replay takes the first interval whose windows hold min_samples rows, at most 24."""
    later = chicago(years=range(2009, 2017))
    cuts = cut(later, spec_of("date", "ridership"), every=None, rows=None)
    assert cuts.every == "6mo" and cuts.timed
    assert len(cuts.windows) <= MAX_WINDOWS
    assert "monthly ones would be 92 windows of median 31 rows" in cuts.note
    assert "needs 100 labelled rows (monitoring.min_samples)" in cuts.note
    assert sum(w.rows.height for w in cuts.windows) == later.height


def test_an_integer_year_gets_row_windows_named_by_rows_and_years_not_dates() -> None:
    later = weekly(years=range(2001, 2011))
    cuts = cut(later, spec_of("Year", "Direction"), every=None, rows=None)
    assert cuts.size is not None and not cuts.timed and cuts.every is None
    assert cuts.note.startswith("5 windows of 104+ rows")
    assert "'Year' holds values of type Int64, not dates or times" in cuts.note
    assert "cooldown, weekly budget and schedule (counted in time) are not applied" in cuts.note
    assert all(w.start is None and w.end is None for w in cuts.windows)
    assert cuts.windows[0].label.startswith("rows 1–") and "(Year 2001–" in cuts.windows[0].label
    assert all("1970" not in w.label for w in cuts.windows)
    assert min(w.rows.height for w in cuts.windows) >= 100  # min_samples each


def test_window_rows_without_dates_give_no_dates_and_a_clock_nobody_sees() -> None:
    frame = pl.DataFrame({"x": list(range(25)), "y": [1.0] * 25})
    cuts = cut(frame, spec_of(None), every=None, rows=10)
    assert [w.label for w in cuts.windows] == ["rows 1–10", "rows 11–20", "rows 21–25"]
    assert not cuts.timed and cuts.to_dict()["rows"] == 10
    begin, end = clock(cuts.windows[1], 2)
    assert end - begin == timedelta(seconds=1)  # stand-in, never shown, counted in nothing
    policy = untimed_policy(spec_of(None).retrain)
    assert policy.cooldown == timedelta(0) and policy.max_per_week > 10**6


def test_window_rows_with_dates_keep_the_real_dates() -> None:
    cuts = cut(days(50), spec_of("day"), every=None, rows=20)
    assert cuts.timed and [w.label for w in cuts.windows] == [
        "2020-01-01", "2020-01-21", "2020-02-10",
    ]  # fmt: skip


def test_an_interval_on_a_column_without_dates_is_refused_with_the_fix() -> None:
    with pytest.raises(DataError, match="got values of type Int64: pass --window-rows"):
        cut(weekly(), spec_of("Year", "Direction"), every="1y", rows=None)
    with pytest.raises(DataError, match="expected an interval such as 1mo"):
        cut(days(10), spec_of("day"), every="fortnight", rows=None)


DAY = spec_of("day")


@given(st.integers(1, 400), st.integers(1, 60), st.booleans())
@settings(max_examples=80, deadline=None)
def test_row_windows_partition_the_rows_in_time_order(n: int, size: int, dated: bool) -> None:
    frame = days(n).sample(fraction=1.0, shuffle=True, seed=n)
    if not dated:
        frame = frame.with_columns(pl.col("day").dt.ordinal_day().alias("day"))
    cuts = cut(frame, DAY, every=None, rows=size)
    joined = pl.concat([w.rows for w in cuts.windows])
    assert joined.height == n and joined["day"].is_sorted()
    assert all(w.rows.height <= size for w in cuts.windows)
    assert cuts.timed == dated


@given(st.integers(2, 3000), st.sampled_from(sorted(SPECS)))
@settings(max_examples=80, deadline=None)
def test_chosen_row_windows_hold_min_samples_and_are_bounded(n: int, floor: int) -> None:
    frame = pl.DataFrame({"x": list(range(n)), "y": [0.0] * n})
    cuts = cut(frame, SPECS[floor], every=None, rows=None)
    heights = [w.rows.height for w in cuts.windows]
    assert sum(heights) == n and len(heights) <= MAX_WINDOWS
    if n >= 3 * floor:  # room for three windows of min_samples rows
        assert min(heights) >= floor and len(heights) >= 3
