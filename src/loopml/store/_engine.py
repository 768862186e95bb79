"""The engine for a store URL (with clear errors for every way it can fail), and the sessions
every repository of the :class:`~loopml.store.Store` writes through (:class:`Sessions`).

SQLite is the embedded default and gets the settings that make it a safe shared store:

- ``journal_mode=WAL``: readers never block the writer and a crash never corrupts committed data;
  ``synchronous=NORMAL`` is the documented pairing (durable across process crashes).
- ``busy_timeout=30000``: a writer waits up to 30 s for another process's write instead of failing.
- ``foreign_keys=ON``: SQLite ignores foreign keys unless asked.
- SQLAlchemy, not the ``sqlite3`` module, emits ``BEGIN`` (the documented recipe), so DDL is
  transactional and a transaction can be opened with ``BEGIN IMMEDIATE``: pass the execution
  option ``loopml_sqlite_begin="IMMEDIATE"`` to take the write lock up front. Without it, a
  transaction that reads then writes can fail with "database is locked" whatever the timeout,
  because another process committed after its snapshot was taken.

PostgreSQL URLs without a driver (``postgresql://``) use psycopg 3, the driver the
``loopml[postgres]`` extra installs; a ``connect_timeout`` of 10 s is added unless the URL sets one.

Every public write of a repository is one transaction through :meth:`Sessions.write`, which
retries when a concurrent writer wins a race, so a concurrent writer cannot corrupt it.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from loopml.errors import StoreError, did_you_mean

SQLITE_BEGIN_OPTION = "loopml_sqlite_begin"
_KNOWN_BACKENDS = ("sqlite", "postgresql")
_DRIVER_EXTRAS = {"psycopg": "postgres", "psycopg2": "postgres", "asyncpg": "postgres"}
_URL_HINT = "check LOOPML_DB_URL (or the db_url argument)"
WRITE_ATTEMPTS = 8
T = TypeVar("T")


def mask_url(url: str | URL) -> str:
    """The URL as a string with its password replaced by ``***``, safe for logs and errors."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparsable URL>"


def _json_loads(value: Any) -> Any:
    # SQLite gives a column declared JSON numeric affinity: a stored '1' (a label of 1) comes
    # back as the number 1, not as JSON text
    return value if isinstance(value, int | float) else orjson.loads(value)


def _json_dumps(value: Any) -> str:
    # orjson: fast, UTF-8 as-is, NaN/inf become null on both backends (PostgreSQL rejects NaN in
    # JSONB), numpy scalars and arrays serialize without a custom hook.
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS).decode()


def parse_url(db_url: str) -> URL:
    """Parse ``db_url`` into a SQLAlchemy URL, or raise :class:`StoreError` saying what is wrong."""
    try:
        url = make_url(db_url)
    except ArgumentError as exc:
        raise StoreError(
            f"cannot parse database URL {db_url!r}: expected e.g. 'sqlite:////abs/path/loopml.db' "
            f"or 'postgresql+psycopg://user:pass@host:5432/db'; {_URL_HINT}"
        ) from exc
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return url


def _prepare_sqlite_file(url: URL) -> None:
    database = url.database
    if not database or database == ":memory:" or url.query.get("uri") or "mode=memory" in database:
        return
    folder = Path(database).expanduser().parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            f"cannot create the folder {str(folder)!r} for the SQLite database "
            f"{mask_url(url)!r}: {exc.strerror or exc}; point LOOPML_DB_URL (or LOOPML_HOME) at a "
            "writable folder"
        ) from exc


def _on_sqlite_connect(dbapi_connection: sqlite3.Connection, _record: ConnectionPoolEntry) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (see module doc)
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA busy_timeout=30000")
        _wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def _wal(cursor: sqlite3.Cursor) -> None:
    """Switch a database to WAL (persistent: once per file). Switching needs a moment alone with
    the file, and SQLite does not always wait for it with the busy timeout: when processes open
    a fresh database at once, it says "locked" at once. So wait here, for up to 30 s."""
    deadline = time.monotonic() + 30
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _on_sqlite_begin(conn: Connection) -> None:
    mode = conn.get_execution_options().get(SQLITE_BEGIN_OPTION, "DEFERRED")
    if mode not in ("DEFERRED", "IMMEDIATE", "EXCLUSIVE"):
        raise StoreError(
            f"{SQLITE_BEGIN_OPTION} must be DEFERRED, IMMEDIATE or EXCLUSIVE, got {mode!r}"
        )
    conn.exec_driver_sql(f"BEGIN {mode}")


def create_store_engine(db_url: str) -> Engine:
    """An engine for ``db_url``, configured for loopml (see module doc). Does not connect yet.

    Raises :class:`StoreError` for an unparsable URL, an unknown backend, or a missing driver.
    """
    url = parse_url(db_url)
    backend = url.get_backend_name()
    kwargs: dict[str, Any] = {"json_serializer": _json_dumps, "json_deserializer": _json_loads}
    if backend == "sqlite":
        _prepare_sqlite_file(url)
    elif backend == "postgresql" and "connect_timeout" not in url.query:
        kwargs["connect_args"] = {"connect_timeout": 10}
    try:
        engine = create_engine(url, pool_pre_ping=backend != "sqlite", **kwargs)
    except NoSuchModuleError as exc:
        raise StoreError(
            f"unknown database kind '{url.drivername}' in {mask_url(url)!r}"
            f"{did_you_mean(backend, _KNOWN_BACKENDS)}; loopml supports "
            f"{' and '.join(_KNOWN_BACKENDS)}; {_URL_HINT}"
        ) from exc
    except ImportError as exc:
        module = (exc.name or url.get_driver_name()).split(".")[0]
        extra = _DRIVER_EXTRAS.get(module)
        fix = f"pip install 'loopml[{extra}]'" if extra else f"pip install {module}"
        raise StoreError(
            f"the database driver '{module}' for {mask_url(url)!r} is not installed; run `{fix}`"
        ) from exc
    if backend == "sqlite":
        event.listen(engine, "connect", _on_sqlite_connect)
        event.listen(engine, "begin", _on_sqlite_begin)
    return engine


def describe_connect_error(url: str | URL, exc: BaseException) -> StoreError:
    """A :class:`StoreError` for a failed first connection: which URL, why, and how to fix it."""
    orig = getattr(exc, "orig", None) or exc
    reason = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
    if make_url(url).get_backend_name() == "sqlite":
        fix = "is the path a writable file in a writable folder, and not in use by another tool?"
    else:
        fix = "is the server running and reachable, and are the credentials right?"
    return StoreError(
        f"cannot open the metadata database {mask_url(url)!r}: {reason}; {fix} {_URL_HINT}"
    )


class Sessions:
    """Sessions over one connected engine, and the retrying write: what the repositories share.

    Thread-safe: each call opens its own session. ``db_url`` (as given) names the database in
    errors, with its password masked.
    """

    def __init__(self, engine: Engine, db_url: str) -> None:
        self._db_url = db_url
        self._writer = sessionmaker(
            bind=engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"}),
            expire_on_commit=False,
        )
        self._reader = sessionmaker(bind=engine, expire_on_commit=False)

    @contextmanager
    def session(self, *, write: bool = True) -> Iterator[Session]:
        """A session that commits when the block ends cleanly and rolls back on any error.

        ``write=True`` (the default) takes SQLite's write lock at the start of the transaction
        (``BEGIN IMMEDIATE``), which is what makes read-then-write blocks safe across processes;
        pass ``write=False`` for read-only work so it never waits on writers. Do not nest write
        sessions (or call writing store methods inside one): on SQLite the inner one waits for
        the outer one's lock and fails after the 30 s busy timeout.
        """
        factory = self._writer if write else self._reader
        with factory() as session, session.begin():
            yield session

    def write(self, what: str, fn: Callable[[Session], T]) -> T:
        """Run ``fn(session)`` in a write session, retrying when a concurrent writer wins a race.

        ``fn`` must be safe to run again from scratch: it reads what it needs inside the session.
        A race shows up as an :class:`IntegrityError` (a unique constraint caught a duplicate);
        rows that ``fn`` reads then updates should be read ``with_for_update()`` so PostgreSQL
        writers queue on them (SQLite's ``BEGIN IMMEDIATE`` already serializes writers).
        """
        for attempt in range(WRITE_ATTEMPTS):
            try:
                with self.session() as session:
                    return fn(session)
            except OperationalError as exc:
                reason = (str(exc.orig).strip().splitlines() or ["unknown error"])[0]
                raise StoreError(
                    f"could not {what} in {mask_url(self._db_url)!r}: {reason}; another process "
                    "may have held the write lock for over 30 s, or the server went away; retry"
                ) from exc
            except IntegrityError as exc:
                if attempt == WRITE_ATTEMPTS - 1:
                    raise StoreError(
                        f"could not {what} after {WRITE_ATTEMPTS} attempts because other writers "
                        f"kept conflicting: {exc.orig}; retry, or check for a runaway writer"
                    ) from exc
                time.sleep(random.uniform(0.005, 0.05) * (attempt + 1))
        raise AssertionError("unreachable")  # pragma: no cover


class Repository:
    """One concern's records (``store.runs``, ``store.models``, …), read and written through the
    store's :class:`Sessions`. A repository holds no state of its own."""

    def __init__(self, db: Sessions) -> None:
        self._db = db
