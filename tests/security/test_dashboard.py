"""The dashboard holds against hostile data and hostile pages (issue 12, item 8).

- Chart data is embedded in ``<script>`` elements with ``<``, ``>``, ``&`` (and U+2028/U+2029)
  escaped: a dataset whose category values are ``<!--<script>`` or ``</script><script>…`` still
  draws its charts in headless Chromium, runs no injected script, and shows the values as text.
- A request whose ``Host`` is not the address the dashboard is bound to (DNS rebinding) is
  refused, on GET and POST, by a real ``loopml ui`` on 127.0.0.1.
- Every state-changing form carries a per-process CSRF token; a POST without it, or with a wrong
  one, is a 403 and changes nothing.
"""

from __future__ import annotations

import json
import pickle
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from loopml.config import ServeSettings
from loopml.data.profile import Profile
from loopml.data.versions import add_frame
from loopml.errors import PageError
from loopml.reports import data_report
from loopml.reports.render import to_json
from loopml.store import Store
from loopml.ui.csrf import CsrfTokens
from loopml.ui.hosts import allowed_hosts, check_host
from tests.support.projects import FLIGHTS_SPEC, project_store
from tests.support.servers import Server, start

HOSTILE = ["<!--<script>", "</script><script>alert(1)</script>", "&amp;"]
CHARTS = 3  # missing values, then one chart per column
SPEC_TAIL = "metric: {name: roc_auc, target: 0.6}\nmodel: {candidates: [lightgbm]}\n"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project whose store holds the dataset ``hostile`` (category values that look like
    markup) and one open alert."""
    folder = tmp_path_factory.mktemp("dashboard")
    (folder / "loopml.yaml").write_text(FLIGHTS_SPEC + SPEC_TAIL)
    frame = pl.DataFrame(
        {
            "label": [HOSTILE[0]] * 50 + [HOSTILE[1]] * 40 + [HOSTILE[2]] * 30,
            "amount": [float(i) for i in range(120)],
        }
    )
    with project_store(folder) as store:
        add_frame(store, frame, name="hostile", source="hostile.parquet")
        add_open_alert(store)
    return folder


def add_open_alert(store: Store) -> int:
    alert = store.monitoring.add_alert(
        deployment="flights",
        rule="missing_increase",
        severity="warning",
        metric="missing_increase",
        feature="temp",
        value=0.4,
        threshold=0.1,
        evidence={"key": "missing_increase.temp"},
    )
    return alert.id


@pytest.fixture(scope="module")
def ui(root: Path) -> Iterator[Server]:
    running = start(root, command="ui", ready="/ui/")
    yield running
    running.stop()


def status_of(root: Path, alert_id: int) -> str:
    with project_store(root) as store:
        return next(a.status for a in store.monitoring.list_alerts() if a.id == alert_id)


def drawn(browser: Any, url: str) -> tuple[Any, list[str], list[str]]:
    """Open ``url``; the page once its charts are drawn, every problem seen (console errors,
    but a missing favicon), and every dialog a script opened."""
    page = browser.new_page()
    problems: list[str] = []
    dialogs: list[str] = []

    def console(message: Any) -> None:
        if message.type == "error" and not message.location["url"].endswith("/favicon.ico"):
            problems.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(url)
    page.wait_for_function(
        f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {CHARTS}",
        timeout=30_000,
    )
    page.wait_for_load_state("load")
    return page, problems, dialogs


def test_markup_in_category_values_cannot_break_or_inject_into_the_dataset_page(
    ui: Server, browser: Any
) -> None:
    page, problems, dialogs = drawn(browser, ui.url + "/ui/datasets/hostile/1")
    assert not problems and not dialogs
    scripts = page.eval_on_selector_all("script", "s => s.map(e => e.src || e.text)")
    assert len(scripts) == 2 and "/static/plotly.min.js" in scripts[0]  # no injected one
    assert "<" not in scripts[1] and "\\u003c/script\\u003e" in scripts[1]  # data, escaped
    label = page.locator("#profile tbody tr", has_text="label").inner_text()
    assert HOSTILE[0] in label and HOSTILE[1] in label  # the two top values, as text
    shown = page.evaluate(
        "[...document.querySelectorAll('.js-plotly-plot')].flatMap(c => c.data.flatMap("
        "t => [...(t.x || []), ...(t.y || [])])).filter(v => typeof v === 'string')"
    )
    assert set(HOSTILE) <= set(shown)  # the chart data arrived intact
    page.context.close()


def test_the_data_report_file_embeds_the_same_values_safely(root: Path, browser: Any) -> None:
    with project_store(root) as store:
        profile = Profile.from_dict(store.datasets.get("hostile@1").profile)
    report = data_report.build_data_report([("hostile@1", profile)])
    path = data_report.write_html(report, root / "report.html")
    page, problems, dialogs = drawn(browser, path.as_uri())
    assert not problems and not dialogs
    assert page.locator("script").count() == 2  # Plotly's, then the charts'
    page.context.close()


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=20,
)


@given(JSON)
def test_embedded_json_holds_no_markup_characters_and_parses_back(value: Any) -> None:
    text = to_json(value)
    assert not set(text) & {"<", ">", "&", "\u2028", "\u2029"}
    assert json.loads(text) == value


@given(st.text(alphabet="<>&/!-\u2028\u2029scriptSCRIPT\"'\\ ", max_size=40))
def test_markup_like_strings_survive_embedding(value: str) -> None:
    text = to_json({"x": [value]})
    assert "<" not in text and json.loads(text) == {"x": [value]}


# --- the Host header (DNS rebinding) -----------------------------------------------------------


def test_a_foreign_host_header_is_refused_on_get_and_post(root: Path, ui: Server) -> None:
    with project_store(root) as store:
        alert_id = add_open_alert(store)
    evil = {"host": f"evil.example:{ui.port}"}
    page = ui.client.get("/ui/", headers=evil)
    assert page.status_code == 400
    assert f"evil.example:{ui.port}" in page.text and f"127.0.0.1:{ui.port}" in page.text
    assert f"localhost:{ui.port}" in page.text and f"[::1]:{ui.port}" in page.text
    assert ui.client.get("/ui/static/plotly.min.js", headers=evil).status_code == 400
    posted = ui.client.post(
        f"/ui/alerts/{alert_id}/ack", headers=evil, data={"csrf_token": csrf_token(ui)}
    )
    assert posted.status_code == 400 and "evil.example" in posted.text
    assert status_of(root, alert_id) == "open"
    for name in ("127.0.0.1", "localhost", "[::1]"):  # the names of this machine are answered
        assert ui.client.get("/ui/", headers={"host": f"{name}:{ui.port}"}).status_code == 200
    wrong_port = ui.client.get("/ui/", headers={"host": f"127.0.0.1:{ui.port + 1}"})
    assert wrong_port.status_code == 400


# --- CSRF ----------------------------------------------------------------------------------------


def csrf_token(server: Server) -> str:
    """The CSRF token the alerts page embeds in its forms."""
    html = server.client.get("/ui/alerts").text
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the alerts page has no csrf_token field"
    return found.group(1)


def test_an_ack_without_the_pages_csrf_token_is_refused(root: Path, ui: Server) -> None:
    with project_store(root) as store:
        alert_id = add_open_alert(store)
    token = csrf_token(ui)
    url = f"/ui/alerts/{alert_id}/ack"
    missing = ui.client.post(url, data={})
    assert missing.status_code == 403 and "CSRF token" in missing.text
    assert "reload" in missing.text  # how to fix it
    wrong = ui.client.post(url, data={"csrf_token": token[:-4] + "AAAA"})
    assert wrong.status_code == 403 and "CSRF token" in wrong.text
    assert status_of(root, alert_id) == "open"
    accepted = ui.client.post(url, data={"csrf_token": token}, follow_redirects=False)
    assert accepted.status_code == 303
    assert status_of(root, alert_id) == "acked"


def test_the_csrf_token_is_per_process(root: Path, ui: Server) -> None:
    other = start(root, command="ui", ready="/ui/")
    try:
        assert csrf_token(other) != csrf_token(ui)
        with project_store(root) as store:
            alert_id = add_open_alert(store)
        refused = other.client.post(
            f"/ui/alerts/{alert_id}/ack", data={"csrf_token": csrf_token(ui)}
        )
        assert refused.status_code == 403
    finally:
        other.stop()
    assert status_of(root, alert_id) == "open"


def test_the_hosts_answered_are_loopback_the_configured_host_and_the_local_address() -> None:
    assert allowed_hosts(8050, "0.0.0.0", "10.0.0.5") == [
        "127.0.0.1:8050",
        "localhost:8050",
        "[::1]:8050",
        "10.0.0.5:8050",
    ]  # a wildcard names no host
    assert "ml.example.org:8000" in allowed_hosts(8000, "ML.example.org", None)
    assert "[fe80::1]:8000" in allowed_hosts(8000, "fe80::1", None)
    assert "localhost" in allowed_hosts(80, None) and "localhost" not in allowed_hosts(8080)


@given(st.text(max_size=40))
def test_any_other_host_header_is_refused(header: str) -> None:
    allowed = allowed_hosts(8050, "127.0.0.1")
    if header.strip().lower() in allowed:
        check_host(header, allowed)
    else:
        with pytest.raises(PageError, match=re.escape("answers only to 127.0.0.1:8050")):
            check_host(header, allowed)


def test_the_workers_of_one_server_share_the_csrf_secret() -> None:
    """``loopml serve`` makes its settings once and hands them to every worker (pickled, as
    multiprocessing's spawn does): each worker's dashboard signs with the same secret."""
    settings = ServeSettings.from_env(spec=Path("loopml.yaml"), host="127.0.0.1")
    worker = pickle.loads(pickle.dumps(settings))
    assert worker.form_secret == settings.form_secret and worker.host == "127.0.0.1"
    assert CsrfTokens(worker.form_secret).token() == CsrfTokens(settings.form_secret).token()
    restarted = ServeSettings.from_env(spec=Path("loopml.yaml"))
    assert restarted.form_secret != settings.form_secret  # a new server, new tokens
    assert repr(settings).count(settings.form_secret.hex()) == 0
