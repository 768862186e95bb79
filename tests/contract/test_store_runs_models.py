"""The store contract for runs (experiment tracking) and models (the registry's metadata),
checked on every backend (the ``store``/``db_url`` fixtures are parametrized over SQLite and a
real PostgreSQL server)."""

from __future__ import annotations

import hashlib
import multiprocessing
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, insert, select
from sqlalchemy.orm import Session

from loopml.errors import NotFoundError, StoreError
from loopml.store import ModelRecord, RunRecord, Store
from loopml.store._tables import Model, ModelAlias, utcnow


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def register(store: Store, name: str = "delays", **overrides: Any) -> ModelRecord:
    fields: dict[str, Any] = {"package_uri": f"mem://models/{name}", "sha256": sha(name)}
    return store.models.register(name=name, **(fields | overrides))


def alias_rows(store: Store) -> list[tuple[str, str, int]]:
    with store.session(write=False) as session:
        query = (
            select(ModelAlias.name, ModelAlias.alias, Model.version)
            .join(Model, Model.id == ModelAlias.model_id)
            .order_by(ModelAlias.name, ModelAlias.alias)
        )
        return [tuple(row) for row in session.execute(query)]


# -- runs -------------------------------------------------------------------------------------


def test_run_lifecycle_merges_what_is_logged(store: Store) -> None:
    run = store.runs.start(name="train", kind="train", params={"lr": 0.1, "depth": 3})
    assert (run.status, run.ended_at, run.duration_s, run.error) == ("running", None, None, None)
    assert (run.metrics, run.artifacts, run.parent_id, run.dataset_ref) == ({}, {}, None, None)
    logged = store.runs.log(run.id, metrics={"auc": 0.7}, params={"depth": 5, "seed": 1})
    assert logged.params == {"lr": 0.1, "depth": 5, "seed": 1}
    store.runs.log(run.id, artifacts={"report": "runs/1/report.html"})
    done = store.runs.finish(run.id, metrics={"auc": 0.8, "f1": 0.6}, artifacts={"card": "c.md"})
    assert done.status == "finished" and done.error is None
    assert done.metrics == {"auc": 0.8, "f1": 0.6}
    assert done.artifacts == {"report": "runs/1/report.html", "card": "c.md"}
    assert done.ended_at is not None and done.ended_at >= done.started_at
    assert done.duration_s is not None and 0 <= done.duration_s < 60
    assert store.runs.get(run.id) == store.runs.get(str(run.id)) == done


def test_a_run_ends_once(store: Store) -> None:
    failed = store.runs.start(name="train", kind="train")
    ended = store.runs.finish(failed.id, status="failed", error="ValueError: bad column")
    assert (ended.status, ended.error) == ("failed", "ValueError: bad column")
    for status in ("finished", "failed"):
        with pytest.raises(StoreError, match=rf"cannot finish run {failed.id} .*'failed'"):
            store.runs.finish(failed.id, status=status, metrics={"auc": 1.0})
    for results in ({"metrics": {"auc": 1.0}}, {"params": {"lr": 1}, "artifacts": {"a": "b"}}):
        with pytest.raises(StoreError, match=r"log params or metrics .*'failed'.*start a new run"):
            store.runs.log(failed.id, **results)
    assert store.runs.get(failed.id) == ended  # the refused writes changed nothing
    reported = store.runs.log(failed.id, artifacts={"report": "runs/1/report.html"})
    assert reported.artifacts == {"report": "runs/1/report.html"}  # made after the end: allowed
    assert reported == replace(ended, artifacts=reported.artifacts)
    running = store.runs.start(name="train", kind="train")
    with pytest.raises(StoreError, match="'finished' or 'failed', got status 'done'"):
        store.runs.finish(running.id, status="done")
    with pytest.raises(StoreError, match="error is recorded only for failed runs"):
        store.runs.finish(running.id, error="oops")
    assert store.runs.get(running.id).status == "running"
    assert store.runs.finish(running.id).status == "finished"


def test_child_runs_and_listings(store: Store) -> None:
    parent = store.runs.start(name="train", kind="train")
    children = [
        store.runs.start(name=f"train/cand {i}", kind="candidate", parent_id=parent.id)
        for i in range(3)
    ]
    other = store.runs.start(name="tune", kind="tune")
    trial = store.runs.start(name="trial-0", kind="trial", parent_id=other.id)
    ids = lambda runs: [r.id for r in runs]  # noqa: E731
    assert ids(store.runs.list()) == [trial.id, other.id, *ids(children)[::-1], parent.id]
    assert ids(store.runs.list(top_level=True)) == [other.id, parent.id]
    assert ids(store.runs.list(parent_id=parent.id)) == ids(children)[::-1]
    assert ids(store.runs.list(kind="candidate", limit=2)) == ids(children)[:0:-1]
    assert ids(store.runs.list(name="train")) == [parent.id]
    assert store.runs.list(name="nope") == []
    assert {c.parent_id for c in children} == {parent.id}
    with pytest.raises(StoreError, match=r"either parent_id .* or top_level"):
        store.runs.list(parent_id=parent.id, top_level=True)
    with pytest.raises(StoreError, match="limit must be a positive integer"):
        store.runs.list(limit=0)
    with pytest.raises(
        NotFoundError, match=rf"no parent run with id 999 \(newest runs: {trial.id}"
    ):
        store.runs.start(name="orphan", kind="trial", parent_id=999)
    assert len(store.runs.list()) == 6  # nothing half-written


def test_run_dataset_link(store: Store) -> None:
    dataset, _ = store.datasets.add(
        name="flights", content_hash="h1", n_rows=1, n_columns=1, schema={}, profile={},
        snapshot_uri="u", source="s",
    )  # fmt: skip
    run = store.runs.start(name="train", kind="train", dataset_id=dataset.id)
    assert (run.dataset_id, run.dataset_ref) == (dataset.id, "flights@1")
    both = store.runs.start(name="t", kind="train", dataset_id=dataset.id, dataset_ref="flights@1")
    assert both.dataset_ref == "flights@1"
    external = store.runs.start(name="t", kind="train", dataset_ref="s3://bucket/flights.parquet")
    assert (external.dataset_id, external.dataset_ref) == (None, "s3://bucket/flights.parquet")
    with pytest.raises(StoreError, match=r"'flights@2' does not match dataset_id .*'flights@1'"):
        store.runs.start(name="t", kind="train", dataset_id=dataset.id, dataset_ref="flights@2")
    with pytest.raises(NotFoundError, match="no dataset with id 999 for run 't'"):
        store.runs.start(name="t", kind="train", dataset_id=999)
    with pytest.raises(StoreError, match="dataset_ref must be at most 160 characters"):
        store.runs.start(name="t", kind="train", dataset_ref="x" * 161)
    assert len(store.runs.list()) == 3


def test_run_json_round_trip(store: Store) -> None:
    params = {"grid": {"depth": [3, 5, None]}, "lr": 1e-300, "big": 2**62, "flag": True}
    environment = {"python": "3.11.9", "packages": {"lightgbm": "4.5.0"}, "host": "Zürich ✈"}
    spec = {"task": "binary", "target": "dep_delay_15", "slices": [["origin"], []]}
    run = store.runs.start(
        name="train", kind="train", params=params, environment=environment, spec=spec,
        code_version="git:4a7ef1d+dirty",
    )  # fmt: skip
    done = store.runs.finish(run.id, metrics={"auc": 0.91, "loss": float("nan")})
    loaded = store.runs.get(run.id)
    assert (loaded.params, loaded.environment, loaded.spec) == (params, environment, spec)
    assert loaded.metrics == done.metrics == {"auc": 0.91, "loss": None}
    assert loaded.code_version == "git:4a7ef1d+dirty"
    assert loaded.started_at.utcoffset() == UTC.utcoffset(None)
    assert isinstance(loaded, RunRecord) and loaded == done


def test_run_not_found_and_bad_ids(store: Store) -> None:
    with pytest.raises(NotFoundError, match="no run with id 3: the store has no runs yet"):
        store.runs.get(3)
    runs = [store.runs.start(name="train", kind="train") for _ in range(7)]
    newest = ", ".join(str(r.id) for r in runs[::-1][:5])
    with pytest.raises(NotFoundError, match=rf"no run with id 999 \(newest runs: {newest}\)"):
        store.runs.get("999")
    with pytest.raises(NotFoundError, match="no run with id 999"):
        store.runs.finish(999)
    for bad in ("abc", "0", 0, -1, True, "1.5", None):
        with pytest.raises(StoreError, match="expected a run id") as info:
            store.runs.get(bad)  # type: ignore[arg-type]
        assert not isinstance(info.value, NotFoundError)


INVALID_RUNS: list[tuple[dict[str, Any], str]] = [
    ({"name": " "}, "invalid run name ' '"),
    ({"name": ""}, "invalid run name ''"),
    ({"name": "a\nb"}, "invalid run name 'a.{2}b'"),
    ({"name": "x" * 129}, "invalid run name"),
    ({"kind": "Train"}, "invalid run kind 'Train'"),
    ({"kind": "x" * 33}, "invalid run kind"),
    ({"params": {"bad": object()}}, "params must be JSON-serializable"),
    ({"spec": [1, 2]}, "spec must be a dict, got list"),
    ({"code_version": "x" * 129}, "code_version must be at most 128 characters"),
    ({"parent_id": "x"}, "expected a parent run id"),
]


def test_invalid_run_inputs_are_refused(store: Store) -> None:
    for fields, message in INVALID_RUNS:
        with pytest.raises(StoreError, match=message):
            store.runs.start(**({"name": "train", "kind": "train"} | fields))
    assert store.runs.list() == []


def test_concurrent_logs_to_one_run_lose_nothing(store: Store) -> None:
    run = store.runs.start(name="tune", kind="tune")
    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(lambda i: store.runs.log(run.id, metrics={f"trial{i}": i}), range(12)))
    assert store.runs.get(run.id).metrics == {f"trial{i}": i for i in range(12)}


# -- models -----------------------------------------------------------------------------------


def test_model_versions_increment_per_name(store: Store) -> None:
    run = store.runs.start(name="train", kind="train")
    first = register(store, "delays", run_id=run.id, metrics={"auc": 0.8}, note="baseline")
    assert (first.ref, first.status, first.aliases, first.run_id) == (
        "delays@1", "registered", (), run.id,
    )  # fmt: skip
    assert (first.metrics, first.note, first.sha256) == ({"auc": 0.8}, "baseline", sha("delays"))
    refs = [register(store, name).ref for name in ("delays", "churn", "delays", "churn")]
    assert refs == ["delays@2", "churn@1", "delays@3", "churn@2"]
    upper = register(store, "churn", sha256=sha("x").upper())
    assert upper.sha256 == sha("x")  # stored lowercase
    assert [m.ref for m in store.models.list()] == [
        "churn@1", "churn@2", "churn@3", "delays@1", "delays@2", "delays@3",
    ]  # fmt: skip
    assert [m.ref for m in store.models.list("delays")] == ["delays@1", "delays@2", "delays@3"]
    assert store.models.get("delays@1") == first
    assert store.models.get("delays@1").created_at.utcoffset() == UTC.utcoffset(None)


def test_get_model_resolves_versions_aliases_and_latest(store: Store) -> None:
    for _ in range(3):
        register(store)
    store.models.set_alias("delays", "champion", 2)
    store.models.set_alias("delays", "challenger_v2", 3)
    assert store.models.get("delays").version == store.models.get("delays@latest").version == 3
    assert store.models.get("delays@2").version == 2
    champion = store.models.get("delays@champion")
    assert (champion.version, champion.aliases) == (2, ("champion",))
    assert store.models.get("delays@challenger_v2").aliases == ("challenger_v2",)


def test_aliases_set_move_and_remove(store: Store) -> None:
    for _ in range(2):
        register(store)
    register(store, "churn")
    assert store.models.set_alias("delays", "champion", 1).aliases == ("champion",)
    store.models.set_alias("churn", "champion", 1)  # aliases are per model name
    moved = store.models.set_alias("delays", "champion", 2)
    assert (moved.version, moved.aliases) == (2, ("champion",))
    assert store.models.get("delays@1").aliases == ()
    assert store.models.set_alias("delays", "champion", 2) == moved  # idempotent
    assert store.models.set_alias("delays", "b-side", 2).aliases == ("b-side", "champion")
    assert [m.aliases for m in store.models.list("delays")] == [(), ("b-side", "champion")]
    assert alias_rows(store) == [
        ("churn", "champion", 1), ("delays", "b-side", 2), ("delays", "champion", 2),
    ]  # fmt: skip
    store.models.remove_alias("delays", "champion")
    assert store.models.get("delays@2").aliases == ("b-side",)
    with pytest.raises(NotFoundError, match=r"no alias 'champion'.*aliases: b-side → 2"):
        store.models.remove_alias("delays", "champion")
    with pytest.raises(NotFoundError, match="no alias 'champion'"):
        store.models.get("delays@champion")
    with pytest.raises(NotFoundError, match=r"no model named 'delay'; did you mean 'delays'\?"):
        store.models.remove_alias("delay", "b-side")
    with pytest.raises(NotFoundError, match=r"has no version 5 \(versions: 1, 2;"):
        store.models.set_alias("delays", "champion", 5)
    assert alias_rows(store) == [("churn", "champion", 1), ("delays", "b-side", 2)]


def test_archive_removes_aliases_and_hides_from_latest(store: Store) -> None:
    for _ in range(3):
        register(store)
    store.models.set_alias("delays", "champion", 3)
    store.models.set_alias("delays", "shadow", 3)
    archived = store.models.archive("delays@champion", note="worse on JFK")
    assert (archived.version, archived.status, archived.aliases) == (3, "archived", ())
    assert archived.note == "worse on JFK"
    assert alias_rows(store) == []
    assert store.models.get("delays").version == 2
    assert store.models.get("delays@3") == archived
    assert [m.version for m in store.models.list("delays")] == [1, 2]
    assert [m.version for m in store.models.list(include_archived=True)] == [1, 2, 3]
    assert store.models.archive("delays@3", note="ignored") == archived  # a no-op
    with pytest.raises(
        StoreError, match=r"cannot point alias 'champion' at .*'delays@3'.*archived"
    ):
        store.models.set_alias("delays", "champion", 3)
    assert alias_rows(store) == []
    store.models.archive("delays")  # the newest active version: 2
    store.models.archive("delays@1")
    with pytest.raises(NotFoundError, match=r"no active version.*1 \(archived\).*'delays@3'"):
        store.models.get("delays")
    assert store.models.list() == []
    assert store.models.set_note("delays@1", "kept for audits").note == "kept for audits"


def test_set_model_note(store: Store) -> None:
    register(store, note="first")
    register(store)
    store.models.set_alias("delays", "champion", 1)
    noted = store.models.set_note("delays@champion", "blessed by review #12")
    assert (noted.version, noted.note, noted.aliases) == (1, "blessed by review #12", ("champion",))
    assert store.models.set_note("delays", "").note == ""
    assert store.models.get("delays@1").note == "blessed by review #12"
    with pytest.raises(StoreError, match="note must be a string"):
        store.models.set_note("delays", None)  # type: ignore[arg-type]


def test_model_not_found_messages(store: Store) -> None:
    with pytest.raises(NotFoundError, match="no model named 'delays': the registry has no models"):
        store.models.get("delays")
    for _ in range(2):
        register(store)
    register(store, "churn")
    store.models.set_alias("delays", "champion", 1)
    store.models.archive("delays@2")
    with pytest.raises(NotFoundError, match=r"did you mean 'delays'\? \(known models: churn, del"):
        store.models.get("delay@1")
    with pytest.raises(
        NotFoundError,
        match=r"'delays' has no version 7 \(versions: 1, 2 \(archived\); aliases: champion → 1\)",
    ):
        store.models.get("delays@7")
    with pytest.raises(NotFoundError, match=r"no alias 'champ'; did you mean 'champion'\?"):
        store.models.get("delays@champ")
    with pytest.raises(NotFoundError, match=r"no alias 'x' \(versions: 1; no aliases\)"):
        store.models.archive("churn@x")


BAD_REFS = [
    ("delays@0", "invalid version or alias '0'"),
    ("delays@", "invalid version or alias ''"),
    ("delays@a b", "invalid version or alias 'a b'"),
    ("delays@1@2", "invalid version or alias '1@2'"),
    ("@1", "expected a model reference"),
    ("", "expected a model reference"),
    ("../x@1", "invalid model name '../x'"),
]
INVALID_ALIASES = [
    ("123", "cannot be all digits"),
    ("latest", "'latest' always means"),
    ("LATEST", "'latest' always means"),
    ("a b", "expected 1-64 letters"),
    ("", "expected 1-64 letters"),
    ("-x", "expected 1-64 letters"),
    ("a.b", "expected 1-64 letters"),
    ("x" * 65, "expected 1-64 letters"),
]


def test_bad_refs_and_aliases_are_refused(store: Store) -> None:
    register(store)
    for ref, message in BAD_REFS:
        for call in (store.models.get, store.models.archive):
            with pytest.raises(StoreError, match=message) as info:
                call(ref)
            assert not isinstance(info.value, NotFoundError)
    for alias, message in INVALID_ALIASES:
        with pytest.raises(StoreError, match=f"invalid alias .*{message}"):
            store.models.set_alias("delays", alias, 1)
        with pytest.raises(StoreError, match=f"invalid alias .*{message}"):
            store.models.remove_alias("delays", alias)
    assert alias_rows(store) == []
    assert store.models.get("delays").status == "registered"


INVALID_MODELS: list[tuple[dict[str, Any], str]] = [
    ({"name": "a/b"}, "invalid model name 'a/b'"),
    ({"name": "x" * 129}, "invalid model name"),
    ({"sha256": "abc"}, "sha256 must be the package's SHA-256 as 64 hex digits"),
    ({"sha256": "g" * 64}, "sha256 must be"),
    ({"package_uri": ""}, "package_uri must be a non-empty string"),
    ({"metrics": {"auc": object()}}, "metrics must be JSON-serializable"),
    ({"note": 3}, "note must be a string"),
    ({"run_id": 42}, "no run with id 42"),
]


def test_failed_model_writes_leave_nothing(store: Store) -> None:
    for fields, message in INVALID_MODELS:
        with pytest.raises(StoreError, match=message):
            register(store, **fields)
    assert store.models.list(include_archived=True) == []
    assert register(store).version == 1  # no version number was used up
    with pytest.raises(NotFoundError, match="no version 2"):
        store.models.set_alias("delays", "champion", 2)
    with pytest.raises(NotFoundError, match="no model named 'churn'"):
        store.models.set_note("churn", "x")
    assert alias_rows(store) == []
    assert store.models.get("delays@1").note is None


# -- concurrency ------------------------------------------------------------------------------

WORKERS, PER_WORKER = 3, 4


def _register_worker(db_url: str, root: str, worker: int, barrier: Any, results: Any) -> None:
    """Register versions of one shared model name and point one shared alias at each."""
    try:
        barrier.wait(timeout=60)
        versions = []
        with Store(db_url, root) as store:
            for j in range(PER_WORKER):
                record = register(store, "shared", sha256=sha(f"{worker}-{j}"))
                store.models.set_alias("shared", "champion", record.version)
                versions.append(record.version)
        results.put((worker, versions, None))
    except BaseException:
        results.put((worker, [], traceback.format_exc()))


def test_concurrent_registration_gives_contiguous_versions(db_url: str, tmp_path: Path) -> None:
    with Store(db_url, str(tmp_path)):
        pass  # migrate first: concurrent first opens are covered in test_store.py
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(WORKERS), ctx.Queue()
    procs = [
        ctx.Process(target=_register_worker, args=(db_url, str(tmp_path), i, barrier, results))
        for i in range(WORKERS)
    ]
    for proc in procs:
        proc.start()
    outcomes = [results.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
    errors = [error for _, _, error in outcomes if error]
    assert not errors, errors[0]
    total = WORKERS * PER_WORKER
    assert sorted(v for _, versions, _ in outcomes for v in versions) == list(range(1, total + 1))
    with Store(db_url, str(tmp_path)) as store:
        models = store.models.list("shared")
        assert [m.version for m in models] == list(range(1, total + 1))
        assert len({m.sha256 for m in models}) == total
        assert [m.version for m in models if m.aliases] == [
            store.models.get("shared@champion").version
        ]
        assert len(alias_rows(store)) == 1


def test_a_registration_that_loses_a_race_retries(store: Store) -> None:
    if store.engine.dialect.name == "sqlite":
        pytest.skip("on SQLite, BEGIN IMMEDIATE serializes writers, so this race cannot happen")
    raced: list[bool] = []

    def commit_a_rival_first(session: Session, *_: object) -> None:
        if not raced:  # between our read of max(version) and our insert
            raced.append(True)
            with store.engine.begin() as other:
                other.execute(
                    insert(Model).values(
                        name="race", version=1, package_uri="theirs", sha256=sha("theirs"),
                        metrics={}, status="registered", created_at=utcnow(),
                    )
                )  # fmt: skip

    event.listen(Session, "before_flush", commit_a_rival_first)
    try:
        ours = register(store, "race", package_uri="ours")
    finally:
        event.remove(Session, "before_flush", commit_a_rival_first)
    assert raced and (ours.version, ours.package_uri) == (2, "ours")
    assert [m.package_uri for m in store.models.list("race")] == ["theirs", "ours"]


def test_an_alias_set_that_loses_a_race_moves_the_winner(store: Store) -> None:
    if store.engine.dialect.name == "sqlite":
        pytest.skip("on SQLite, BEGIN IMMEDIATE serializes writers, so this race cannot happen")
    first, second = register(store), register(store)
    raced: list[bool] = []

    def commit_a_rival_alias_first(session: Session, *_: object) -> None:
        if not raced:  # between our read of the alias and our insert
            raced.append(True)
            with store.engine.begin() as other:
                other.execute(
                    insert(ModelAlias).values(name="delays", alias="champion", model_id=first.id)
                )

    event.listen(Session, "before_flush", commit_a_rival_alias_first)
    try:
        moved = store.models.set_alias("delays", "champion", second.version)
    finally:
        event.remove(Session, "before_flush", commit_a_rival_alias_first)
    assert raced and moved.aliases == ("champion",)
    assert alias_rows(store) == [("delays", "champion", 2)]


# -- deployments ------------------------------------------------------------------------------


def test_deployment_changes_are_compare_and_set_with_their_event(store: Store) -> None:
    one, two = register(store), register(store)
    fresh = store.deployments.get("delays")
    assert fresh.revision == 0 and fresh.stable is None
    saved = store.deployments.save(fresh, stable=one.ref)
    assert saved is not None and saved.revision == 1 and saved.stable == "delays@1"
    assert store.deployments.save(fresh, stable=two.ref) is None  # read before the first save
    event = {
        "rollout_id": "r1",
        "action": "start",
        "model_ref": two.ref,
        "weight": 5.0,
        "message": "started",
        "checks": [{"name": "requests", "verdict": "wait", "measured": 0, "threshold": 200}],
        "actor": "test",
    }
    state = {"rollout": {"id": "r1", "status": "running"}}
    canary = store.deployments.save(
        saved, stable=one.ref, canary=two.ref, canary_weight=5, state=state, event=event
    )
    assert canary is not None and canary.canary == "delays@2" and canary.canary_weight == 5
    assert canary.state == state and store.deployments.get("delays") == canary
    promoted = store.deployments.save(canary, stable=two.ref, champion=two.ref)
    assert promoted is not None and promoted.canary is None
    assert store.models.get("delays@champion").ref == "delays@2"
    events = store.deployments.list_events("delays", rollout_id="r1")
    assert [e.action for e in events] == ["start"] and events[0].checks == event["checks"]
    with pytest.raises(StoreError, match="percentage"):
        store.deployments.save(promoted, stable=two.ref, canary_weight=150)
    with pytest.raises(NotFoundError):
        store.deployments.save(promoted, stable="delays@9")
    assert store.deployments.get("delays") == promoted  # failed writes left nothing behind
