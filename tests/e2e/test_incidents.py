"""Alerts that say how much, grouped into incidents (issue 13, items 3 and 4), end to end: a
real server logs predictions of real flights, ``monitor.run`` computes windows of 500 of them
and fires the alerts; they are grouped into incidents stored in the real store, posted to a
real webhook on 127.0.0.1 and shown by the CLI and the Prometheus gauges.

The story, one model version, windows of 500 predictions:

1. held-out rows of the training period with 6 unseen carriers and 6 temperatures above the
   training range (1.2 % each): the default ``unseen`` and ``out_of_range`` rules fire;
2. July: many features drift at once — one incident, its features ranked by importance ×
   drift; the first pass ends here;
3. July again (second pass): the incident is updated, not a new one;
4. held-out rows again (third pass): the drift clears and the incident resolves.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from loopml.modeling.importance import importance_shares
from loopml.monitoring import alerts, incidents, monitor
from loopml.monitoring.explain import Packages
from loopml.registry import load_package
from loopml.spec import parse_spec
from loopml.store import Store
from tests.support.monitoring import Webhook, held_out_start
from tests.support.projects import FLIGHTS_SPEC, project_store, trained_project
from tests.support.servers import send, start

SPEC = (
    FLIGHTS_SPEC
    + """\
metric: {name: roc_auc}
model: {candidates: [lightgbm]}
monitoring:
  window_rows: 500
  min_samples: 200
"""
)
SUMMARY = re.compile(
    r"^temp: PSI \d+\.?\d* > 0\.2; training median -?[\d.]+, window median -?[\d.]+$"
)


@pytest.fixture(scope="module")
def hook() -> Iterator[Webhook]:
    receiver = Webhook()
    yield receiver
    receiver.close()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, flights: pl.DataFrame) -> Path:
    q1 = flights.filter(pl.col("month") <= 3)
    return trained_project(tmp_path_factory.mktemp("incidents"), SPEC, q1.gather_every(5))


@pytest.fixture(scope="module")
def store(project: Path) -> Iterator[Store]:
    with project_store(project) as opened:
        yield opened


@pytest.fixture(scope="module")
def spec(hook: Webhook) -> Any:
    return parse_spec(SPEC + f"  webhook: {hook.url}\n  webhook_retries: 0\n")


@pytest.fixture(scope="module")
def traffic(store: Store, flights: pl.DataFrame) -> dict[str, pl.DataFrame]:
    q1 = flights.filter(pl.col("month") <= 3)
    held_out = q1.gather_every(5, offset=2).filter(
        pl.col("scheduled_departure") >= held_out_start(store, q1.gather_every(5))
    )
    rule = load_package(store, "flights@champion").schema.columns["temp"]
    assert rule.max is not None
    faulty = held_out.sample(500, seed=1).with_columns(
        carrier=pl.when(pl.int_range(pl.len()) < 6).then(pl.lit("ZZ")).otherwise("carrier"),
        temp=pl.when(pl.int_range(pl.len()).is_between(6, 11))
        .then(pl.lit(rule.max + 5.0))
        .otherwise("temp"),
    )
    july = flights.filter(pl.col("month") == 7).sample(1000, seed=2)
    return {
        "faulty": faulty,
        "july": july,
        "calm": held_out.sample(500, seed=3),
    }


def _log(project: Path, *frames: pl.DataFrame) -> None:
    server = start(project)
    try:
        for frame in frames:
            send(server, frame)
    finally:
        server.stop()


def _folder(project: Path) -> Path:
    return project / ".loopml" / "artifacts" / "predictions"


@pytest.fixture(scope="module")
def first(project: Path, store: Store, spec: Any, traffic: dict[str, pl.DataFrame]) -> Any:
    """Pass 1: the faulty window, then the first July window."""
    _log(project, traffic["faulty"], traffic["july"].head(500))
    return monitor.run(store, spec, _folder(project))


def test_unseen_and_out_of_range_fire_at_1_2_percent(first: Any) -> None:
    by_key = {a.evidence["key"]: a for a in first.alerts}
    unseen, outside = by_key["unseen.carrier"], by_key["out_of_range.temp"]
    assert unseen.value == pytest.approx(0.012) and unseen.threshold == 0.01
    assert outside.value == pytest.approx(0.012)
    assert unseen.evidence["window_start"] == outside.evidence["window_start"]  # window 1
    assert "carrier: unseen 0.012 > 0.01; 1.2 % of values never seen in training" in (
        alerts.message(unseen)
    )
    assert "1.2 % of values outside the training range [" in outside.evidence["summary"]


def test_a_drift_alert_carries_its_statistic_threshold_and_effect(first: Any) -> None:
    temp = next(a for a in first.alerts if a.evidence["key"] == "drift.temp")
    window = next(w for w in first.windows if w.start.isoformat() == temp.evidence["window_start"])
    drift = next(d for d in window.details["drift"] if d["feature"] == "temp")
    assert drift["decided_by"] == "psi" and temp.value == pytest.approx(drift["value"])
    assert temp.value > 0.2  # the PSI (beyond its sampling noise), not the 0/1 flag
    assert temp.threshold == 0.2
    assert SUMMARY.match(temp.evidence["summary"]), temp.evidence["summary"]
    assert temp.evidence["summary"] in alerts.message(temp)


def test_features_drifting_together_are_one_incident_ranked_by_weighted_drift(
    first: Any, store: Store
) -> None:
    drifts = [a for a in first.alerts if a.metric == "drift"]
    assert len({a.evidence["key"] for a in drifts}) >= 3  # July moves several features
    drift = [i for i in first.incidents if i.family == "drift"]
    assert len(drift) == 1 and drift[0].status == "open"
    incident = drift[0]
    listed = [m["feature"] for m in incident.evidence["features"]]
    assert set(listed) == {a.feature for a in drifts}
    assert sorted(incident.evidence["alert_ids"]) == sorted(a.id for a in drifts)
    shares = importance_shares(load_package(store, incident.model_version).model)
    weighted = [
        shares[m["feature"]] * m["value"]
        for m in incident.evidence["features"]
        if m["feature"] != "prediction"
    ]
    assert weighted == sorted(weighted, reverse=True)
    assert all(
        m["score"] == pytest.approx(w)
        for m, w in zip(
            [m for m in incident.evidence["features"] if m["feature"] != "prediction"],
            weighted,
            strict=True,
        )
    )
    features = [f for f in listed if f != "prediction"]
    assert incident.title.startswith("drift on ") and f"{len(features)} features: " in (
        incident.title
    )
    assert re.search(r"PSI \d+\.?\d*–\d+\.?\d*$", incident.title), incident.title
    assert incident.title.split(": ", 1)[1].startswith(", ".join(features[:2]))


def test_the_webhook_gets_one_post_per_incident_with_the_statistics(
    first: Any, hook: Webhook
) -> None:
    posted = {p["incident"]["id"]: p for p in hook.received if "incident" in p}
    assert len(hook.received) == len(posted) == len(first.incidents)  # not one per alert
    drift = next(i for i in first.incidents if i.family == "drift")
    text = posted[drift.id]["text"]
    assert drift.title in text and re.search(r"• temp: PSI [\d.]+ > 0\.2; training median", text)
    unseen = next(i for i in first.incidents if i.family == "unseen")
    assert unseen.status == "resolved"  # July's carriers are all known: it cleared on window 2
    assert "its condition cleared" in posted[unseen.id]["text"]


def test_the_incident_updates_on_the_next_window_then_resolves(
    first: Any, project: Path, store: Store, spec: Any, traffic: dict[str, pl.DataFrame]
) -> None:
    opened = next(i for i in first.incidents if i.family == "drift")
    server = start(project)
    try:  # the gauges show the drift statistics and the open incident
        wanted = [
            'loopml_drift_statistic{feature="temp",model_version="flights@1",statistic="psi"}',
            'loopml_drift_threshold{feature="temp",model_version="flights@1",statistic="psi"}',
            'loopml_open_incidents{family="drift",model_version="flights@1",severity="warning"} '
            "1.0",
        ]
        deadline, text = time.monotonic() + 20, ""
        while not all(w in text for w in wanted) and time.monotonic() < deadline:
            time.sleep(0.3)
            text = server.client.get("/metrics").text
        assert all(w in text for w in wanted), [w for w in wanted if w not in text]
        send(server, traffic["july"].tail(500))
    finally:
        server.stop()
    second = monitor.run(store, spec, _folder(project))
    updated = next(i for i in second.incidents if i.family == "drift")
    assert updated.id == opened.id and updated.status == "open"
    assert len(updated.evidence["windows"]) == 2 and updated.last_window > opened.last_window
    assert [i for i in store.incidents.list(status="open") if i.family == "drift"] == [updated]

    _log(project, traffic["calm"])
    third = monitor.run(store, spec, _folder(project))
    resolved = next(i for i in third.incidents if i.id == opened.id)
    assert resolved.status == "resolved" and "its condition cleared" in str(resolved.resolution)
    assert not [a for a in third.alerts if a.metric == "drift"]


def test_an_incident_of_a_version_no_longer_serving_resolves(store: Store, spec: Any) -> None:
    assert store.deployments.get(spec.name).stable == "flights@1"
    window = store.monitoring.list_windows(spec.name)[-1]
    retired = store.incidents.open(
        deployment=spec.name,
        model_version="flights@0",  # what served before flights@1
        size=window.size,
        family="drift",
        severity="warning",
        title="drift on 1 feature: temp PSI 0.5",
        evidence={},
        window=window.start,
    )
    old = store.monitoring.add_alert(
        deployment=spec.name,
        rule="drift[*] > 0.5",
        severity="warning",
        metric="drift",
        feature="temp",
        value=0.5,
        threshold=0.2,
        evidence={"key": "drift.temp", "model_version": "flights@0"},
    )
    touched = incidents.update(store, spec, [], alerts.rules_of(spec), [], Packages(store))
    statuses = {a.id: a.status for a in store.monitoring.list_alerts()}
    assert statuses[old.id] == "resolved"  # no one needs to acknowledge it
    assert "open" in statuses.values()  # flights@1's alerts stay open: it still serves
    closed = next(i for i in touched if i.id == retired.id)
    assert closed.status == "resolved"
    assert closed.resolution == "flights@0 no longer serves 'flights' (stable is flights@1)"


def test_incident_commands(
    project: Path, cli: Any, monkeypatch: pytest.MonkeyPatch, store: Store
) -> None:
    monkeypatch.chdir(project)
    monkeypatch.setenv("LOOPML_HOME", str(project / ".loopml"))
    code, out, _ = cli("incidents", "list", "--all")
    assert code == 0 and "drift on" in out and "resolved" in out
    code, out, _ = cli("incidents", "list", "--all", "--json")
    rows = json.loads(out)
    assert code == 0 and {"drift", "unseen", "out_of_range"} <= {r["family"] for r in rows}
    drift = next(r for r in rows if r["family"] == "drift" and r["model_version"] == "flights@1")
    code, out, _ = cli("incidents", "show", str(drift["id"]))
    assert code == 0 and "temp" in out and "PSI" in out and "training median" in out
    code, _, err = cli("incidents", "show", "999")
    assert code == 2 and "no incident 999" in err and "loopml incidents list --all" in err
    code, out, _ = cli("alerts", "list")
    assert code == 0 and "PSI" in out


def test_the_dashboard_leads_the_alerts_page_with_incidents(project: Path, store: Store) -> None:
    drift = next(
        i for i in store.incidents.list() if i.family == "drift" and i.model_version == "flights@1"
    )
    ui = start(project, command="ui", ready="/ui/")
    try:
        page = ui.client.get("/ui/alerts").text
    finally:
        ui.stop()
    assert page.index('id="incidents-table"') < page.index('id="alerts-table"')
    assert f'id="incident-{drift.id}"' in page and drift.title in page
    assert str(drift.resolution) in page
    assert re.search(r"temp: PSI [\d.]+ &gt; 0\.2; training median", page)  # an alert's line
    assert 'name="csrf_token"' in page  # the ack form keeps its token
