"""The dashboard, for real: a project trained on real flights, predictions served by a real
`loopml serve` (whose `/ui` is checked too), monitoring windows with real alerts, a canary
rollout and audit entries; then `loopml ui` in its own process on 127.0.0.1, driven by headless
Chromium: every page loads without console errors and asks nothing of any other host, charts
render, and an alert is acknowledged by clicking Ack. Writes without the admin token, from
another machine or another site, without the page's CSRF token, and bad ids are refused with 4xx
answers; so is any request for a host other than the server's own (tests/security/
test_dashboard.py has the rest of those)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import polars as pl
import pytest

from loopml.data.validate import validate
from loopml.data.versions import add_frame, get_version
from loopml.monitoring import monitor
from loopml.registry import register
from loopml.rollout import controller
from loopml.spec import Spec, parse_spec
from loopml.store import Store
from loopml.ui import create_ui
from loopml.workflows import train_model
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
"""
)
TOKEN = "ui-test-token"


@dataclass
class Project:
    root: Path
    spec: Spec
    run_id: int
    served_ui: httpx.Response  # `loopml serve`'s /ui/, fetched while it ran
    served_js: httpx.Response  # and its Plotly script
    served_rebound: httpx.Response  # and its /ui/ asked for under another host name


@pytest.fixture(scope="module")
def project(
    tmp_path_factory: pytest.TempPathFactory, flights: pl.DataFrame, flights_sample: pl.DataFrame
) -> Project:
    """Trained, served, monitored, with a paused canary, audit entries and a validation report."""
    root = tmp_path_factory.mktemp("ui")
    (root / "loopml.yaml").write_text(SPEC)
    spec = parse_spec(SPEC)
    with pytest.MonkeyPatch.context() as env, project_store(root) as store:
        env.setenv("LOOPML_HOME", str(root / ".loopml"))  # where training writes its reports
        add_frame(store, flights_sample, name="flights", source="flights_sample.parquet")
        outcome = train_model(store, spec)
    held_out = flights.filter(pl.col("month") <= 3).gather_every(7, offset=3).sample(1000, seed=1)
    july = flights.filter(pl.col("month") == 7).sample(1000, seed=2)
    faulty = held_out.head(500).with_columns(
        pl.when(pl.int_range(pl.len()) % 2 == 0).then(None).otherwise(pl.col("temp")).alias("temp")
    )
    server = start(root)
    try:
        served_ui = server.client.get("/ui/")
        served_js = server.client.get("/ui/static/plotly.min.js")
        rebound = server.client.get("/ui/", headers={"host": f"evil.example:{server.port}"})
        for frame in (held_out, july, faulty):
            send(server, frame)
    finally:
        server.stop()
    with project_store(root) as store:
        monitor.run(store, spec, root / ".loopml" / "artifacts" / "predictions")
        version = add_frame(store, july, name="flights", source="july.parquet")
        report = validate(july, get_version(store, "flights@1").schema)
        key = f"validations/flights/{version.record.version}.json"
        store.artifacts.put_bytes(key, orjson.dumps(report.to_dict()))
        challenger, _ = register(store, spec, outcome.result)
        controller.start(store, spec, str(challenger.version), actor="test")
        controller.pause(store, spec, actor="test")
        store.audit.add(
            spec.name,
            "trigger",
            "drift on temp in two windows",
            evidence={"features": ["temp"], "psi": 0.31},
        )
    return Project(root, spec, outcome.result.run_id, served_ui, served_js, rebound)


@pytest.fixture(scope="module")
def store(project: Project) -> Iterator[Store]:
    with project_store(project.root) as opened:
        yield opened


def start_ui(root: Path, *, admin_token: str | None = None) -> Server:
    """`loopml ui` in its own process on a free port of 127.0.0.1, once it answers."""
    return start(root, admin_token=admin_token, command="ui", ready="/ui/")


@pytest.fixture(scope="module")
def ui(project: Project) -> Iterator[Server]:
    running = start_ui(project.root)
    yield running
    running.stop()


def visit(browser: Any, server: Server, path: str, charts: int = 0) -> tuple[Any, list[str]]:
    """Open ``path`` in ``browser`` (or a browser context), wait for ``charts`` Plotly charts;
    the page and every problem seen (console errors, requests to any other server)."""
    page, problems, requests = open_page(browser, server.url + path)
    if charts:
        page.wait_for_function(
            f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {charts}",
            timeout=30_000,
        )
    page.wait_for_load_state("load")
    foreign = [url for url in requests if not url.startswith(server.url + "/")]
    return page, problems + [f"request left the server: {url}" for url in foreign]


def test_loopml_serve_mounts_the_dashboard_at_ui(project: Project) -> None:
    assert project.served_ui.status_code == 200
    assert "Overview" in project.served_ui.text and "flights@1" in project.served_ui.text
    assert project.served_js.status_code == 200
    assert "immutable" in project.served_js.headers["cache-control"]
    refused = project.served_rebound
    assert refused.status_code == 400 and "evil.example" in refused.text
    assert f"127.0.0.1:{refused.request.url.port}" in refused.text


def csrf_token(html: str) -> str:
    """The CSRF token a dashboard page embeds in its forms."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no csrf_token field on the page"
    return found.group(1)


def test_every_page_loads_offline_and_draws_its_charts(
    project: Project, store: Store, ui: Server, browser: Any
) -> None:
    pages = {  # path -> charts it must draw
        "/ui/": 0,
        "/ui/models": 0,
        "/ui/runs": 1,
        "/ui/datasets": 0,
        "/ui/datasets/flights/1": 10,
        "/ui/datasets/flights/2": 10,
        "/ui/monitoring": 10,
        "/ui/alerts": 0,
        "/ui/audit": 0,
        f"/ui/reports/run/{project.run_id}": 3,
        "/ui/reports/model/flights/1": 0,
    }
    context = browser.new_context()  # one cache: Plotly's script is fetched once
    shown = {}
    for path, charts in pages.items():
        page, problems = visit(context, ui, path, charts)
        assert not problems, (path, problems)
        shown[path] = page
    overview = shown["/ui/"]
    assert overview.locator("#rollout-step").inner_text().startswith("step 1 of 4 (5%)")
    assert "flights@2 at 5% of traffic" in overview.locator("#deployment").inner_text()
    open_alerts = len(store.monitoring.list_alerts(status="open"))
    assert overview.locator("#open-alerts").inner_text().startswith(f"{open_alerts} open")
    assert "drift on temp" in overview.locator("#recent").inner_text()

    models = shown["/ui/models"]
    assert models.locator("#models-table tbody tr").count() == 2
    first = models.locator("#model-1").inner_text()
    assert "dataset flights@1" in first and "blessed" in first and "not blessed" not in first
    assert models.locator("#model-1 a", has_text="training report").count() == 1

    monitoring = shown["/ui/monitoring"]
    assert monitoring.locator("#drift .scatterlayer .trace").count() > 5  # one line per feature
    increase = monitoring.locator("#missing-increase")
    assert increase.locator(".shapelayer path").count() >= 1  # the rule's threshold
    assert "alert" in (increase.locator(".legend").text_content() or "")  # a fired alert
    # training vs now is on each feature's page (tests/e2e/test_ui_monitoring.py)
    assert monitoring.locator("#ranking a.feature-link", has_text="temp").count() == 1

    datasets = shown["/ui/datasets"].locator("#datasets-table").inner_text()
    assert "none recorded" in datasets  # flights@1 was never validated
    july = shown["/ui/datasets/flights/2"]
    assert july.locator("#violations tbody tr").count() >= 1
    audit = shown["/ui/audit"].locator("#audit-table").inner_text()
    assert "drift on temp" in audit and "paused by test" in audit and "start" in audit
    context.close()


def test_an_alert_is_acknowledged_from_the_page(store: Store, ui: Server, browser: Any) -> None:
    alert = store.monitoring.list_alerts(status="open")[0]
    page, problems = visit(browser, ui, "/ui/alerts?status=open")
    with page.expect_navigation():
        page.locator(f"#alert-{alert.id} button", has_text="Ack").click()
    assert page.url.endswith(f"/ui/alerts?acked={alert.id}")
    assert page.locator("#flash").inner_text() == f"Alert {alert.id} acknowledged."
    assert page.locator(f"#alert-{alert.id} .status").inner_text().startswith("acked")
    assert not problems
    page.context.close()
    assert next(a for a in store.monitoring.list_alerts() if a.id == alert.id).status == "acked"


def test_with_an_admin_token_the_page_needs_it(
    project: Project, store: Store, browser: Any
) -> None:
    server = start_ui(project.root, admin_token=TOKEN)
    try:
        alert = store.monitoring.list_alerts(status="open")[0]
        page, _ = visit(browser, server, "/ui/alerts?status=open")
        with page.expect_navigation():
            page.locator(f"#alert-{alert.id} button").click()
        assert "needs the admin token" in page.locator("#error-message").inner_text()
        page.goto(server.url + "/ui/alerts?status=open")
        page.fill("#admin-token", TOKEN)
        with page.expect_navigation():
            page.locator(f"#alert-{alert.id} button").click()
        assert page.url.endswith(f"/ui/alerts?acked={alert.id}")
        page.context.close()
        refused = server.client.post(
            f"/ui/alerts/{alert.id}/ack", headers={"authorization": "Bearer nope"}
        )
        assert refused.status_code == 403 and "wrong admin token" in refused.text
    finally:
        server.stop()
    assert next(a for a in store.monitoring.list_alerts() if a.id == alert.id).status == "acked"


def call(app: Any, method: str, url: str, *, client: str = "127.0.0.1", **kw: Any) -> Any:
    """One request to ``app`` in this process, as if from ``client`` (on a thread of its own:
    Playwright's synchronous API keeps an event loop running on this one)."""

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=(client, 50_000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8050") as c:
            return await c.request(method, url, **kw)

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, go()).result()


def test_without_a_token_only_this_machine_and_this_site_may_write(
    project: Project, store: Store
) -> None:
    app = create_ui(store, project.spec)
    alert = store.monitoring.list_alerts(status="open")[0]
    remote = call(app, "POST", f"/alerts/{alert.id}/ack", client="203.0.113.7")
    assert remote.status_code == 403 and "203.0.113.7" in remote.text
    assert "LOOPML_ADMIN_TOKEN" in remote.text
    forged = call(
        app, "POST", f"/alerts/{alert.id}/ack", headers={"origin": "https://evil.example"}
    )
    assert forged.status_code == 403 and "another site" in forged.text
    assert store.monitoring.list_alerts(status="open")[0].id == alert.id  # still open
    token_app = create_ui(store, project.spec, admin_token=TOKEN)
    missing = call(token_app, "POST", f"/alerts/{alert.id}/ack", client="203.0.113.7")
    assert missing.status_code == 403 and "admin token" in missing.text
    no_csrf = call(token_app, "POST", f"/alerts/{alert.id}/ack", data={"token": TOKEN})
    assert no_csrf.status_code == 403 and "CSRF token" in no_csrf.text
    page = call(token_app, "GET", "/alerts", client="203.0.113.7").text
    accepted = call(
        token_app,
        "POST",
        f"/alerts/{alert.id}/ack",
        client="203.0.113.7",
        data={"token": TOKEN, "csrf_token": csrf_token(page)},
        headers={"accept": "application/json"},
    )
    assert accepted.status_code == 200 and accepted.json()["status"] == "acked"
    other = next(a for a in store.monitoring.list_alerts(status="open") if a.id != alert.id)
    scripted = call(  # the admin token in the header: no browser sends that, no CSRF token needed
        token_app,
        "POST",
        f"/alerts/{other.id}/ack",
        client="203.0.113.7",
        headers={"accept": "application/json", "authorization": f"Bearer {TOKEN}"},
    )
    assert scripted.status_code == 200 and scripted.json()["status"] == "acked"


def test_bad_input_gets_a_clear_4xx(store: Store, ui: Server) -> None:
    acked = next(a for a in store.monitoring.list_alerts() if a.status == "acked")
    as_json = {"accept": "application/json"}
    form = {"csrf_token": csrf_token(ui.client.get("/ui/alerts").text)}
    cases = [
        ("POST", "/ui/alerts/abc/ack", 400, "positive whole number"),
        ("POST", "/ui/alerts/-3/ack", 400, "positive whole number"),
        ("POST", "/ui/alerts/999999/ack", 404, "no alert 999999"),
        ("POST", f"/ui/alerts/{acked.id}/ack", 409, "already acknowledged"),
        ("GET", "/ui/alerts/1/ack", 405, ""),
        ("GET", "/ui/datasets/flights/x", 400, "dataset version"),
        ("GET", "/ui/datasets/flights/99", 404, "no version 99"),
        ("GET", "/ui/datasets/nope/1", 404, "no dataset named 'nope'"),
        ("GET", "/ui/datasets/a@b/1", 400, "invalid dataset name"),
        ("GET", "/ui/monitoring?windows=0", 400, "windows"),
        ("GET", "/ui/alerts?status=closed", 400, "status"),
        ("GET", "/ui/reports/run/99999", 404, "no report"),
        ("GET", "/ui/reports/model/.hidden/1", 400, "invalid model name"),
        ("GET", "/ui/nowhere", 404, "no page"),
    ]
    for method, path, status, text in cases:
        body = form if method == "POST" else None
        response = ui.client.request(method, path, headers=as_json, data=body)
        assert response.status_code == status, (path, response.text)
        assert text in response.json()["error"]["message"], (path, response.text)
    huge = ui.client.post("/ui/alerts/1/ack", content=b"token=" + b"x" * 100_000)
    assert huge.status_code == 413
    html = ui.client.post("/ui/alerts/abc/ack")
    assert html.status_code == 400 and 'id="error-message"' in html.text
    assert ui.client.get("/", follow_redirects=False).headers["location"] == "/ui/"


def test_a_fresh_project_renders_every_page(tmp_path: Path) -> None:
    spec = parse_spec(SPEC)
    with Store(f"sqlite:///{tmp_path / 'loopml.db'}", tmp_path / "artifacts") as empty:
        app = create_ui(empty, spec, reports=tmp_path / "reports")
        expected = {
            "/": "Nothing is deployed yet",
            "/models": "No models yet",
            "/runs": "No runs yet",
            "/datasets": "No datasets yet",
            "/monitoring": "loopml monitor run",
            "/alerts": "No alert has fired",
            "/alerts?status=open": "No open alerts",
            "/audit": "Nothing recorded yet",
        }
        for path, sentence in expected.items():
            response = call(app, "GET", path)
            assert response.status_code == 200, (path, response.text)
            assert sentence in response.text, path
            assert "plotly.min.js" not in response.text  # no charts, no script
