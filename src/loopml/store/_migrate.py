"""Bring a metadata database to the current schema with Alembic, cheaply and safely.

Opening a store must cost little when nothing needs doing, and must not crash when several
processes (replicas, a CLI next to a server) open a fresh database at the same moment:

1. Read ``loopml_alembic_version`` (one small query). At head: done, no Alembic machinery runs.
2. Otherwise take a lock that serializes migrators — ``BEGIN IMMEDIATE`` on SQLite (the write
   lock), ``pg_advisory_xact_lock`` on PostgreSQL — re-read the version inside it, and upgrade in
   that same transaction. DDL is transactional on both backends, so a failed upgrade leaves the
   database as it was.
3. Should a racing migrator still collide (e.g. a server without advisory locks), the error is
   caught and the version re-read: if someone else got it to head, all is well.

loopml keeps its revision in its own table, :data:`VERSION_TABLE`, not in Alembic's default
``alembic_version``: the store's database is shared with other Alembic-managed tools (Optuna
keeps its tuning studies there, with its own ``alembic_version``), and two tools stamping one
table each read the other's revision as unknown. A database stamped by an older loopml in
``alembic_version`` is adopted on open: its loopml revision moves to :data:`VERSION_TABLE`.
"""

from __future__ import annotations

import logging
import time
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from loopml.errors import StoreError
from loopml.store._engine import SQLITE_BEGIN_OPTION, mask_url

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_ADVISORY_LOCK_KEY = 0x6C6F6F706D6C  # "loopml" in hex: one lock id for all loopml migrators
_ATTEMPTS = 5
VERSION_TABLE = "loopml_alembic_version"
"""The table holding loopml's schema revision (see the module doc)."""
_LEGACY_VERSION_TABLE = "alembic_version"


def alembic_config(connection: Connection | None = None, *, url: str | None = None) -> Config:
    """An Alembic ``Config`` built in code: no ``alembic.ini`` needed.

    Pass ``connection`` to run commands on it (the caller owns its transaction), or ``url`` for
    commands that open their own (e.g. ``command.revision(..., autogenerate=True)``).
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@lru_cache(maxsize=1)
def head_revision() -> str:
    """The revision the code expects (parsed from the migration scripts once per process)."""
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if len(heads) != 1:
        raise StoreError(f"the store migrations must have exactly one head, found {heads}")
    return heads[0]


@lru_cache(maxsize=1)
def known_revisions() -> frozenset[str]:
    """Every revision of loopml's migration scripts."""
    script = ScriptDirectory.from_config(alembic_config())
    return frozenset(rev.revision for rev in script.walk_revisions())


def current_revision(connection: Connection) -> str | None:
    """The loopml revision stamped in the database, or ``None`` for one loopml never migrated."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    return connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


def _adopt_legacy_stamp(conn: Connection) -> str | None:
    """Move a loopml revision from ``alembic_version`` (older loopml) to :data:`VERSION_TABLE`.

    Rows of other tools in ``alembic_version`` are left alone. Returns the adopted revision.
    """
    if not inspect(conn).has_table(_LEGACY_VERSION_TABLE):
        return None
    stamped = list(conn.execute(text(f"SELECT version_num FROM {_LEGACY_VERSION_TABLE}")).scalars())
    ours = [revision for revision in stamped if revision in known_revisions()]
    if not ours:
        return None
    command.stamp(alembic_config(conn), ours[0])
    if len(ours) == len(stamped):
        conn.execute(text(f"DROP TABLE {_LEGACY_VERSION_TABLE}"))
    else:
        conn.execute(
            text(f"DELETE FROM {_LEGACY_VERSION_TABLE} WHERE version_num = :revision"),
            {"revision": ours[0]},
        )
    log.info("moved the store's schema revision %s to the table %s", ours[0], VERSION_TABLE)
    return ours[0]


def _upgrade_locked(engine: Engine, head: str) -> None:
    options = {SQLITE_BEGIN_OPTION: "IMMEDIATE"} if engine.dialect.name == "sqlite" else {}
    with engine.connect().execution_options(**options) as conn, conn.begin():
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY})
        current = current_revision(conn)
        if current is None:
            current = _adopt_legacy_stamp(conn)
        if current == head:
            return
        log.info("upgrading the store schema %s from %s to %s", mask_url(engine.url), current, head)
        command.upgrade(alembic_config(conn), "head")


def ensure_schema(engine: Engine) -> None:
    """Upgrade the database behind ``engine`` to the head revision unless it is already there.

    Raises :class:`StoreError` when the database is newer than this loopml (a downgrade would
    lose data; upgrade loopml instead) or when the upgrade keeps failing.
    """
    head = head_revision()
    with engine.connect() as conn:
        current = current_revision(conn)
    if current == head:
        return
    if current is not None and current not in known_revisions():
        raise StoreError(
            f"the metadata database {mask_url(engine.url)!r} is at schema revision '{current}', "
            f"which this loopml does not know (its newest is '{head}'); upgrade loopml "
            "(pip install -U loopml) or point LOOPML_DB_URL at another database"
        )
    for attempt in range(_ATTEMPTS):
        try:
            _upgrade_locked(engine, head)
            return
        except DBAPIError as exc:
            # Another process migrated at the same time; if it reached head, we are done.
            with engine.connect() as conn:
                if current_revision(conn) == head:
                    return
            if attempt == _ATTEMPTS - 1:
                raise StoreError(
                    f"cannot upgrade the metadata database {mask_url(engine.url)!r} to schema "
                    f"revision '{head}': {exc.orig}; check the database user may create tables"
                ) from exc
            time.sleep(0.05 * (attempt + 1))
