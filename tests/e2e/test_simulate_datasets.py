"""``simulate`` with the defaults on the bundled time-ordered datasets besides flights: a
project as ``loopml init`` proposes it for the early years, then the later years replayed.

- weekly (S&P 500 direction, 1990–2010): the time column is an integer year, which init reads
  as dates; no model meets the proposed target, so the project has no champion;
- chicago (Clark/Lake ridership, 2012–2014 to train, 2015–2016 replayed; the short training
  span keeps the test quick): a regression on daily rows whose months hold too few rows, so the
  replay picks a coarser window.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest

from loopml.datasets import chicago, weekly
from loopml.loop.replay_result import POLICIES, Simulation
from loopml.loop.simulate import simulate
from tests.support.projects import project_store
from tests.support.replays import proposed_project


def _replayed(root: Path, spec: Any, later: pl.DataFrame) -> Simulation:
    with project_store(root) as store:
        return simulate(store, spec, later)


@pytest.fixture(scope="module")
def weekly_replay(tmp_path_factory: pytest.TempPathFactory) -> Simulation:
    root = tmp_path_factory.mktemp("weekly")
    data = weekly()
    spec = proposed_project(
        root, data.filter(pl.col("Year") <= 2000), name="weekly", target="Direction",
        time_column="Year", candidates=["linear", "lightgbm"],
    )  # fmt: skip
    return _replayed(root, spec, data.filter(pl.col("Year") > 2000))


@pytest.fixture(scope="module")
def chicago_replay(tmp_path_factory: pytest.TempPathFactory) -> Simulation:
    root = tmp_path_factory.mktemp("chicago")
    data = chicago()
    year = pl.col("date").dt.year()
    spec = proposed_project(
        root, data.filter(year.is_between(2012, 2014)), name="chicago", target="ridership",
        candidates=["lightgbm"],
    )  # fmt: skip
    return _replayed(root, spec, data.filter(year > 2014))


def _explained(sim: Simulation) -> None:
    """Every window but the last says what the loop saw and decided; retrains carry the gate's
    numbers; the means are row-weighted; the recovered share comes with its interval."""
    assert all(w.loop is not None for w in sim.windows[:-1]) and sim.windows[-1].loop is None
    for w in sim.windows[:-1]:
        assert w.loop is not None and w.loop.plan in ("retrain", "wait", "none") and w.loop.reason
        if w.loop.outcome in ("deployed", "rejected"):
            assert w.loop.model and w.loop.model.startswith(
                f"{w.models['never'].split('@')[0]}@sim-"
            )
            assert w.loop.gate and all(
                {"check", "value", "threshold", "passed"} <= set(c) for c in w.loop.gate
            )
    for policy in POLICIES:
        rows = sum(w.scored for w in sim.windows)
        weighted = sum(w.quality[policy] * w.scored for w in sim.windows) / rows  # type: ignore[operator]
        assert sim.mean(policy) == pytest.approx(weighted)
    assert sim.recovery is not None
    gap, gain = sim.recovery.gap, sim.recovery.gain
    assert gap.low is not None and gap.high is not None and gap.low <= gap.high
    assert gain.low is not None and gain.high is not None and gain.low <= gain.high
    if sim.recovery.gap_significant:
        assert sim.recovery.share is not None and sim.recovery.share.low is not None
    else:
        assert sim.recovery.share is None and "gains nothing beyond noise" in sim.recovery.verdict
    payload = orjson.loads(orjson.dumps(sim.to_dict()))
    assert payload["recovery"]["resampling"] == "rows within windows, paired across policies"
    assert len(payload["windows"]) == len(sim.windows)


def test_weekly_replays_with_the_defaults_in_windows_of_years(
    weekly_replay: Simulation,
) -> None:
    sim = weekly_replay
    assert sim.champion == "weekly@1" and "has no champion" in sim.starts
    # the years are read as dates (init's time_format %Y); months would hold 52 rows each,
    # under min_samples, so the replay picks a coarser window and says why
    assert sim.windowing["timed"] is True and sim.windowing["every"] == "2y"
    assert "monthly ones would be" in sim.windowing["note"]
    assert sum(w.rows for w in sim.windows) == 521
    for w in sim.windows:
        assert w.start is not None and w.start >= "2000" and w.label.startswith("20")
    assert "1970" not in orjson.dumps(sim.to_dict()).decode()
    _explained(sim)


def test_chicago_replays_with_the_defaults_in_a_window_that_fits(
    chicago_replay: Simulation,
) -> None:
    sim = chicago_replay
    assert sim.metric == "rmse" and sim.champion == "chicago@1"
    assert sim.starts == "the project's champion"
    assert (
        sim.windowing["every"] == "6mo"
        and "monthly ones would be 20 windows" in (sim.windowing["note"])
    )
    assert [w.label for w in sim.windows] == [
        "2015-01-01",
        "2015-07-01",
        "2016-01-01",
        "2016-07-01",
    ]
    assert min(w.scored for w in sim.windows[:-1]) >= 100
    _explained(sim)


def test_simulate_names_the_projects_champion_and_prints_no_made_up_dates(
    tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A project whose champion is its second version: the replay starts from it and says so."""
    data = weekly()
    proposed_project(
        tmp_path, data.filter(pl.col("Year") <= 2008), name="weekly", target="Direction",
        time_column="Year", candidates=["linear"], versions=2,
    )  # fmt: skip
    with project_store(tmp_path) as store:
        store.models.set_alias("weekly", "champion", 2)
    later = tmp_path / "later.parquet"
    data.filter(pl.col("Year") > 2008).write_parquet(later)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "240")  # a table row per window, unwrapped
    code, out, err = cli("simulate", str(later), "--window-rows", "40")
    assert code == 0, err
    text = " ".join(out.split())
    assert "every policy starts from weekly@2 (the project's champion)" in text
    # init reads the integer years as dates (time_format %Y): row windows are named by the
    # year their first row falls in, never by a made-up date
    assert "windows of 40 rows (asked)" in text and "no dates" not in text
    assert "│ 2009-01-01 │ 40 │" in text and "│ 2010-01-01 │ 24 │" in text
    assert "1970" not in out and "mean (row-weighted)" in text
    assert "oracle − never" in text and "95% interval" in text
