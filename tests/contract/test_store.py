"""The store contract, checked on every backend (the ``store``/``db_url`` fixtures are
parametrized over SQLite and a real PostgreSQL server), plus the artifact folder."""

from __future__ import annotations

import multiprocessing
import os
import socket
import sys
import time
import traceback
import uuid
from datetime import UTC
from pathlib import Path
from typing import Any

import alembic.command
import fsspec
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import event, insert, inspect, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from loopml.errors import NotFoundError, StoreError
from loopml.store import Artifacts, DatasetRecord, Store
from loopml.store._migrate import VERSION_TABLE, alembic_config, current_revision, head_revision
from loopml.store._tables import Base, Dataset, utcnow
from loopml.store.artifacts import check_key

TABLES = {
    "datasets",
    "runs",
    "models",
    "model_aliases",
    "deployments",
    "alerts",
    "incidents",
    "audit_log",
    "feedback",
    "rollout_events",
    "monitor_windows",
}


def add(store: Store, name: str, content_hash: str, **overrides: Any) -> tuple[DatasetRecord, bool]:
    fields: dict[str, Any] = {
        "n_rows": 10,
        "n_columns": 3,
        "schema": {"a": "int"},
        "profile": {},
        "snapshot_uri": f"mem://{name}/{content_hash}",
        "source": "test",
    }
    return store.datasets.add(name=name, content_hash=content_hash, **(fields | overrides))


def row_values(name: str, content_hash: str) -> dict[str, Any]:
    """Column values for a raw ``datasets`` row at version 1 (bypassing the store's logic)."""
    return {
        "name": name,
        "version": 1,
        "content_hash": content_hash,
        "n_rows": 1,
        "n_columns": 1,
        "schema": {},
        "profile": {},
        "snapshot_uri": "u",
        "source": "s",
        "created_at": utcnow(),
    }


def table_names(store: Store) -> set[str]:
    with store.engine.connect() as conn:
        return set(inspect(conn).get_table_names())


# -- migrations -------------------------------------------------------------------------------


def test_migrations_create_all_tables_at_head(store: Store) -> None:
    assert table_names(store) == TABLES | {VERSION_TABLE}
    with store.engine.connect() as conn:
        assert current_revision(conn) == head_revision()


def test_models_match_migrations(store: Store) -> None:
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], "the models in _tables.py differ from the migrations; add a revision"


def test_reopening_an_up_to_date_store_does_not_migrate(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("upgrade ran on an up-to-date store")

    monkeypatch.setattr(alembic.command, "upgrade", fail)
    with Store(store.db_url, str(tmp_path / "artifacts")) as again:
        assert again.datasets.list() == []


def add_lineage(store: Store) -> None:
    """A dataset, a run with a child run, and a model from the run with an alias."""
    dataset, _ = add(store, "flights", "h1")
    parent = store.runs.start(name="train", kind="train", dataset_id=dataset.id)
    child = store.runs.start(name="train/lightgbm", kind="candidate", parent_id=parent.id)
    store.runs.finish(child.id, metrics={"auc": 0.8})
    store.runs.finish(parent.id)
    store.models.register(name="delays", package_uri="p", sha256="0" * 64, run_id=parent.id)
    store.models.set_alias("delays", "champion", 1)


def test_downgrade_to_base_and_upgrade_again(store: Store, tmp_path: Path) -> None:
    add_lineage(store)
    with store.engine.begin() as conn:
        alembic.command.downgrade(alembic_config(conn), "base")
    assert table_names(store) == {VERSION_TABLE}
    with store.engine.begin() as conn:
        alembic.command.upgrade(alembic_config(conn), "head")
    assert table_names(store) == TABLES | {VERSION_TABLE}
    with store.engine.begin() as conn:
        alembic.command.downgrade(alembic_config(conn), "base")
    store.close()
    with Store(store.db_url, str(tmp_path / "artifacts")) as reopened:  # behind: upgrades itself
        assert table_names(reopened) == TABLES | {VERSION_TABLE}
        assert add(reopened, "flights", "h1")[0].version == 1


def test_0002_adds_run_lineage_columns_and_keeps_runs(store: Store, tmp_path: Path) -> None:
    add_lineage(store)  # on SQLite, models reference runs: a table rebuild would fail here
    before = store.runs.list()
    with store.engine.begin() as conn:
        alembic.command.downgrade(alembic_config(conn), "0001")
    with store.engine.connect() as conn:
        assert current_revision(conn) == "0001"
        columns = {column["name"] for column in inspect(conn).get_columns("runs")}
        assert not {"parent_id", "dataset_ref"} & columns
        assert conn.execute(text("SELECT count(*) FROM runs")).scalar() == 2
        assert conn.execute(text("SELECT count(*) FROM model_aliases")).scalar() == 1
    store.close()
    with Store(store.db_url, str(tmp_path / "artifacts")) as reopened:  # upgrades to 0002
        runs = reopened.runs.list()
        assert [(r.id, r.metrics, r.parent_id, r.dataset_ref) for r in runs] == [
            (r.id, r.metrics, None, None) for r in before
        ]
        assert reopened.models.get("delays@champion").run_id == before[-1].id
        child = reopened.runs.start(name="again", kind="candidate", parent_id=runs[-1].id)
        assert reopened.runs.list(parent_id=runs[-1].id) == [child]
        with pytest.raises(IntegrityError), reopened.session() as session:  # the foreign key holds
            session.execute(
                text("UPDATE runs SET parent_id = 999 WHERE id = :id"), {"id": child.id}
            )


def test_a_store_stamped_by_an_older_loopml_is_adopted(store: Store, tmp_path: Path) -> None:
    add(store, "flights", "h1")
    for other_tools_rows in ([], ["v3.2.0.a"]):  # e.g. Optuna's revision in the same table
        with store.engine.begin() as conn:  # loopml 0001 kept its revision in alembic_version
            alembic.command.downgrade(alembic_config(conn), "0001")
            conn.execute(text(f"DROP TABLE {VERSION_TABLE}"))
            conn.execute(
                text(
                    "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
                    "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
                )
            )
            for revision in ["0001", *other_tools_rows]:
                conn.execute(text("INSERT INTO alembic_version VALUES (:r)"), {"r": revision})
        store.close()
        with Store(store.db_url, str(tmp_path / "artifacts")) as reopened:
            assert [r.ref for r in reopened.datasets.list()] == ["flights@1"]
            assert reopened.runs.start(name="t", kind="train").parent_id is None  # at 0002
            with reopened.engine.connect() as conn:
                assert current_revision(conn) == head_revision()
                if other_tools_rows:
                    legacy = conn.execute(text("SELECT version_num FROM alembic_version"))
                    assert list(legacy.scalars()) == other_tools_rows
                else:
                    assert "alembic_version" not in inspect(conn).get_table_names()


def test_optuna_can_share_the_database(db_url: str, tmp_path: Path) -> None:
    optuna = pytest.importorskip("optuna")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storages = [optuna.storages.RDBStorage(db_url)]  # Optuna first, on an empty database
    try:
        study = optuna.create_study(storage=storages[0], study_name="tune")
        with Store(db_url, str(tmp_path)) as store:  # then loopml, with its own version table
            assert add(store, "flights", "h1")[1]
            study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=2)
            assert TABLES | {VERSION_TABLE, "alembic_version", "studies"} <= table_names(store)
        storages.append(optuna.storages.RDBStorage(db_url))  # and Optuna again
        assert len(optuna.load_study(storage=storages[1], study_name="tune").trials) == 2
        with Store(db_url, str(tmp_path)) as reopened:
            assert [r.ref for r in reopened.datasets.list()] == ["flights@1"]
    finally:
        for storage in storages:
            storage.engine.dispose()


def test_database_newer_than_the_code_is_refused(store: Store, tmp_path: Path) -> None:
    with store.engine.begin() as conn:
        conn.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = '9999_future'"))
    with pytest.raises(StoreError, match=r"'9999_future'.*upgrade loopml"):
        Store(store.db_url, str(tmp_path / "artifacts"))


# -- datasets ---------------------------------------------------------------------------------


def test_add_dataset_is_idempotent_on_content_hash(store: Store) -> None:
    first, created = add(store, "flights", "h1")
    again, created_again = add(store, "flights", "h1", n_rows=999)
    assert (created, created_again) == (True, False)
    assert again == first
    assert [r.ref for r in store.datasets.list()] == ["flights@1"]


def test_versions_increment_per_name(store: Store) -> None:
    pairs = [("a", "1"), ("b", "1"), ("a", "2"), ("a", "3"), ("b", "2")]
    refs = [add(store, name, h)[0].ref for name, h in pairs]
    assert refs == ["a@1", "b@1", "a@2", "a@3", "b@2"]


def test_get_dataset_by_ref_variants(store: Store) -> None:
    for h in ("h1", "h2", "h3"):
        add(store, "flights", h)
    assert store.datasets.get("flights").version == 3
    assert store.datasets.get("flights@latest").version == 3
    assert store.datasets.get("flights@2").content_hash == "h2"
    assert store.datasets.get("flights@1").ref == "flights@1"


def test_not_found_messages_name_the_fix(store: Store) -> None:
    with pytest.raises(NotFoundError, match="no datasets yet"):
        store.datasets.get("flights")
    add(store, "flights", "h1")
    add(store, "flights", "h2")
    add(store, "weather", "h1")
    with pytest.raises(NotFoundError, match=r"did you mean 'flights'\?.*weather"):
        store.datasets.get("flight")
    with pytest.raises(NotFoundError, match=r"no version 7 \(versions: 1, 2\)"):
        store.datasets.get("flights@7")
    for bad_ref in ("flights@v2", "flights@0", "@3", ""):
        with pytest.raises(StoreError, match="expected") as info:
            store.datasets.get(bad_ref)
        assert not isinstance(info.value, NotFoundError)


@pytest.mark.parametrize("name", ["", "a@b", "../x", "a/b", "-x", "x" * 129, "naïve"])
def test_invalid_names_are_rejected(store: Store, name: str) -> None:
    with pytest.raises(StoreError, match="invalid dataset name"):
        add(store, name, "h1")


def test_list_orders_by_name_then_version(store: Store) -> None:
    for name, h in [("b", "1"), ("a", "1"), ("b", "2"), ("c", "1"), ("a", "2")]:
        add(store, name, h)
    assert [r.ref for r in store.datasets.list()] == ["a@1", "a@2", "b@1", "b@2", "c@1"]
    assert [r.ref for r in store.datasets.list("b")] == ["b@1", "b@2"]
    assert store.datasets.list("nope") == []


def test_json_round_trip(store: Store) -> None:
    schema = {"columns": {"dep_delay": {"kind": "numeric", "nullable": True}}, "order": ["x"]}
    profile = {
        "floats": [0.1, 1e-300, 1.7976931348623157e308, -2.5, 3.0],
        "ints": [0, -1, 2**62],
        "text": '✈ Zürich → 東京 "quoted" \\ \n',
        "nested": {"a": {"b": {"c": [True, False, None, {"d": []}]}}},
    }
    created, _ = add(store, "flights", "h1", schema=schema, profile=profile)
    loaded = store.datasets.get("flights")
    assert loaded.schema == schema
    assert loaded.profile == profile
    assert loaded == created
    nan, _ = add(store, "nan", "h1", profile={"mean": float("nan"), "max": float("inf")})
    assert nan.profile == store.datasets.get("nan").profile == {"mean": None, "max": None}
    assert loaded.created_at.tzinfo is not None
    assert loaded.created_at.utcoffset() == UTC.utcoffset(None)


def test_failed_writes_leave_nothing(store: Store) -> None:
    with pytest.raises(StoreError, match="profile must be JSON-serializable"):
        add(store, "flights", "h1", profile={"bad": object()})
    with pytest.raises(RuntimeError), store.session() as session:
        session.add(Dataset(**row_values("ghost", "h")))
        session.flush()
        raise RuntimeError("boom")
    assert store.datasets.list() == []
    with store.session() as session:  # and a clean block commits
        session.add(Dataset(**row_values("real", "h")))
    assert [r.ref for r in store.datasets.list()] == ["real@1"]


def test_repr_masks_the_password(store: Store) -> None:
    assert "secret" not in repr(store)
    if "@" in store.db_url:
        assert "***" in repr(store)


# -- concurrency ------------------------------------------------------------------------------

WORKERS, PER_WORKER = 4, 3


def _concurrent_worker(db_url: str, root: str, worker: int, barrier: Any, results: Any) -> None:
    """Open a fresh store at the same moment as the others, then add shared and own datasets."""
    try:
        barrier.wait(timeout=60)
        created = 0
        with Store(db_url, root) as store:
            for j in range(PER_WORKER):
                created += add(store, "shared", "same-content")[1]
                add(store, "multi", f"worker{worker}-{j}")
        results.put((worker, created, None))
    except BaseException:
        results.put((worker, 0, traceback.format_exc()))


def test_concurrent_first_open_and_adds(db_url: str, tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(WORKERS), ctx.Queue()
    procs = [
        ctx.Process(target=_concurrent_worker, args=(db_url, str(tmp_path), i, barrier, results))
        for i in range(WORKERS)
    ]
    for proc in procs:
        proc.start()
    outcomes = [results.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
    errors = [error for _, _, error in outcomes if error]
    assert not errors, errors[0]
    assert sum(created for _, created, _ in outcomes) == 1
    with Store(db_url, str(tmp_path)) as store:
        assert [r.version for r in store.datasets.list("shared")] == [1]
        multi = store.datasets.list("multi")
    assert [r.version for r in multi] == list(range(1, WORKERS * PER_WORKER + 1))
    assert len({r.content_hash for r in multi}) == WORKERS * PER_WORKER


@pytest.mark.parametrize("their_hash", ["theirs", "same"])
def test_a_writer_that_loses_a_race_retries(store: Store, their_hash: str) -> None:
    if store.engine.dialect.name == "sqlite":
        pytest.skip("on SQLite, BEGIN IMMEDIATE serializes writers, so this race cannot happen")
    raced: list[bool] = []

    def commit_a_rival_row_first(session: Session, *_: object) -> None:
        if not raced:  # between our read of max(version) and our insert
            raced.append(True)
            with store.engine.begin() as other:
                other.execute(insert(Dataset).values(**row_values("race", their_hash)))

    event.listen(Session, "before_flush", commit_a_rival_row_first)
    try:
        record, created = add(store, "race", "same")
    finally:
        event.remove(Session, "before_flush", commit_a_rival_row_first)
    assert raced
    assert (record.version, created) == ((2, True) if their_hash == "theirs" else (1, False))
    assert len(store.datasets.list("race")) == (2 if their_hash == "theirs" else 1)


# -- connection errors ------------------------------------------------------------------------


def test_sqlite_runs_in_wal_mode_with_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a' / 'b' / 'loopml.db'}"
    with Store(url, str(tmp_path)) as store, store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    assert (tmp_path / "a" / "b" / "loopml.db").is_file()


def test_unreachable_postgres_fails_fast_and_clearly(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connections are refused
        started = time.monotonic()
        with pytest.raises(StoreError) as info:
            Store(f"postgresql+psycopg://loopml:s3cret@127.0.0.1:{port}/loopml", str(tmp_path))
    assert time.monotonic() - started < 5
    message = str(info.value)
    assert f"127.0.0.1:{port}" in message and "***" in message and "s3cret" not in message
    assert "LOOPML_DB_URL" in message and "running" in message


@pytest.mark.postgres
def test_missing_postgres_database_fails_clearly(postgres_server: Any, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"database \"no_such_db\" does not exist.*LOOPML_DB_URL"):
        Store(postgres_server.url("no_such_db"), str(tmp_path))


def test_bad_sqlite_paths_fail_clearly(tmp_path: Path) -> None:
    regular = tmp_path / "a-file"
    regular.write_text("not a folder")
    with pytest.raises(StoreError, match=r"cannot create the folder .*a-file.*LOOPML_DB_URL"):
        Store(f"sqlite:///{regular}/sub/loopml.db", str(tmp_path))
    with pytest.raises(StoreError, match=r"cannot open the metadata database .*LOOPML_DB_URL"):
        Store(f"sqlite:///{tmp_path}", str(tmp_path))  # a folder, not a database file


def test_missing_driver_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(StoreError, match=r"pip install 'loopml\[postgres\]'"):
        Store("postgresql://loopml@localhost/loopml", str(tmp_path))


def test_bad_urls_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="did you mean 'postgresql'"):
        Store("postgres://u:p@localhost/db", str(tmp_path))
    with pytest.raises(StoreError, match="cannot parse database URL"):
        Store("not a url", str(tmp_path))


def test_open_uses_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("LOOPML_HOME", "LOOPML_DB_URL", "LOOPML_ARTIFACTS"):
        monkeypatch.delenv(var, raising=False)
    with Store.open(tmp_path / "home") as store:
        assert add(store, "flights", "h1")[1]
        assert store.artifacts.root == str((tmp_path / "home" / "artifacts").resolve())
    assert (tmp_path / "home" / "loopml.db").is_file()


# -- artifacts --------------------------------------------------------------------------------


def test_artifact_round_trip(tmp_path: Path) -> None:
    art = Artifacts(tmp_path / "root")
    uri = art.put_bytes("datasets/flights/1/data.bin", b"\x00payload")
    assert uri == str(tmp_path / "root" / "datasets/flights/1/data.bin")
    assert art.exists("datasets/flights/1/data.bin") and not art.exists("datasets/other")
    assert art.get_bytes("datasets/flights/1/data.bin") == b"\x00payload"
    assert art.local_path("datasets/flights/1/data.bin").read_bytes() == b"\x00payload"
    source = tmp_path / "model.txt"
    source.write_text("tree 1")
    art.put_file("models/m/1/model.txt", source)
    with art.open("models/m/1/model.txt", "r") as fh:
        assert fh.read() == "tree 1"
    with art.open("notes/é.txt", "w") as fh:
        fh.write("ünïcode")
    assert art.get_bytes("notes/é.txt").decode() == "ünïcode"
    with pytest.raises(NotFoundError, match="no artifact 'missing'"):
        art.get_bytes("missing")


def test_artifact_writes_are_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    art = Artifacts(tmp_path)
    art.put_bytes("x/data.bin", b"old")
    with pytest.raises(RuntimeError), art.open("x/data.bin", "wb") as fh:
        fh.write(b"new but partial")
        raise RuntimeError("crash mid-write")
    with pytest.raises(RuntimeError), art.open("x/fresh.bin", "wb") as fh:
        fh.write(b"partial")
        raise RuntimeError("crash mid-write")

    def broken_copy(src: Any, dst: Any, length: int = 0) -> None:
        dst.write(src.read(2))
        raise OSError("disk full")

    monkeypatch.setattr("shutil.copyfileobj", broken_copy)
    (tmp_path / "src.bin").write_bytes(b"abcdef")
    with pytest.raises(OSError, match="disk full"):
        art.put_file("x/copied.bin", tmp_path / "src.bin")
    assert art.get_bytes("x/data.bin") == b"old"
    assert sorted(os.listdir(tmp_path / "x")) == ["data.bin"]  # no partial or temporary files


@pytest.mark.parametrize(
    "key", ["../x", "/etc/passwd", "a/../../b", "a//b", "./a", "a/.", "", "a\\b", "C:/x", "~/x"]
)
def test_unsafe_artifact_keys_are_rejected(tmp_path: Path, key: str) -> None:
    art = Artifacts(tmp_path)
    with pytest.raises(StoreError, match="artifact key"):
        art.put_bytes(key, b"x")
    with pytest.raises(StoreError, match="artifact key"):
        art.exists(key)


@settings(database=None)
@given(st.text(alphabet="ab./\\:~\x00-_", max_size=12))
def test_accepted_keys_stay_under_the_root(key: str) -> None:
    root = "/srv/loopml-artifacts"
    try:
        check_key(key)
    except StoreError:
        return
    resolved = os.path.normpath(os.path.join(root, key))
    assert resolved.startswith(root + os.sep)


def test_artifacts_on_an_fsspec_url() -> None:
    root = f"memory://loopml-test-{uuid.uuid4().hex}"
    art = Artifacts(root)
    try:
        uri = art.put_bytes("a/b.bin", b"data")
        assert uri == art.uri("a/b.bin") and uri.startswith("memory://")
        assert art.get_bytes("a/b.bin") == b"data" and art.exists("a/b.bin")
        with pytest.raises(StoreError, match="not a local folder"):
            art.local_path("a/b.bin")
    finally:
        fsspec.filesystem("memory").rm(art.fs._strip_protocol(root), recursive=True)


def test_opening_waits_for_a_writer_before_switching_a_fresh_file_to_wal(tmp_path: Path) -> None:
    """SQLite refuses to switch the journal mode while another process writes, at once and
    whatever the busy timeout ("database is locked"): the store waits for the writer instead."""
    import sqlite3
    import threading

    path = tmp_path / "loopml.db"
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("CREATE TABLE other_tool (x)")
    writer.execute("BEGIN IMMEDIATE")  # a rollback-journal writer, mid-transaction
    writer.execute("INSERT INTO other_tool VALUES (1)")
    release = threading.Timer(0.5, lambda: writer.execute("COMMIT"))
    release.start()
    try:
        with Store(f"sqlite:///{path}", tmp_path / "artifacts") as store:
            assert store.datasets.list() == []
    finally:
        release.join()
        writer.close()
    probe = sqlite3.connect(path)
    assert probe.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    probe.close()


def test_labels_of_every_json_kind_come_back_as_sent(store: Store) -> None:
    """SQLite reads a column declared JSON with numeric affinity: the label 1 comes back as a
    number, not as JSON text, and must still read back (it once raised in the decoder)."""
    sent = {"a": 1, "b": 0.5, "c": "x", "d": True, "e": "1", "f": [1, "b"], "g": None}
    store.feedback.add(list(sent.items()))
    assert store.feedback.labels(list(sent)) == sent
    assert [f.label for f in store.feedback.list()] == list(sent.values())
    assert store.feedback.count() == len(sent)
