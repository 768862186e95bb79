"""The :class:`Store`: one metadata database plus one artifact folder.

Every lifecycle stage records what it did here. The contract, for every backend (SQLite and
PostgreSQL, checked by one test suite):

- **Opening is cheap and safe.** The schema is upgraded only when it is behind, and concurrent
  first opens do not crash (see ``_migrate``).
- **Nothing half-writes.** Each public write runs in one transaction; on error nothing stays.
- **Concurrent writers are safe.** Version numbers come from ``max(version) + 1`` under unique
  constraints; a writer that loses a race retries and sees the winner's row.
- **Records are plain frozen dataclasses**, detached from any session.

The class is a thin facade: it connects, upgrades the schema and holds the artifact root, and
builds one repository per concern (``store.datasets``, ``store.runs``, ``store.models``,
``store.deployments``, ``store.monitoring``, ``store.feedback``, ``store.audit``), each in its own
module and all writing through one :class:`~loopml.store._engine.Sessions`.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from types import TracebackType

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from loopml.config import Settings
from loopml.store._engine import Sessions, create_store_engine, describe_connect_error, mask_url
from loopml.store._migrate import ensure_schema
from loopml.store.artifacts import Artifacts
from loopml.store.audit import Audit
from loopml.store.datasets import Datasets
from loopml.store.deployments import Deployments
from loopml.store.feedback import Feedback
from loopml.store.incidents import Incidents
from loopml.store.models import Models
from loopml.store.monitoring import Monitoring
from loopml.store.runs import Runs


class Store:
    """The metadata database (SQLAlchemy) and the artifact folder (fsspec) of one project.

    ``Store(db_url, artifact_root)`` connects, upgrades the schema if needed, and raises
    :class:`StoreError` naming the URL and the fix when the database cannot be reached.
    Use :meth:`open` to take both locations from ``LOOPML_*`` settings. Thread-safe: sessions are
    per call; close the store (or use it as a context manager) to release connections.

    The records live in its repositories: ``datasets`` (dataset versions), ``runs`` (experiment
    tracking), ``models`` (the registry's versions and aliases), ``deployments`` (what serves,
    the rollout's decisions), ``monitoring`` (windows and alerts), ``incidents`` (alerts that
    fired together), ``feedback`` (labels by
    request id) and ``audit`` (the maintenance loop's decisions).
    """

    datasets: Datasets
    runs: Runs
    models: Models
    deployments: Deployments
    monitoring: Monitoring
    incidents: Incidents
    feedback: Feedback
    audit: Audit

    def __init__(self, db_url: str, artifact_root: str | Path) -> None:
        self._db_url = str(db_url)
        self.artifacts = Artifacts(artifact_root)
        self.engine = create_store_engine(self._db_url)
        try:
            ensure_schema(self.engine)
        except OperationalError as exc:
            self.engine.dispose()
            raise describe_connect_error(self.engine.url, exc) from exc
        except BaseException:
            self.engine.dispose()
            raise
        self._db = db = Sessions(self.engine, self._db_url)
        self.datasets = Datasets(db)
        self.runs = Runs(db)
        self.models = Models(db)
        self.deployments = Deployments(db)
        self.monitoring = Monitoring(db)
        self.incidents = Incidents(db)
        self.feedback = Feedback(db)
        self.audit = Audit(db)

    @classmethod
    def open(cls, home: str | Path | None = None) -> Store:
        """The store of the project at ``home`` (or ``LOOPML_HOME``), honouring ``LOOPML_*``."""
        settings = Settings.from_env(home)
        return cls(settings.db_url, settings.artifact_root)

    @property
    def db_url(self) -> str:
        """The database URL as given (with its password: pass it on, do not print it)."""
        return self._db_url

    def session(self, *, write: bool = True) -> AbstractContextManager[Session]:
        """A session of the store's database, for stages with their own queries: it commits
        when the block ends cleanly and rolls back on any error (see :meth:`Sessions.session`)."""
        return self._db.session(write=write)

    def __repr__(self) -> str:
        return f"Store(db_url={mask_url(self._db_url)!r}, artifact_root={self.artifacts.root!r})"

    def close(self) -> None:
        """Close every pooled connection. The store reconnects if used again."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
