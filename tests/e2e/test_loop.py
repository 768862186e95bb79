"""The maintenance loop end to end: a real server logs June flights for a champion trained on a
slice of winter, labels come back as feedback, and the loop monitors, retrains on the labelled
production rows, gates on the most recent of them and rolls the challenger out; plus the faults:
invalid data, a crashing retrain, a loop restarted mid-rollout."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest

from loopml.data.versions import add_frame, get_version, load_frame
from loopml.errors import RetrainError
from loopml.loop import retrain as R
from loopml.loop.daemon import run_loop, run_pass
from loopml.loop.production import labelled_rows
from loopml.modeling.train import train
from loopml.predlog import LogEntry, PredictionLog, log_folder, read_log
from loopml.registry import load_package, register
from loopml.rollout import controller
from loopml.spec import Spec, parse_spec
from loopml.store import Store
from loopml.store.leases import release_lease, take_lease
from tests.support.projects import FLIGHTS_SPEC, project_store
from tests.support.servers import Server, as_json, send, start

SPEC = (
    FLIGHTS_SPEC
    + """\
metric: {name: roc_auc, target: 0.6}
model: {candidates: [lightgbm]}
monitoring: {window_rows: 500, min_samples: 200}
rollout: {steps: [50, 100], min_requests: 60, min_duration: 2s, interval: 1s, max_prediction_psi: 5}
"""
)


def make_project(root: Path, flights: pl.DataFrame, spec_text: str = SPEC) -> Path:
    """A project whose champion learnt from 2,000 winter flights: June will beat it."""
    (root / "loopml.yaml").write_text(spec_text)
    spec = parse_spec(spec_text)
    q1 = flights.filter(pl.col("month") <= 3)
    with project_store(root) as store:
        version = add_frame(store, q1.gather_every(40), name="flights", source="test")
        register(store, spec, train(store, spec, version))
    return root


def logged(root: Path, rows: int) -> None:
    """Wait until the server's log holds ``rows`` rows (it flushes every 200 ms)."""
    deadline = time.monotonic() + 30
    while read_log(root / ".loopml" / "artifacts" / "predictions").height < rows:
        assert time.monotonic() < deadline, f"the log never held {rows} rows"
        time.sleep(0.1)


def predicted(root: Path, frame: pl.DataFrame, *, labels: bool = True) -> None:
    """``frame`` sent to a server of ``root`` (labels fed back), which then stops gracefully:
    every prediction is in the log."""
    server = start(root)
    try:
        send(server, frame, labels=labels)
    finally:
        server.stop()


def log_traffic(store: Store, spec: Spec, record: Any, frame: pl.DataFrame) -> None:
    """What a server answering ``frame`` under ``record``'s canary split would log, written by
    the real prediction log with the real models' scores, but with no server deciding."""
    records = as_json(frame.drop("late"))
    with PredictionLog(log_folder(store), spec.name) as log:
        for route, ref in (("stable", record.stable), ("canary", record.canary)):
            model = load_package(store, ref).model
            scores = model.scores(model.score_frame(frame)[1])
            log.log(
                [
                    LogEntry(
                        ts=datetime.now(UTC),
                        request_id=uuid.uuid4().hex,
                        deployment=spec.name,
                        model_version=ref,
                        route=route,
                        features=row,
                        outputs={},
                        latency_ms=1.0,
                        score=float(score),
                    )
                    for row, score in zip(records, scores, strict=True)
                ]
            )


def june(flights: pl.DataFrame, n: int, seed: int = 0) -> pl.DataFrame:
    return flights.filter(pl.col("month") == 6).sample(n, seed=seed).sort("scheduled_departure")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, flights: pl.DataFrame) -> Path:
    return make_project(tmp_path_factory.mktemp("loop"), flights)


@pytest.fixture(scope="module")
def spec() -> Spec:
    return parse_spec(SPEC)


@pytest.fixture(scope="module")
def store(project: Path) -> Iterator[Store]:
    with project_store(project) as opened:
        yield opened


@pytest.fixture(scope="module")
def served(project: Path, flights: pl.DataFrame) -> Iterator[Server]:
    """3,000 June flights predicted over HTTP with their labels fed back; the server stays up."""
    server = start(project)
    try:
        send(server, june(flights, 3000))
        logged(project, 3000)
        yield server
    finally:
        server.stop()


def test_labelled_production_rows_come_back_shaped_like_the_training_data(
    served: Server, store: Store, spec: Spec, flights: pl.DataFrame
) -> None:
    base = load_frame(store, get_version(store, "flights@1"))
    rows = labelled_rows(store, spec, log_folder(store), base.schema)
    assert rows.schema == base.schema
    assert rows.height == 3000
    sent = june(flights, 3000)
    back = rows.sort("flight_id")
    expected = sent.sort("flight_id").select(base.columns)
    assert back.equals(expected), "every value, time and label survives the round trip"


def test_a_drift_alert_retrains_gates_on_recent_rows_and_starts_a_canary(
    served: Server, store: Store, spec: Spec, project: Path
) -> None:
    result = run_pass(store, spec)
    assert result.windows >= 6 and result.alerts
    assert result.plan is not None and result.plan.action == "retrain", result.plan
    assert "drift" in result.plan.reason
    outcome = result.outcome
    assert outcome is not None, result.error
    assert outcome.status == "rollout", outcome.training.decision.reason
    # the data: winter's rows plus the older labelled June rows, as a new version
    assert outcome.dataset.ref == "flights@2"
    facts = outcome.facts
    assert facts["comparison_rows"] == 450 and facts["fresh_rows"] == 2550
    winter = get_version(store, "flights@1").record.n_rows
    assert outcome.dataset.record.n_rows == winter + 2550
    validation = orjson.loads(store.artifacts.get_bytes("validations/flights/2.json"))
    assert validation["ok"] is True
    # the gate compared both models on June's most recent rows, which neither trained on
    gate = store.models.get(outcome.model).aliases
    assert "challenger" in gate and "champion" not in gate  # champion only once promoted
    checks = {c["check"]: c for c in outcome.training.decision.checks}
    assert "most recent labelled production rows" in checks["beats champion"]["message"]
    deployment = store.deployments.get(spec.name)
    assert deployment.canary == outcome.model and deployment.stable == "flights@1"
    actions = [e.action for e in store.audit.list(spec.name)]
    assert actions[:2] == ["rollout", "retrain"]
    started = store.audit.list(spec.name, actions=["retrain"])[0]
    assert started.evidence["signals"] and started.evidence["reason"].startswith("retrain on")
    # while the rollout runs, the loop waits rather than retraining again
    again = run_pass(store, spec)
    assert again.plan is not None and again.plan.action == "wait"
    assert "rollout" in again.plan.reason


def test_a_restarted_loop_resumes_the_rollout_from_the_store(
    served: Server, store: Store, spec: Spec, project: Path, flights: pl.DataFrame
) -> None:
    """The rollout the previous test's loop started is carried on by a new loop process."""
    record = store.deployments.get(spec.name)
    assert controller.active_rollout(record) is not None and record.canary_weight == 50
    served.stop()  # from here on no server runs the controller: only a loop can
    log_traffic(store, spec, record, june(flights, 400, seed=1))
    time.sleep(2.1)  # the step's min_duration
    env = {**os.environ, "LOOPML_HOME": str(project / ".loopml")}
    for name in ("LOOPML_DB_URL", "LOOPML_ARTIFACTS"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-m", "loopml", "loop", "--max-passes", "2", "--interval", "1s"],
        cwd=project, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    events = store.deployments.list_events(spec.name)
    moved = [e for e in events if e.actor == "loop" and e.action in ("advance", "promote")]
    assert moved, [(e.action, e.actor, e.message) for e in events]
    assert store.deployments.get(spec.name).canary_weight >= 100 or moved[-1].action == "promote"


def test_cli_audit_and_retrain_refusal_during_a_rollout(
    cli: Any, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    code, out, _ = cli("audit", "--json")
    assert code == 0
    entries = orjson.loads(out)
    assert [e["action"] for e in entries][-2:] == ["rollout", "retrain"]
    assert {"at", "action", "model", "actor", "reason", "evidence"} <= set(entries[0])
    code, _, err = cli("retrain", "--reason", "by hand")
    assert code == 2 and "rollout" in err and "finish" in err


def test_invalid_training_data_stops_the_retrain_and_deploys_nothing(
    tmp_path: Path, flights: pl.DataFrame, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client started sending null distances: the retrain stops with the report."""
    root = make_project(tmp_path, flights)
    spec = parse_spec(SPEC)
    broken = june(flights, 1000).with_columns(pl.lit(None, dtype=pl.Int64).alias("distance"))
    predicted(root, broken)
    monkeypatch.chdir(root)
    code, out, err = cli("retrain", "--reason", "test")
    assert code == 1
    assert "distance" in out and "not_null" in out and "retrain stopped" in err
    with project_store(root) as store:
        assert [d.version for d in store.datasets.list("flights")] == [1]
        assert [m.version for m in store.models.list("flights")] == [1]
        assert store.deployments.get(spec.name).canary is None
        invalid = store.audit.list(spec.name, actions=["invalid"])
        assert invalid and invalid[0].evidence["validation"]["ok"] is False


def test_a_crashing_retrain_leaves_the_champion_serving_and_the_loop_running(
    tmp_path: Path, flights: pl.DataFrame
) -> None:
    root = make_project(tmp_path, flights)
    spec = parse_spec(SPEC)
    server = start(root)
    try:
        send(server, june(flights, 1500))
        logged(root, 1500)
        with project_store(root) as store:
            snapshot = get_version(store, "flights@1").record.snapshot_uri
            Path(snapshot.removeprefix("file://")).unlink()  # the training data is gone
            passes = run_loop(store, spec, interval=timedelta(seconds=0), max_passes=2)
            assert passes == 2
            failed = store.audit.list(spec.name, actions=["failed"])
            assert len(failed) == 1, "a crash is retried only once new labels arrive"
            assert "keeps serving" in failed[0].reason
            assert store.deployments.get(spec.name).stable == "flights@1"
            assert controller.active_rollout(store.deployments.get(spec.name)) is None
        answer = server.client.post("/predict", json=june(flights, 1).drop("late").to_dicts()[0] | {
            "scheduled_departure": "2013-06-01T08:00:00"
        })  # fmt: skip
        assert answer.status_code == 200 and answer.json()["model_version"] == "flights@1"
    finally:
        server.stop()


def test_manual_approval_proposes_then_approve_starts_the_canary(
    tmp_path: Path, flights: pl.DataFrame, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = SPEC + "retrain: {approval: manual}\n"
    root = make_project(tmp_path, flights, text)
    spec = parse_spec(text)
    predicted(root, june(flights, 3000))
    monkeypatch.chdir(root)
    code, out, _ = cli("retrain", "--json")
    assert code == 0, out
    proposal = orjson.loads(out)
    assert proposal["status"] == "proposed" and proposal["blessed"]
    with project_store(root) as store:
        assert store.deployments.get(spec.name).canary is None
        waiting = run_pass(store, spec)
        assert waiting.plan is not None and "waits for approval" in waiting.plan.reason
        with pytest.raises(RetrainError, match="not the pending proposal"):
            R.approve(store, spec, "1")
    code, out, _ = cli("retrain", "approve")
    assert code == 0 and proposal["model"] in out
    with project_store(root) as store:
        assert store.deployments.get(spec.name).canary == proposal["model"]
        assert store.audit.list(spec.name, limit=1)[0].action == "approved"
    code, _, err = cli("retrain", "approve")
    assert code == 2 and "no retrained model" in err


def test_too_few_labels_wait_without_using_the_trigger_up(
    tmp_path: Path, flights: pl.DataFrame
) -> None:
    root = make_project(tmp_path, flights)
    spec = parse_spec(SPEC)
    predicted(root, june(flights, 1000), labels=False)  # drift, but no labels yet
    with project_store(root) as store:
        first = run_pass(store, spec)
        assert first.plan is not None and first.plan.action == "retrain"
        assert first.outcome is None and "labelled production rows" in (first.error or "")
        second = run_pass(store, spec)
        assert second.plan is not None and second.plan.action == "retrain", "still pending"
        waits = store.audit.list(spec.name, actions=["wait"])
        assert len(waits) == 1, "said once, not once per pass"
        assert not store.audit.list(spec.name, actions=["retrain", "failed"])


def test_simulate_replays_never_loop_and_oracle_without_touching_the_project(
    project: Path,
    store: Store,
    flights: pl.DataFrame,
    cli: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    later = tmp_path / "later.parquet"
    flights.filter(pl.col("month").is_in([5, 6])).sample(3000, seed=2).write_parquet(later)
    models, datasets = len(store.models.list("flights")), len(store.datasets.list("flights"))
    champion = store.models.get("flights@champion").ref
    monkeypatch.chdir(project)
    code, out, err = cli("simulate", str(later), "--window-rows", "1000", "--json")
    assert code == 0, err
    result = orjson.loads(out)
    assert result["metric"] == "roc_auc"
    policies = result["policies"]
    assert set(policies) == {"never", "loop", "oracle"}
    for name, policy in policies.items():
        scores = [w["quality"] for w in policy["windows"]]
        assert len(scores) == 3 and all(0.5 < s < 1 for s in scores), (name, scores)
        assert policy["mean"] == pytest.approx(sum(scores) / 3)
    assert {w["model"] for w in policies["never"]["windows"]} == {champion}
    oracle = [w["model"] for w in policies["oracle"]["windows"]]
    assert oracle[0] == champion and len(set(oracle)) == 3, "the oracle retrains every window"
    events = result["retrains"]
    assert events, "June drifts from winter: the loop acts after the first window"
    for event in events:
        assert event["outcome"] in ("deployed", "rejected", "waiting", "invalid")
        if event["outcome"] in ("deployed", "rejected"):
            assert event["model"].startswith("flights@") and event["gate"]
    deployed = [e["model"] for e in events if e["outcome"] == "deployed"]
    loop_models = [w["model"] for w in policies["loop"]["windows"]]
    assert loop_models[0] == champion and set(loop_models) <= {champion, *deployed}
    assert len(set(loop_models)) - 1 == len([e for e in deployed if e in loop_models])
    assert len(store.models.list("flights")) == models, "a scratch store, not the project's"
    assert len(store.datasets.list("flights")) == datasets
    code, out, _ = cli("simulate", str(later), "--window", "fortnight")
    assert code == 2 and "expected an interval such as 1mo" in out + _


def test_one_retrain_at_a_time(tmp_path: Path, flights: pl.DataFrame) -> None:
    """A lease in the store: of eight racing takers one wins; a retrain refuses while another
    holds it, takes over a lease its dead holder left to expire, and gives it back."""
    from concurrent.futures import ThreadPoolExecutor

    root = make_project(tmp_path, flights)
    spec = parse_spec(SPEC)
    hour = timedelta(hours=1)

    def take(i: int) -> bool:
        with project_store(root) as own:
            return take_lease(own, spec.name, "race", f"taker {i}", ttl=hour) is None

    with project_store(root) as store:
        controller.ensure_deployment(store, spec)
        with ThreadPoolExecutor(8) as pool:
            assert sum(pool.map(take, range(8))) == 1
        assert take_lease(store, spec.name, "retrain", "another loop", ttl=hour) is None
        with pytest.raises(RetrainError, match="by another loop is running since"):
            R.retrain(store, spec)
        release_lease(store, spec.name, "retrain", "another loop")
        dead = timedelta(seconds=-1)  # a holder that died: its lease has run out
        assert take_lease(store, spec.name, "retrain", "a dead loop", ttl=dead) is None
        with pytest.raises(RetrainError, match="labelled production rows"):
            R.retrain(store, spec)  # past the lease; stops on the labels it lacks
        assert "retrain" not in store.deployments.get(spec.name).state["leases"]
