"""Reading a SQL source read-only: one query, or one table, through a SQLAlchemy URL.

A source is somebody else's database, and loopml never writes to it, whatever the query says:

- **SQLite** (``sqlite:///path``): the file must exist (a URL to a missing file is refused, never
  created), and it is opened through a ``file:...?mode=ro`` URI. While the query runs, an
  authorizer lets it read tables and call functions and nothing else, so even the TEMP database
  (writable under ``mode=ro``) and ``ATTACH`` are out of reach.
- **PostgreSQL** (``postgresql://`` uses psycopg 3, as the store does): the transaction is
  ``READ ONLY`` from its first statement and is rolled back at the end; every statement goes
  through the extended protocol (psycopg's ``prepare_threshold=0``), which refuses a string of
  several statements, so a ``COMMIT`` cannot end the read-only transaction half-way.
- Other databases are refused: loopml cannot promise to open them read-only.

A query is a single statement starting with ``SELECT`` or ``WITH``; anything else is a table name,
quoted by the dialect's identifier preparer (a name that cannot be an identifier is refused).
Every failure is a :class:`~loopml.errors.DataError` naming the source with its password masked.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import polars as pl

from loopml.errors import DataError, did_you_mean
from loopml.store import mask_url

if TYPE_CHECKING:
    from sqlalchemy.engine import URL, Connection
    from sqlalchemy.sql import Executable

_QUERY_START = re.compile(r"\s*(select|with)\b", re.IGNORECASE)
_BACKENDS = ("sqlite", "postgresql")
_READ_ONLY = "the source is opened read-only"
#: What a SQLite statement may do while loopml reads a source (see :func:`_authorizer`).
_SQLITE_ALLOWED = {
    sqlite3.SQLITE_SELECT,
    sqlite3.SQLITE_READ,
    sqlite3.SQLITE_FUNCTION,
    sqlite3.SQLITE_RECURSIVE,
}
_SQLITE_SCHEMA = {"sqlite_master", "sqlite_schema", "sqlite_temp_master", "sqlite_temp_schema"}
#: Pragmas that only describe the schema: a query may read them as ``pragma_table_info('t')``.
_SQLITE_READ_PRAGMAS = {
    "table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo",
    "foreign_key_list", "database_list", "collation_list", "function_list", "module_list",
    "pragma_list", "compile_options",
}  # fmt: skip
_SQLITE_ACTIONS = {
    sqlite3.SQLITE_INSERT: "INSERT into",
    sqlite3.SQLITE_UPDATE: "UPDATE",
    sqlite3.SQLITE_DELETE: "DELETE from",
    sqlite3.SQLITE_ATTACH: "ATTACH",
    sqlite3.SQLITE_DETACH: "DETACH",
    sqlite3.SQLITE_PRAGMA: "run the PRAGMA",
    sqlite3.SQLITE_TRANSACTION: "control the transaction:",
    sqlite3.SQLITE_CREATE_TABLE: "CREATE TABLE",
    sqlite3.SQLITE_CREATE_TEMP_TABLE: "CREATE TEMP TABLE",
    sqlite3.SQLITE_DROP_TABLE: "DROP TABLE",
    sqlite3.SQLITE_ALTER_TABLE: "ALTER TABLE",
}


def is_query(text: str) -> bool:
    """Whether ``--query`` text is a statement (``SELECT``/``WITH``) rather than a table name."""
    return _QUERY_START.match(text) is not None


def read_sql(url: str, query: str | None) -> pl.DataFrame:
    """Run ``query`` (a statement or a table name) on the database at ``url``, read-only."""
    import sqlalchemy as sa

    shown = masked(url)
    if not query or not query.strip():
        raise DataError(
            f"{shown} is a database URL: pass --query with a SELECT statement or a table name"
        )
    _check_text(query, "the query" if is_query(query) else "the table name")
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise DataError(
            f"cannot parse the database URL {shown!r}: expected e.g. sqlite:///path/to/file.db "
            "or postgresql://user:password@host:5432/database"
        ) from exc
    backend = parsed.get_backend_name()
    kwargs: dict[str, Any] = {}
    if backend == "sqlite":
        parsed = _sqlite_url(parsed, shown)
    elif backend == "postgresql":
        parsed, kwargs = _postgresql_url(parsed, shown)
    else:
        raise DataError(
            f"cannot read {shown} read-only: loopml reads SQL sources from "
            f"{' and '.join(_BACKENDS)} only{did_you_mean(backend, _BACKENDS)}, got {backend!r}; "
            "export the data to Parquet or CSV and pass that file instead"
        )
    try:
        engine = sa.create_engine(parsed, **kwargs)
    except Exception as exc:  # a missing driver, a bad option
        raise DataError(f"cannot use the database URL {shown}: {_reason(exc)}") from exc
    try:
        connection = engine.connect()
    except sa.exc.SQLAlchemyError as exc:
        engine.dispose()
        raise DataError(
            f"cannot reach the database {shown}: {_reason(exc)}; "
            "check the URL, that the server runs, and the credentials"
        ) from exc
    try:
        with connection:
            if is_query(query):
                columns, rows = _run(connection, query, shown)
            else:
                columns, rows = _read_table(connection, query.strip(), shown)
    finally:
        engine.dispose()
    try:
        return pl.DataFrame(rows, schema=columns, orient="row", infer_schema_length=None)
    except pl.exceptions.DuplicateError as exc:
        raise DataError(
            f"the query on {shown} returns several columns with the same name "
            f"({', '.join(columns)}): give each column its own name with AS"
        ) from exc
    except (pl.exceptions.PolarsError, TypeError, ValueError) as exc:
        raise DataError(
            f"cannot make a table of the rows the query on {shown} returns ({_reason(exc)}): "
            "cast the columns to plain numbers, text or dates in the SELECT"
        ) from exc


def _run(
    connection: Connection, statement: str | Executable, shown: str
) -> tuple[list[str], list[Any]]:
    """Execute ``statement`` in a read-only transaction and fetch every row; never commits.

    A query's text goes to the driver as it is (``no_parameters``: a ``%`` or ``:name`` in it is
    SQL, not a placeholder); a table's ``SELECT`` is compiled by SQLAlchemy.
    """
    import sqlalchemy as sa

    sqlite = connection.dialect.name == "sqlite"
    denied: list[str] = []
    raw: Any = connection.connection.driver_connection
    try:
        if sqlite:
            raw.set_authorizer(lambda *args: _authorizer(denied, *args))
        else:
            connection.exec_driver_sql("SET TRANSACTION READ ONLY")
        result = (
            connection.execution_options(no_parameters=True).exec_driver_sql(statement)
            if isinstance(statement, str)
            else connection.execute(statement)
        )
        return list(result.keys()), [tuple(row) for row in result.fetchall()]
    except sa.exc.StatementError as exc:
        if getattr(exc, "connection_invalidated", False):
            raise DataError(
                f"lost the connection to {shown} while reading: {_reason(exc)}; "
                "check that the server still runs, then retry"
            ) from exc
        raise _query_error(exc, denied, shown) from exc
    finally:
        if sqlite:
            raw.set_authorizer(None)
        if not connection.invalidated:
            connection.rollback()


def _authorizer(denied: list[str], action: int, arg1: str | None, arg2: str | None, *_: Any) -> int:
    """SQLite's authorizer: allow reading and functions; record and deny anything else."""
    if (
        action in _SQLITE_ALLOWED
        # SQLite asks to "update" the schema table when a query first uses a table-valued
        # function (json_each, pragma_table_info); a real write to it is refused by SQLite
        # itself (it needs PRAGMA writable_schema, denied here) and by mode=ro
        or (action == sqlite3.SQLITE_UPDATE and arg1 in _SQLITE_SCHEMA)
        or (action == sqlite3.SQLITE_PRAGMA and (arg1 or "").lower() in _SQLITE_READ_PRAGMAS)
    ):
        return sqlite3.SQLITE_OK
    target = f"{arg1}.{arg2}" if action == sqlite3.SQLITE_UPDATE else arg1 or ""
    denied.append(f"{_SQLITE_ACTIONS.get(action, f'do action {action} on')} {target}".strip())
    return sqlite3.SQLITE_DENY


def _query_error(exc: Any, denied: list[str], shown: str) -> DataError:
    reason = _reason(exc)
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if denied or sqlstate == "25006" or "readonly database" in reason:
        what = f"the query tries to {denied[0]}" if denied else reason
        return DataError(
            f"{_READ_ONLY}: {what} on {shown}; loopml only reads sources, so pass a SELECT "
            "statement (no INSERT, UPDATE, DELETE or DDL, not even inside WITH) or a table name"
        )
    if "one statement at a time" in reason or "multiple commands" in reason:
        return DataError(
            f"the query on {shown} holds more than one statement ({reason}): "
            "pass a single SELECT statement"
        )
    if "file is not a database" in reason:
        return DataError(f"{shown} is not a SQLite database ({reason}): check the path")
    return DataError(f"the query failed on {shown}: {reason}")


def _read_table(connection: Connection, name: str, shown: str) -> tuple[list[str], list[Any]]:
    """Every row of the table (or view) ``name``; a missing one is named with a close match."""
    import sqlalchemy as sa

    try:
        return _run(connection, _select_table(name), shown)
    except DataError as exc:
        try:
            inspector = sa.inspect(connection)
            tables = sorted({*inspector.get_table_names(), *inspector.get_view_names()})
        except sa.exc.SQLAlchemyError:
            raise exc from exc.__cause__
        if name in tables:
            raise
        listed = ", ".join(tables[:12]) + (", …" if len(tables) > 12 else "") or "none"
        raise DataError(
            f"no table or view named {name!r} in {shown}{did_you_mean(name, tables)} "
            f"(tables and views: {listed}); a query must start with SELECT or WITH"
        ) from exc


def _select_table(name: str) -> Executable:
    """``SELECT * FROM <name>``, the name always quoted by the dialect's identifier preparer."""
    import sqlalchemy as sa

    return sa.select(sa.text("*")).select_from(sa.table(sa.sql.quoted_name(name, quote=True)))


def _check_text(text: str, what: str) -> None:
    """Refuse text no database takes as SQL: a NUL character, or one that is not Unicode."""
    if "\x00" in text:
        raise DataError(
            f"{what} {text!r} holds a NUL character (\\x00), which no SQL identifier or statement "
            "may contain: remove it"
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise DataError(
            f"{what} {text!r} is not valid Unicode ({exc.reason} at position {exc.start}): "
            "pass it as UTF-8 text"
        ) from exc


def _sqlite_url(url: URL, shown: str) -> URL:
    """The URL of the existing SQLite file behind ``url``, as a ``mode=ro`` URI."""
    if url.get_driver_name() != "pysqlite":
        raise DataError(
            f"cannot read {shown} read-only through the driver {url.get_driver_name()!r}: "
            "use a plain sqlite:///path/to/file.db URL"
        )
    query = dict(url.query)
    database = url.database or ""
    options: dict[str, str] = {}
    memory = False
    if str(query.pop("uri", "")).lower() in ("true", "1") and database.startswith("file:"):
        parts = urlsplit(database)
        database = unquote(parts.path)
        options = dict(parse_qsl(parts.query))
        memory = options.pop("mode", None) == "memory"
        options.pop("vfs", None)
    if memory or database in ("", ":memory:"):
        raise DataError(
            f"{shown} is an in-memory SQLite database, which holds no data to read: "
            "name the file, as in sqlite:///path/to/file.db"
        )
    path = Path(database).expanduser()
    if not path.is_file():
        parent = path.parent
        nearby = [p.name for p in parent.iterdir()] if parent.is_dir() else []
        kind = (
            "a folder, not a SQLite database file," if path.is_dir() else "no SQLite database file"
        )
        raise DataError(
            f"{shown} names {kind} at {path.resolve()}: loopml opens a source read-only and "
            "never creates one; check the path (sqlite:///relative/path.db or "
            f"sqlite:////absolute/path.db){did_you_mean(path.name, nearby)}"
        )
    uri = f"file:{quote(str(path.resolve()))}"
    return url.set(database=uri, query={**query, **options, "mode": "ro", "uri": "true"})


def _postgresql_url(url: URL, shown: str) -> tuple[URL, dict[str, Any]]:
    """psycopg 3 with every statement prepared (one statement per execute) and a timeout."""
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    if url.get_driver_name() != "psycopg":
        raise DataError(
            f"cannot read {shown} read-only through the driver {url.get_driver_name()!r}: "
            "use psycopg 3, as in postgresql+psycopg://user:password@host/database "
            "(pip install 'loopml[postgres]')"
        )
    connect_args: dict[str, Any] = {"prepare_threshold": 0}
    if "connect_timeout" not in url.query:
        connect_args["connect_timeout"] = 10
    return url, {"connect_args": connect_args}


def masked(url: str) -> str:
    """``url`` with its password masked, for messages; whatever follows ``@`` if unparsable."""
    try:
        return mask_url(url)
    except Exception:  # not even a URL: show only what follows any credentials
        return url.split("@")[-1]


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip()
    return text.splitlines()[0] if text else type(orig).__name__
