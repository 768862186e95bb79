"""A project whose time column is integer years, from `loopml init` to `loopml simulate`: the
spec records how the years are read, the stored data holds dates, and the replay cuts windows
by those dates (it refused such a project: "--window needs the spec's time_column in the data
as dates or times")."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from loopml.data.scope import propose_spec
from loopml.data.versions import add_frame, load_frame
from loopml.loop.simulate import simulate
from loopml.modeling.train import train
from loopml.registry import register
from loopml.spec import Spec, parse_spec
from loopml.store import Store


@pytest.fixture(scope="module")
def yearly(flights: pl.DataFrame) -> pl.DataFrame:
    """Flights in time order, each month standing for a season (2001–2012, integer years)."""
    data = flights.sort("scheduled_departure").gather_every(200)
    return data.with_columns(season=2000 + pl.col("month")).drop(
        "scheduled_departure", "year", "month", "day"
    )


def test_a_project_timed_by_integer_years_simulates_by_those_years(
    yearly: pl.DataFrame, tmp_path: Path
) -> None:
    proposal = propose_spec(yearly, target="late", time_column="season", name="seasons")
    assert proposal.spec.time_format == "%Y"
    text = proposal.text.replace(
        "candidates: [linear, random_forest, lightgbm]", "candidates: [linear]"
    ).replace("  target: 0.7\n", "  target: 0.55\n")  # a champion to replay, if a modest one
    spec: Spec = parse_spec(text)
    store = Store(f"sqlite:///{tmp_path / 'loopml.db'}", tmp_path / "artifacts")
    early = yearly.filter(pl.col("season") <= 2009)
    version = add_frame(store, early, name="seasons", source="test", spec=spec)
    assert load_frame(store, version)["season"].dtype == pl.Date
    register(store, spec, train(store, spec, version))

    later = yearly.filter(pl.col("season") >= 2010)  # as read from the file: integers
    result = simulate(store, spec, later, candidates=["linear"])
    starts = [w.start[:10] for w in result.windows]
    assert starts == ["2010-01-01", "2011-01-01", "2012-01-01"]
    assert [w.rows for w in result.windows] == [
        later.filter(pl.col("season") == year).height for year in (2010, 2011, 2012)
    ]
    assert all(0.5 < (w.quality["never"] or 0) < 1 for w in result.windows)
    assert date(1970, 1, 2).isoformat() not in " ".join(starts)
