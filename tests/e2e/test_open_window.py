"""The open window is monitored (issue 13, item 2): a real server logs predictions of real
flights, and a pass computes the window that has not closed yet — stored as partial, replaced
when it closes — fires an alert on it once it holds ``min_samples`` rows past a threshold (not
before, and not twice when the closed window confirms it), and says why when it computed none."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from loopml.monitoring import monitor
from loopml.monitoring.windows import Windowing, compute_windows
from loopml.reports.monitor_charts import figures
from loopml.reports.monitor_report import build
from loopml.spec import parse_spec
from loopml.store import Store
from loopml.ui.pages import window_summary
from tests.support.projects import FLIGHTS_SPEC, project_store, trained_project
from tests.support.servers import send, start

SPEC = (
    FLIGHTS_SPEC
    + """\
metric: {name: roc_auc}
model: {candidates: [lightgbm]}
monitoring:
  window: 1h
  min_samples: 200
"""
)


def _clear_of_the_hour(margin: int = 150) -> None:
    """Wait until the rows a test sends cannot straddle an hour boundary."""
    left = 3600 - time.time() % 3600
    if left < margin:
        time.sleep(left + 1)


def _faulty(frame: pl.DataFrame) -> pl.DataFrame:
    """Half of ``temp`` missing: ``missing_increase.temp`` ≈ 0.5, far past its 0.05 rule."""
    return frame.with_columns(
        pl.when(pl.int_range(pl.len()) % 2 == 0).then(None).otherwise(pl.col("temp")).alias("temp")
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, flights: pl.DataFrame) -> Path:
    q1 = flights.filter(pl.col("month") <= 3)
    return trained_project(tmp_path_factory.mktemp("openwin"), SPEC, q1.gather_every(5))


@pytest.fixture(scope="module")
def store(project: Path) -> Iterator[Store]:
    with project_store(project) as opened:
        yield opened


@pytest.fixture(scope="module")
def rows(flights: pl.DataFrame) -> pl.DataFrame:
    """Rows training never saw, from its period."""
    return flights.filter(pl.col("month") <= 3).gather_every(5, offset=2).sample(600, seed=4)


def test_nothing_computed_says_why(
    tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "loopml.yaml").write_text(SPEC)
    with project_store(empty):  # a store, but no prediction logged
        pass
    monkeypatch.chdir(empty)
    monkeypatch.setenv("LOOPML_HOME", str(empty / ".loopml"))
    code, out, _ = cli("monitor", "run")
    said = " ".join(out.split())
    assert code == 0 and "0 window(s) computed: no prediction of 'flights' logged" in said
    assert "send requests to 'loopml serve'" in said
    code, out, _ = cli("monitor", "status")
    assert code == 0 and "no windows yet: no prediction of 'flights' logged" in " ".join(
        out.split()
    )


def test_the_open_window_alerts_once_it_holds_min_samples(
    project: Path,
    store: Store,
    rows: pl.DataFrame,
    cli: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spec = parse_spec(SPEC)
    folder = project / ".loopml" / "artifacts" / "predictions"
    monkeypatch.chdir(project)
    monkeypatch.setenv("LOOPML_HOME", str(project / ".loopml"))
    _clear_of_the_hour()
    server = start(project)
    try:
        send(server, _faulty(rows.head(150)), labels=False)
        time.sleep(0.5)  # the log's flush interval is 200 ms
        code, out, _ = cli("monitor", "status")  # logged, but no pass ran yet
        said = " ".join(out.split())
        assert code == 0 and "no windows stored yet: 150 predictions logged" in said, said
        assert "'loopml monitor run'" in said

        code, out, _ = cli("monitor", "run")
        said = " ".join(out.split())
        closes = (datetime.now(UTC) + timedelta(hours=1)).strftime("%H:00")
        assert "1 window(s) computed, 1 still open (partial)" in said, said
        assert f"150 predictions in the 1h window that closes at {closes} UTC" in said
        assert "alerts on it wait for 200 rows (50 more)" in said
        assert "no alert fired" in said  # 150 rows < min_samples: not yet
        (stored,) = store.monitoring.list_windows(spec.name)
        assert stored.partial and stored.rows == 150 and stored.size == "1h"
        assert stored.metrics["missing_increase.temp"] > 0.4
        assert stored.end == stored.start + timedelta(hours=1)
        assert stored.metrics["throughput_rps"] > 150 / 3600  # over the time it was open
        code, out, _ = cli("monitor", "status")
        assert code == 0 and "partial" in out and "150" in out

        send(server, _faulty(rows.slice(150, 100)), labels=False)
        time.sleep(0.5)
    finally:
        server.stop()
    second = monitor.run(store, spec, folder)
    (grown,) = store.monitoring.list_windows(spec.name)  # the same window, replaced
    assert grown.partial and grown.rows == 250 and grown.start == stored.start
    missing = [a for a in second.alerts if a.metric == "missing_increase"]
    assert [a.feature for a in missing] == ["temp"]
    alert = missing[0]
    assert alert.evidence["partial"] is True and alert.evidence["rows"] == 250
    assert monitor.run(store, spec, folder).alerts == []  # the open window never fires twice

    closed_at = grown.end + timedelta(seconds=1)
    closed = monitor.run(store, spec, folder, until=closed_at)
    assert closed.alerts == []  # confirmed, not fired again
    (final,) = store.monitoring.list_windows(spec.name)
    assert not final.partial and final.rows == 250 and final.start == grown.start
    assert final.metrics["throughput_rps"] == pytest.approx(250 / 3600)
    again = [a for a in store.monitoring.list_alerts() if a.metric == "missing_increase"]
    assert [a.id for a in again] == [alert.id]
    assert again[0].evidence["partial"] is False


def test_count_windows_have_a_partial_last_window(
    project: Path, store: Store, rows: pl.DataFrame
) -> None:
    spec = parse_spec(SPEC)
    folder = project / ".loopml" / "artifacts" / "predictions"
    cut = Windowing(rows=300)
    mark = datetime.now(UTC)
    server = start(project)
    try:
        send(server, rows.slice(250, 250), labels=False)
        time.sleep(0.5)
        first = compute_windows(store, spec, folder, since=mark, windowing=cut)
        send(server, rows.slice(500, 100), labels=False)
        time.sleep(0.5)
    finally:
        server.stop()
    assert [(w.rows, w.partial) for w in first] == [(250, True)]
    store.monitoring.add_windows(first)
    later = compute_windows(store, spec, folder, since=mark, windowing=cut)
    assert [(w.rows, w.partial) for w in later] == [(300, False), (50, True)]
    assert later[0].start == first[0].start  # the open window, now full, under its key
    store.monitoring.add_windows(later)
    stored = store.monitoring.list_windows(spec.name, size="300rows")
    assert [(w.rows, w.partial) for w in stored] == [(300, False), (50, True)]
    # shown as partial: a hollow last point on every chart, a line in the report and dashboard
    charts = {ident: figure for ident, _, figure in figures(spec, stored, [])}
    (rows_line, *_) = charts["traffic"]["data"]
    assert rows_line["marker"]["symbol"] == ["circle", "circle-open"]
    assert "partial: still open (50 rows so far)" in rows_line["hovertext"]
    assert charts["drift"]["data"][0]["marker"]["symbol"][-1] == "circle-open"
    summary = dict(build(spec, stored, [], None).summary)
    assert summary["windows"] == "2 (300rows; 1 open, partial)"
    assert summary["open window"].startswith("partial: 50 of 300 predictions since")
    assert dict(window_summary(spec, stored[-1]))["partial"] == summary["open window"]
    assert "partial" not in dict(window_summary(spec, stored[0]))
