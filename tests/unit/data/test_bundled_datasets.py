"""The bundled time-ordered datasets besides flights, as their build scripts describe them: in
time order, the documented columns, no leak of the target, and small on disk."""

from __future__ import annotations

import os

import polars as pl

from loopml import datasets


def test_weekly_is_1089_weeks_in_order_without_the_weeks_own_return() -> None:
    frame = datasets.weekly()
    assert frame.height == 1089 and frame.columns == [
        "Year", "Lag1", "Lag2", "Lag3", "Lag4", "Lag5", "Volume", "Direction",
    ]  # fmt: skip
    assert frame["Year"].is_sorted() and (frame["Year"].min(), frame["Year"].max()) == (1990, 2010)
    assert set(frame["Direction"].unique()) == {"Up", "Down"}
    assert "Today" not in frame.columns, "Direction is the sign of Today: a leak"
    # last week's Lag1 is this week's Lag2: the rows are consecutive weeks
    assert frame["Lag1"].head(-1).to_list() == frame["Lag2"].slice(1).to_list()
    assert datasets.weekly(years=[2001]).height == 52
    assert os.path.getsize(datasets.weekly_path()) < 100_000


def test_chicago_is_daily_ridership_with_lags_known_two_weeks_ahead() -> None:
    frame = datasets.chicago()
    assert frame.height == 5698 and frame.width == 50
    assert frame.schema["date"] == pl.Date and frame["date"].is_sorted()
    assert frame["date"].diff().drop_nulls().max() == frame["date"].diff().drop_nulls().min()
    assert frame["Clark_Lake"].slice(14).to_list() == frame["ridership"].head(5698 - 14).to_list()
    assert datasets.chicago(years=[2016])["date"].dt.year().unique().to_list() == [2016]
    assert os.path.getsize(datasets.chicago_path()) < 1_000_000
