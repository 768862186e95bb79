"""Alembic environment for the loopml metadata store.

Run programmatically: :func:`loopml.store._migrate.alembic_config` builds the ``Config`` in code
(no ``alembic.ini``) and passes an open SQLAlchemy connection as
``config.attributes["connection"]``. Without one (a developer generating a revision), the URL
comes from the ``sqlalchemy.url`` option or ``LOOPML_DB_URL``. To add a revision::

    from alembic import command
    from loopml.store._migrate import alembic_config
    config = alembic_config(url="sqlite:////tmp/dev.db")  # a database at the current head
    command.revision(config, "add runs.tags", autogenerate=True)

``render_as_batch`` is on so ALTERs work on SQLite (which rebuilds the table). The revision is
kept in ``loopml_alembic_version`` (see ``_migrate``), not Alembic's default table.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection

from loopml.config import Settings
from loopml.store._engine import create_store_engine
from loopml.store._migrate import VERSION_TABLE
from loopml.store._tables import Base

config = context.config
target_metadata = Base.metadata


def include_name(name: str | None, type_: str, parent_names: MutableMapping[Any, Any]) -> bool:
    """Autogenerate compares only loopml's tables: the database is shared (Optuna keeps its
    studies there), and another tool's tables must never show up as tables to drop."""
    return type_ != "table" or name in target_metadata.tables


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        version_table=VERSION_TABLE,
        include_name=include_name,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    """Emit the SQL script instead of running it (``alembic upgrade --sql``)."""
    url = config.get_main_option("sqlalchemy.url") or Settings.from_env().db_url
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        version_table=VERSION_TABLE,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run against the connection the caller passed, or one opened from the configured URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or Settings.from_env().db_url
    engine = create_store_engine(url)
    try:
        with engine.connect() as conn:
            _configure(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
