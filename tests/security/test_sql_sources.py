"""SQL sources are read, never written: whatever ``--query`` says, the source is untouched.

Each case runs on a real SQLite file (whose bytes must not change) and on the real PostgreSQL
server the suite starts (whose row counts must not change): data-modifying statements inside
``WITH``, several statements in one query, table names that try to break out of their quotes,
and SQLite URLs to files that do not exist (refused, never created). Table names are also
checked by property: any string is either read as exactly that table or refused.
"""

from __future__ import annotations

import hashlib
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from loopml.data.io import read_source
from loopml.data.sql import is_query
from loopml.errors import DataError
from tests.plugins.postgres import PostgresServer

ROWS = 5
READ_ONLY = "the source is opened read-only"
ONE_STATEMENT = "holds more than one statement"

#: Statements that would change the source, each written as a query loopml runs.
WRITES = {
    "delete": "WITH x AS (SELECT 1) DELETE FROM flights WHERE delay >= 0 RETURNING *",
    "update": "WITH x AS (SELECT 1) UPDATE flights SET delay = -1 RETURNING *",
    "insert": "WITH x AS (SELECT 1) INSERT INTO flights SELECT * FROM flights RETURNING *",
}
#: PostgreSQL also takes a data-modifying statement inside WITH (SQLite has no such thing).
PG_WRITES = {
    **WRITES,
    "delete-in-cte": "WITH gone AS (DELETE FROM flights RETURNING *) SELECT * FROM gone",
    "update-in-cte": "WITH moved AS (UPDATE flights SET delay = -1 RETURNING *) SELECT 1 AS a",
}
#: Several statements in one query: the later ones would drop or empty the table.
MULTI = {
    "drop": "SELECT * FROM flights; DROP TABLE flights",
    "commit-then-delete": "SELECT * FROM flights; COMMIT; DELETE FROM flights",
    "commit-then-drop": "SELECT 1 AS a; COMMIT; DROP TABLE flights; SELECT 1 AS a",
}
#: Table names that would run SQL of their own if pasted between quotes.
INJECTED = [
    'flights" UNION SELECT 1, 2 --',
    'flights"; DROP TABLE flights; --',
    'flights" WHERE 1 = 0 UNION SELECT 9, 9 --',
]


#: Any string, with the characters that break naive quoting (quotes, separators) made common.
NAMES = st.text(st.one_of(st.sampled_from("\"'`;-[]() \t\n"), st.characters()), max_size=24)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sqlite_source(path: Path) -> str:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE flights (id INTEGER, delay REAL)")
        db.executemany("INSERT INTO flights VALUES (?, ?)", [(i, i * 1.5) for i in range(ROWS)])
    db.close()
    return f"sqlite:///{path}"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _sqlite_rows(path: Path) -> int:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        count = db.execute("SELECT count(*) FROM flights").fetchone()[0]
    db.close()
    return int(count)


@pytest.fixture()
def sqlite_source(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    folder = tmp_path / "source"
    folder.mkdir()
    path = folder / "src.db"
    url = _sqlite_source(path)
    before = _digest(path)
    yield url, path
    assert _digest(path) == before, "the SQLite source file changed"
    assert _sqlite_rows(path) == ROWS
    assert sorted(p.name for p in folder.iterdir()) == ["src.db"]  # no file was created


@pytest.fixture()
def pg_source(postgres_server: PostgresServer) -> Iterator[str]:
    url = postgres_server.create_database()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE flights (id INTEGER, delay DOUBLE PRECISION)"))
        conn.execute(
            text("INSERT INTO flights SELECT i, i * 1.5 FROM generate_series(0, :n) AS i"),
            {"n": ROWS - 1},
        )
        conn.execute(text("CREATE SEQUENCE flight_ids"))
    yield url
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM flights")).scalar_one() == ROWS
        assert conn.execute(text("SELECT min(delay) FROM flights")).scalar_one() == 0
    engine.dispose()
    postgres_server.drop_database(url)


# -- SQLite ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("query", WRITES.values(), ids=WRITES.keys())
def test_sqlite_writes_are_refused(sqlite_source: tuple[str, Path], query: str) -> None:
    url, _ = sqlite_source
    with pytest.raises(DataError, match=READ_ONLY):
        read_source(url, query=query)


@pytest.mark.parametrize("query", MULTI.values(), ids=MULTI.keys())
def test_sqlite_refuses_several_statements(sqlite_source: tuple[str, Path], query: str) -> None:
    url, _ = sqlite_source
    with pytest.raises(DataError, match=ONE_STATEMENT):
        read_source(url, query=query)


@pytest.mark.parametrize("name", INJECTED)
def test_sqlite_table_name_cannot_escape_its_quotes(
    sqlite_source: tuple[str, Path], name: str
) -> None:
    url, _ = sqlite_source
    with pytest.raises(DataError, match="no table or view named"):
        read_source(url, query=name)


def test_sqlite_reads_still_work_and_odd_names_are_quoted(tmp_path: Path) -> None:
    path, odd = tmp_path / "src.db", 'we"ird name'
    url = _sqlite_source(path)
    with sqlite3.connect(path) as db:
        db.execute(f"CREATE TABLE {_ident(odd)} (a INTEGER)")
        db.execute(f"INSERT INTO {_ident(odd)} VALUES (7)")
    db.close()
    before = _digest(path)
    assert read_source(url, query="flights").height == ROWS
    assert read_source(url, query="with d as (select * from flights) select * from d").height == 5
    assert read_source(url, query='we"ird name')["a"].to_list() == [7]
    assert read_source(url, query="SELECT 'a:b' AS c, '100%' AS d").row(0) == ("a:b", "100%")
    functions = (
        "SELECT j.value AS v FROM json_each('[1, 2]') AS j, pragma_table_info('flights') AS p"
    )
    assert read_source(url, query=functions).height == 4
    with pytest.raises(DataError, match=r"no table or view named 'Flight'.*did you mean 'flights'"):
        read_source(url, query="Flight")
    assert _digest(path) == before


def test_sqlite_a_path_with_uri_characters_is_opened_read_only(tmp_path: Path) -> None:
    folder = tmp_path / "a b#c%zz&mode=rwc"  # each would change a file: URI if not escaped
    folder.mkdir()
    path = folder / "src#mode=rw.db"
    url = _sqlite_source(path)
    before = _digest(path)
    assert read_source(url, query="flights").height == ROWS
    with pytest.raises(DataError, match=READ_ONLY):
        read_source(url, query=WRITES["delete"])
    assert _digest(path) == before and sorted(p.name for p in folder.iterdir()) == [path.name]


def test_sqlite_missing_file_is_refused_not_created(tmp_path: Path) -> None:
    (tmp_path / "source.db").write_bytes(b"")
    missing = tmp_path / "sorce.db"
    with pytest.raises(DataError, match="names no SQLite database file") as info:
        read_source(f"sqlite:///{missing}", query="SELECT 1 AS a")
    assert str(missing) in str(info.value) and "did you mean 'source.db'" in str(info.value)
    assert not missing.exists()
    with pytest.raises(DataError, match="names a folder"):
        read_source(f"sqlite:///{tmp_path}", query="SELECT 1 AS a")
    for memory in ("sqlite://", "sqlite:///:memory:"):
        with pytest.raises(DataError, match="in-memory SQLite database"):
            read_source(memory, query="SELECT 1 AS a")


def test_sqlite_a_uri_asking_for_write_access_is_still_read_only(
    sqlite_source: tuple[str, Path],
) -> None:
    _, path = sqlite_source
    url = f"sqlite:///file:{path}?mode=rwc&uri=true"
    assert read_source(url, query="flights").height == ROWS
    with pytest.raises(DataError, match=READ_ONLY):
        read_source(url, query=WRITES["delete"])


@pytest.mark.parametrize("command", [["data", "add"], ["init"]], ids=["data add", "init"])
def test_the_cli_refuses_a_writing_query(
    sqlite_source: tuple[str, Path], cli: Any, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    url, path = sqlite_source
    project = path.parent.parent / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    monkeypatch.setenv("LOOPML_HOME", str(project / ".loopml"))
    monkeypatch.delenv("LOOPML_DB_URL", raising=False)
    monkeypatch.delenv("LOOPML_ARTIFACTS", raising=False)
    extra = ["--target", "delay"] if command == ["init"] else []
    code, _, err = cli(*command, url, "--query", WRITES["delete"], *extra)
    assert code != 0 and READ_ONLY in err and "Traceback" not in err


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=NAMES)
def test_any_sqlite_table_name_is_read_exactly_or_refused(name: str) -> None:
    assume(not is_query(name) and not name.strip().lower().startswith("sqlite_"))
    assume(name.strip().lower() != "canary")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "src.db")
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE canary (x INTEGER)")
            db.execute("INSERT INTO canary VALUES (1)")
            try:
                db.execute(f"CREATE TABLE {_ident(name)} (marker TEXT)")
                db.execute(f"INSERT INTO {_ident(name)} VALUES ('mine')")
                readable = name == name.strip() != ""  # loopml strips the name; "" is no name
            except (sqlite3.Error, ValueError, UnicodeEncodeError):
                readable = False  # a name SQLite cannot hold: loopml must refuse it too
        db.close()
        before = _digest(path)
        try:
            frame = read_source(f"sqlite:///{path}", query=name)
        except DataError:
            assert not readable, f"the table {name!r} exists but was refused"
        else:
            assert frame.columns == ["marker"] and frame["marker"].to_list() == ["mine"]
        assert _digest(path) == before
        assert sorted(p.name for p in Path(folder).iterdir()) == ["src.db"]


# -- PostgreSQL -----------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize("query", PG_WRITES.values(), ids=PG_WRITES.keys())
def test_postgres_writes_are_refused(pg_source: str, query: str) -> None:
    with pytest.raises(DataError, match=READ_ONLY) as info:
        read_source(pg_source, query=query)
    assert "pg-test-secret" not in str(info.value)


@pytest.mark.postgres
@pytest.mark.parametrize("query", MULTI.values(), ids=MULTI.keys())
def test_postgres_refuses_several_statements(pg_source: str, query: str) -> None:
    with pytest.raises(DataError, match=ONE_STATEMENT):
        read_source(pg_source, query=query)


@pytest.mark.postgres
@pytest.mark.parametrize("name", INJECTED)
def test_postgres_table_name_cannot_escape_its_quotes(pg_source: str, name: str) -> None:
    with pytest.raises(DataError, match="no table or view named"):
        read_source(pg_source, query=name)


@pytest.mark.postgres
def test_postgres_reads_in_a_read_only_transaction(pg_source: str) -> None:
    frame = read_source(pg_source, query="SELECT current_setting('transaction_read_only') AS ro")
    assert frame["ro"].to_list() == ["on"]
    assert read_source(pg_source, query="flights").height == ROWS
    assert read_source(pg_source, query="SELECT '100%' AS p, 'a:b' AS c").row(0) == ("100%", "a:b")
    with pytest.raises(DataError, match=READ_ONLY):
        read_source(pg_source, query="SELECT nextval('flight_ids') AS n FROM flights")
    odd = '100% "odd":name %(x)s'
    engine = create_engine(pg_source)
    with engine.begin() as conn:
        conn = conn.execution_options(no_parameters=True)
        conn.exec_driver_sql(f"CREATE TABLE {_ident(odd)} AS SELECT 7 AS a")
    engine.dispose()
    assert read_source(pg_source, query=odd)["a"].to_list() == [7]


@pytest.fixture(scope="module")
def pg_names(postgres_server: PostgresServer) -> Iterator[tuple[str, Any]]:
    url = postgres_server.create_database()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE canary (x INTEGER)"))
        conn.execute(text("INSERT INTO canary VALUES (1)"))
    yield url, engine
    engine.dispose()
    postgres_server.drop_database(url)


@pytest.mark.postgres
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=NAMES)
def test_any_postgres_table_name_is_read_exactly_or_refused(
    pg_names: tuple[str, Any], name: str
) -> None:
    url, engine = pg_names
    assume(not is_query(name) and name.strip() != "canary")
    created = readable = False
    try:
        with engine.begin() as conn:
            conn = conn.execution_options(no_parameters=True)
            conn.exec_driver_sql(f"CREATE TABLE {_ident(name)} (marker TEXT)")
            conn.exec_driver_sql(f"INSERT INTO {_ident(name)} VALUES ('mine')")
        created, readable = True, name == name.strip() != ""
    except (SQLAlchemyError, ValueError, UnicodeError):
        pass  # a name PostgreSQL cannot hold: loopml must refuse it too
    try:
        frame = read_source(url, query=name)
    except DataError:
        assert not readable, f"the table {name!r} exists but was refused"
    else:
        assert frame.columns == ["marker"] and frame["marker"].to_list() == ["mine"]
    finally:
        if created:
            with engine.begin() as conn:
                conn = conn.execution_options(no_parameters=True)
                conn.exec_driver_sql(f"DROP TABLE {_ident(name)}")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM canary")).scalar_one() == 1
        tables = conn.execute(text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"))
        assert tables.scalar_one() == 1
