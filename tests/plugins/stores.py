"""Store backends: ``db_url`` is parametrized over :data:`BACKENDS`, so every test that uses it
(or ``store``, built on it) is one contract checked on each backend, as optuna's storage tests
do. A new backend joins by one entry in :data:`BACKENDS` and one branch in ``db_url``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from loopml.store import Store
from tests.plugins.postgres import PostgresServer

#: Every metadata database the store contract runs on.
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty metadata database: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'loopml.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = server.create_database()
    yield url
    server.drop_database(url)


@pytest.fixture
def store(db_url: str, tmp_path: Path) -> Iterator[Store]:
    """A migrated, empty :class:`Store` on each backend, with artifacts under ``tmp_path``."""
    with Store(db_url, str(tmp_path / "artifacts")) as opened:
        yield opened
