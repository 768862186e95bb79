"""The monitoring page answers "is my model all right?" first (issue 13, item 11), for real: a
flights model served by a real `loopml serve`, Q1 flights then July flights (which drift)
logged with their labels, `monitor.run` opening a drift incident, a canary the controller holds
on three looks; then `loopml ui` on 127.0.0.1 driven by headless Chromium.

What a user sees: the verdict and the open incidents before any chart, quality labelled and
estimated with its interval, one chart per question (label coverage on a chart of its own),
chart titles clear of Plotly's toolbar, no legend longer than the bound, features ranked by
importance-weighted drift with a page per feature (its histogram now against the drift
reference, its drift over time), and the audit log's run of holds as one row.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from loopml.data.versions import add_frame
from loopml.modeling.train import train
from loopml.monitoring import monitor
from loopml.predlog import log_folder
from loopml.registry import register
from loopml.reports.monitor_base import LINES
from loopml.rollout import controller
from loopml.spec import Spec, parse_spec
from loopml.store import Store
from tests.support.pages import open_page
from tests.support.projects import FLIGHTS_SPEC, project_store
from tests.support.servers import Server, send, start

SPEC = (
    FLIGHTS_SPEC
    + """\
metric: {name: roc_auc, target: 0.6}
model: {candidates: [lightgbm]}
monitoring:
  window_rows: 500
  min_samples: 200
rollout: {interval: 1s}
"""
)
HOLDS = 3
INTERVAL = re.compile(r"^\d\.\d{4} \(90 % interval (\d\.\d{4})–(\d\.\d{4})\)")


@pytest.fixture(scope="module")
def project(
    tmp_path_factory: pytest.TempPathFactory, flights: pl.DataFrame, flights_sample: pl.DataFrame
) -> Path:
    """Trained on Q1, served Q1 then July flights (labelled), monitored; a canary held."""
    root = tmp_path_factory.mktemp("ui-monitoring")
    (root / "loopml.yaml").write_text(SPEC)
    spec = parse_spec(SPEC)
    with project_store(root) as store:
        version = add_frame(store, flights_sample, name="flights", source="test")
        result = train(store, spec, version)
        register(store, spec, result)
    q1 = flights.filter(pl.col("month") <= 3).gather_every(7, offset=3).sample(1000, seed=1)
    july = flights.filter(pl.col("month") == 7).sample(1000, seed=2)
    server = start(root)
    try:
        send(server, q1)
        send(server, july)
    finally:
        server.stop()
    with project_store(root) as store:
        monitor.run(store, spec, log_folder(store))
        challenger, _ = register(store, spec, result)
        controller.start(store, spec, str(challenger.version), actor="test")
        for look in range(HOLDS):  # no canary traffic yet: each look holds
            if look:
                time.sleep(1.05)
            decision = controller.evaluate(store, spec, log_folder(store), actor="test")
            assert decision is not None and decision.action == "hold", decision
    return root


@pytest.fixture(scope="module")
def store(project: Path) -> Iterator[Store]:
    with project_store(project) as opened:
        yield opened


@pytest.fixture(scope="module")
def spec() -> Spec:
    return parse_spec(SPEC)


@pytest.fixture(scope="module")
def ui(project: Path) -> Iterator[Server]:
    running = start(project, command="ui", ready="/ui/")
    yield running
    running.stop()


def visit(browser: Any, server: Server, path: str) -> tuple[Any, list[str]]:
    """``path`` opened in a new page once its charts are drawn; every problem seen."""
    page, problems, requests = open_page(browser, server.url + path)
    page.wait_for_load_state("load")
    charts = page.locator(".chart").count()
    page.wait_for_function(
        f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {charts}",
        timeout=30_000,
    )
    foreign = [url for url in requests if not url.startswith(server.url + "/")]
    return page, problems + [f"request left the server: {url}" for url in foreign]


def top(page: Any, selector: str) -> float:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, selector
    return float(box["y"])


def test_the_page_leads_with_the_verdict_incidents_and_quality(
    store: Store, ui: Server, browser: Any
) -> None:
    page, problems = visit(browser, ui, "/ui/monitoring")
    assert not problems
    opened = store.incidents.list(deployment="flights", status="open")
    assert opened, "July's drift opened no incident"
    verdict = page.locator("#verdict").inner_text()
    n = len(opened)
    assert verdict.startswith(f"Needs attention: {n} open incident{'s' if n > 1 else ''}")
    rows = page.locator("#open-incidents tbody tr")
    assert rows.count() == n
    drift = next(i for i in opened if i.family == "drift")
    row = page.locator(f"#incident-{drift.id}").inner_text()
    assert drift.title in row  # what
    assert f"{drift.first_window:%Y-%m-%d %H:%M:%S}" in row  # since when
    assert re.search(r"temp: PSI [\d.]+ > 0\.2; training median", row)  # how much
    # first things first: verdict, incidents, quality, then the charts
    lead = ("#verdict", "#open-incidents", "#quality-summary", ".chart-box")
    order = [top(page, selector) for selector in lead]
    assert order == sorted(order)
    estimated = page.locator("#quality-estimated").inner_text()
    low, high = map(float, INTERVAL.match(estimated).groups())  # type: ignore[union-attr]
    assert low < high
    assert re.match(r"\d\.\d{4} \(target 0\.6", page.locator("#quality-labelled").inner_text())
    page.close()


def test_one_chart_per_question_with_clear_titles_and_short_legends(
    ui: Server, browser: Any
) -> None:
    page, problems = visit(browser, ui, "/ui/monitoring")
    assert not problems
    names = "id => document.getElementById(id).data.map(t => t.name)"
    quality = page.evaluate(names, "quality")
    assert "labelled" in quality and not any("coverage" in str(n) for n in quality)
    assert [n for n in page.evaluate(names, "coverage") if n != "alert"] == ["label coverage"]
    drift = page.evaluate(names, "drift")
    assert drift[0] == "prediction" and 1 < len([n for n in drift if n != "alert"]) <= LINES
    assert "the top 7 of 9 features" in page.locator("#box-drift h3").inner_text()
    charts = page.locator(".chart-box")
    assert charts.count() >= 8
    for i in range(charts.count()):
        box = charts.nth(i)
        ident = box.locator(".chart").get_attribute("id")
        assert box.locator(".gtitle").count() == 0, ident  # no title inside the plot
        assert box.locator(".legend .traces").count() <= LINES + 2, ident
        box.locator(".chart").hover()
        bar = box.locator(".modebar")
        bar.wait_for(state="visible")
        heading, toolbar = box.locator("h3").bounding_box(), bar.bounding_box()
        assert heading["y"] + heading["height"] <= toolbar["y"], ident  # the title is clear
    page.close()


def test_features_are_ranked_and_each_has_its_page(ui: Server, browser: Any) -> None:
    page, problems = visit(browser, ui, "/ui/monitoring")
    rows = page.locator("#ranking tbody tr")
    assert rows.first.get_attribute("data-feature") == "prediction"
    weighted = [rows.nth(i).locator("td").last.inner_text() for i in range(1, rows.count())]
    scores = [float(w) for w in weighted if w != "—"]
    assert scores and scores == sorted(scores, reverse=True)
    name = rows.nth(1).get_attribute("data-feature")
    with page.expect_navigation():
        rows.nth(1).locator("a.feature-link").click()
    page.wait_for_function(
        "document.querySelectorAll('.js-plotly-plot .main-svg').length >= 2", timeout=30_000
    )
    assert page.url.endswith(f"/ui/monitoring/features/{name}")
    assert page.locator("#feature-rank").inner_text().startswith("1 of 9 by importance")
    bars = page.evaluate(f"document.getElementById('hist-{name}').data.map(t => t.type)")
    assert bars == ["bar", "bar"]  # the reference and the window, on the same bins
    shares = page.evaluate(f"document.getElementById('hist-{name}').data.map(t => t.y)")
    assert all(abs(sum(side) - 1) < 1e-6 for side in shares)
    over_time = page.evaluate(f"document.getElementById('drift-{name}').data[0].y.length")
    assert over_time >= 4  # one point per window: 2 of Q1, 2 of July
    assert not problems
    page.close()
    missing = ui.client.get("/ui/monitoring/features/tmep", headers={"accept": "application/json"})
    assert missing.status_code == 404 and "did you mean 'temp'" in missing.text
    foreign = ui.client.get("/ui/monitoring/features/temp", headers={"host": "evil.example"})
    assert foreign.status_code == 400  # the Host check covers the new pages


def test_the_audit_log_collapses_a_run_of_holds(ui: Server, browser: Any) -> None:
    page, problems = visit(browser, ui, "/ui/audit")
    assert not problems
    holds = page.locator("#audit-table tbody tr[data-action='hold']")
    assert holds.count() == 1
    assert holds.first.get_attribute("data-count") == str(HOLDS)
    span = rf"{HOLDS} holds from \d\d:\d\d:\d\d to \d\d:\d\d:\d\d"
    assert re.search(span, holds.first.inner_text())
    page.close()
