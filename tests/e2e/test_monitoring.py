"""Monitoring end to end: a real server logs predictions of real flights, labels come back as
feedback, and `monitor run` computes windows, finds drift and missing values, and fires alerts
(stored, and posted to a real webhook on 127.0.0.1)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from loopml.monitoring import alerts, monitor
from loopml.registry import load_package
from loopml.spec import AlertRule, parse_spec
from loopml.store import Store
from tests.support.monitoring import Webhook, held_out_start
from tests.support.pages import open_page
from tests.support.projects import FLIGHTS_SPEC, project_store, trained_project
from tests.support.servers import send, start

SPEC = (
    FLIGHTS_SPEC
    + """\
metric: {name: roc_auc, target: 0.6}
model: {candidates: [lightgbm]}
slices: [{name: origin, column: origin}]
monitoring:
  window_rows: 500
  min_samples: 200
"""
)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, flights: pl.DataFrame) -> Path:
    q1 = flights.filter(pl.col("month") <= 3)
    return trained_project(tmp_path_factory.mktemp("monitor"), SPEC, q1.gather_every(5))


@pytest.fixture(scope="module")
def store(project: Path) -> Iterator[Store]:
    with project_store(project) as opened:
        yield opened


@pytest.fixture(scope="module")
def spec() -> Any:
    return parse_spec(SPEC)


def test_monitoring_sees_drift_missing_values_and_quality(
    project: Path, store: Store, spec: Any, flights: pl.DataFrame
) -> None:
    folder = project / ".loopml" / "artifacts" / "predictions"
    # rows training never saw, from the held-out period (the validation and test splits' span:
    # drift's reference), drawn across it (a few days' flights would have a few days' weather:
    # that is drift too)
    q1 = flights.filter(pl.col("month") <= 3)
    held_out_from = held_out_start(store, q1.gather_every(5))
    q1_held_out = (
        q1.gather_every(5, offset=2)
        .filter(pl.col("scheduled_departure") >= held_out_from)
        .sample(1000, seed=1)
    )
    july = flights.filter(pl.col("month") == 7).sample(1000, seed=2)
    faulty = flights.filter(pl.col("month") <= 3).gather_every(5, offset=3).sample(500, seed=3)
    faulty = faulty.with_columns(
        pl.when(pl.int_range(pl.len()) % 2 == 0).then(None).otherwise(pl.col("temp")).alias("temp")
    )
    server = start(project)
    try:
        send(server, q1_held_out)  # windows 1-2: like training
    finally:
        server.stop()
    quiet = monitor.run(store, spec, folder)
    assert len(quiet.windows) == 2 and all(w.rows == 500 for w in quiet.windows)
    assert not [a for a in quiet.alerts if a.metric == "drift"], [a.rule for a in quiet.alerts]
    window = quiet.windows[0]
    assert window.metrics["label_coverage"] == 1.0
    assert 0.55 < window.metrics["quality.roc_auc"] < 0.9
    assert 0.5 < window.metrics["expected.roc_auc"] < 0.9  # estimated beside the labelled figure
    assert window.details["slices"]["origin"]  # quality per slice
    assert window.metrics["missing_fraction.temp"] < 0.05

    server = start(project)
    try:
        send(server, july)  # windows 3-4: summer
        send(server, faulty)  # window 5: half of temp missing
    finally:
        server.stop()
    result = monitor.run(store, spec, folder)
    fired = {(a.metric, a.feature) for a in result.alerts}
    assert ("drift", "temp") in fired  # seasonal drift
    assert ("missing_increase", "temp") in fired  # the fault, within one window
    missing = next(a for a in result.alerts if a.metric == "missing_increase")
    assert missing.value > 0.4 and missing.evidence["rows"] == 500
    quiet_end = quiet.windows[-1].end.isoformat()
    assert not [a for a in result.alerts if a.evidence["window_start"] < quiet_end]
    assert monitor.run(store, spec, folder).alerts == []  # the same windows never fire twice
    assert len(store.monitoring.list_windows(spec.name)) == 5


def test_rules_need_consecutive_windows_and_respect_min_samples(store: Store, spec: Any) -> None:
    windows = store.monitoring.list_windows(spec.name)
    rule = AlertRule(metric="drift", feature="temp", threshold=0.5, consecutive=2, min_samples=1)
    fired = alerts.evaluate(windows, [rule], [])
    assert len(fired) == 1 and fired[0].evidence["consecutive"][0]["value"] == 1.0
    too_big = AlertRule(metric="drift", feature="temp", threshold=0.5, min_samples=10_000)
    assert alerts.evaluate(windows, [too_big], []) == []


def test_webhook_gets_a_slack_style_post_after_retries(store: Store) -> None:
    alert = store.monitoring.list_alerts(limit=1)[0]
    hook = Webhook(fail=2)
    try:
        assert alerts.notify_webhook(hook.url, alert, timeout=2, retries=3)
        assert hook.attempts == 3 and len(hook.received) == 1
        body = hook.received[0]
        assert body["alert"]["id"] == alert.id and alert.rule in body["text"]
    finally:
        hook.close()
    down = Webhook(fail=10)
    try:
        assert not alerts.notify_webhook(down.url, alert, timeout=1, retries=1)
        assert down.attempts == 2
    finally:
        down.close()


def test_monitor_and_alert_commands(
    project: Path, cli: Any, monkeypatch: pytest.MonkeyPatch, store: Store
) -> None:
    monkeypatch.chdir(project)
    monkeypatch.setenv("LOOPML_HOME", str(project / ".loopml"))
    code, out, _ = cli("monitor", "status")
    assert code == 0 and "monitoring windows" in out and "temp" in out
    code, out, _ = cli("alerts", "list")
    assert code == 0 and "alerts" in out
    code, out, _ = cli("alerts", "list", "--json")
    assert code == 0 and "missing_increase" in {a["metric"] for a in json.loads(out)}
    first = store.monitoring.list_alerts(status="open")[-1]
    code, out, _ = cli("alerts", "ack", str(first.id))
    assert code == 0 and f"acknowledged alert {first.id}" in out
    code, _, err = cli("alerts", "ack", str(first.id))
    assert code == 2 and "already acknowledged" in err
    code, _, err = cli("monitor", "run", "--since", "yesterday")
    assert code == 2 and "--since" in err
    code, out, _ = cli("monitor", "run", "--since", "1d", "--json")
    assert code == 0 and json.loads(out)["windows"] == 5


def test_monitor_report_draws_every_chart_offline(
    project: Path, cli: Any, monkeypatch: pytest.MonkeyPatch, browser: Any
) -> None:
    monkeypatch.chdir(project)
    monkeypatch.setenv("LOOPML_HOME", str(project / ".loopml"))
    code, out, _ = cli("report", "monitor", "--json")
    assert code == 0
    path = Path(json.loads(out)["report"])
    html = path.read_text()
    assert "drifted features" in html and "temp" in html
    page, problems, requests = open_page(browser, path)
    page.wait_for_function(
        "document.querySelectorAll('.js-plotly-plot').length >= 6", timeout=30_000
    )
    assert not problems
    assert all(url.startswith("file://") for url in requests)
    assert page.locator("#drift .scatterlayer .trace").count() > 5  # one line per feature
    assert page.locator("#dist-temp .scatterlayer .trace").count() == 2  # training vs window
    assert page.locator("#alerts tbody tr").count() >= 2


def test_the_server_exposes_the_latest_window_as_gauges(project: Path) -> None:
    server = start(project)
    try:
        wanted = 'loopml_window_metric{metric="missing_increase.temp",model_version="flights@1"}'
        deadline = time.monotonic() + 15
        text = ""
        while wanted not in text and time.monotonic() < deadline:
            time.sleep(0.3)
            text = server.client.get("/metrics").text
        assert wanted in text
    finally:
        server.stop()


def test_replaying_the_held_out_rows_raises_no_alarm(
    store: Store, spec: Any, flights: pl.DataFrame
) -> None:
    """No alarm on no change: the champion's own held-out rows (drift's reference, scored at
    registration), replayed shuffled in windows of 500 and in time order as one window, fire
    no alert at the default rules (drift, target and prior shift, quality...) — by
    construction, whatever the data."""
    from datetime import UTC, datetime, timedelta

    from loopml.loop.simulate import _monitor as window_of  # the server's window, from rows

    trained = flights.filter(pl.col("month") <= 3).gather_every(5).sort("scheduled_departure")
    package = load_package(store, "flights@champion")
    sizes = package.meta.lineage.sizes
    assert sizes is not None
    held_out = trained.slice(sizes["train"])
    assert held_out.height == sizes["validation"] + sizes["test"]
    start = datetime(2024, 1, 1, tzinfo=UTC)
    shuffled = held_out.sample(fraction=1.0, shuffle=True, seed=5)
    windows = [
        window_of(shuffled.slice(i, 500), package, spec, start + timedelta(hours=i), start)
        for i in range(0, shuffled.height - 499, 500)
    ]
    windows.append(window_of(held_out, package, spec, start, start + timedelta(hours=1)))
    fired = alerts.evaluate(windows, alerts.rules_of(spec), [])
    assert [(f.rule.metric, f.key, f.value) for f in fired] == []  # no rule at all: no change
    shifts = [w.metrics["label_shift"] for w in windows]
    assert shifts and all(s is not None and s < 0.25 for s in shifts), shifts
    whole = windows[-1].details["drift"]
    assert all(d["psi"] < 0.01 for d in whole), whole  # the reference's own rows
