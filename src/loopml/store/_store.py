"""The :class:`Store`: one metadata database plus one artifact folder.

Every lifecycle stage records what it did here. The contract, for every backend (SQLite and
PostgreSQL, checked by one test suite):

- **Opening is cheap and safe.** The schema is upgraded only when it is behind, and concurrent
  first opens do not crash (see ``_migrate``).
- **Nothing half-writes.** Each public write runs in one transaction; on error nothing stays.
- **Concurrent writers are safe.** Version numbers come from ``max(version) + 1`` under unique
  constraints; a writer that loses a race retries and sees the winner's row.
- **Records are plain frozen dataclasses**, detached from any session.

The class is assembled from one module per concept: this one connects and records datasets,
``_runs`` tracks runs, ``_models`` holds the registry's versions and aliases; all of them write
through ``_base.StoreBase``.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from loopml.config import Settings
from loopml.errors import NotFoundError, StoreError
from loopml.store._audit import AuditMixin
from loopml.store._base import check_json, unknown_name
from loopml.store._deployments import DeploymentsMixin
from loopml.store._engine import (
    SQLITE_BEGIN_OPTION,
    create_store_engine,
    describe_connect_error,
    mask_url,
)
from loopml.store._feedback import FeedbackMixin
from loopml.store._migrate import ensure_schema
from loopml.store._models import ModelsMixin
from loopml.store._monitoring import MonitoringMixin
from loopml.store._runs import RunsMixin
from loopml.store._tables import Dataset
from loopml.store.artifacts import Artifacts
from loopml.store.records import DatasetRecord, check_name, parse_ref


class Store(RunsMixin, ModelsMixin, FeedbackMixin, DeploymentsMixin, MonitoringMixin, AuditMixin):
    """The metadata database (SQLAlchemy) and the artifact folder (fsspec) of one project.

    ``Store(db_url, artifact_root)`` connects, upgrades the schema if needed, and raises
    :class:`StoreError` naming the URL and the fix when the database cannot be reached.
    Use :meth:`open` to take both locations from ``LOOPML_*`` settings. Thread-safe: sessions are
    per call; close the store (or use it as a context manager) to release connections.

    Datasets are below; runs (experiment tracking) come from :class:`RunsMixin` and models (the
    registry's versions and aliases) from :class:`ModelsMixin`.
    """

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
        self._writer = sessionmaker(
            bind=self.engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"}),
            expire_on_commit=False,
        )
        self._reader = sessionmaker(bind=self.engine, expire_on_commit=False)

    @classmethod
    def open(cls, home: str | Path | None = None) -> Store:
        """The store of the project at ``home`` (or ``LOOPML_HOME``), honouring ``LOOPML_*``."""
        settings = Settings.from_env(home)
        return cls(settings.db_url, settings.artifact_root)

    @property
    def db_url(self) -> str:
        """The database URL as given (with its password: pass it on, do not print it)."""
        return self._db_url

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

    # -- datasets ----------------------------------------------------------------------------

    def add_dataset(
        self,
        *,
        name: str,
        content_hash: str,
        n_rows: int,
        n_columns: int,
        schema: dict[str, Any],
        profile: dict[str, Any],
        snapshot_uri: str,
        source: str,
    ) -> tuple[DatasetRecord, bool]:
        """Record a dataset version; return ``(record, created)``.

        Idempotent: if ``name`` already has a version with ``content_hash``, that record is
        returned with ``created=False``. Otherwise the next version number for ``name`` is
        assigned (1 for a new name). Safe when several processes add at once.
        """
        check_name(name)
        if not content_hash or not isinstance(content_hash, str):
            raise StoreError(f"content_hash must be a non-empty string, got {content_hash!r}")
        for field, count in (("n_rows", n_rows), ("n_columns", n_columns)):
            if not isinstance(count, int) or count < 0:
                raise StoreError(f"{field} must be a non-negative integer, got {count!r}")
        check_json(schema, "schema")
        check_json(profile, "profile")

        def add(session: Session) -> tuple[DatasetRecord, bool]:
            existing = session.scalars(
                select(Dataset).where(Dataset.name == name, Dataset.content_hash == content_hash)
            ).first()
            if existing is not None:
                return DatasetRecord.from_row(existing), False
            latest = session.scalar(select(func.max(Dataset.version)).where(Dataset.name == name))
            row = Dataset(
                name=name,
                version=(latest or 0) + 1,
                content_hash=content_hash,
                n_rows=n_rows,
                n_columns=n_columns,
                schema=schema,
                profile=profile,
                snapshot_uri=snapshot_uri,
                source=source,
            )
            session.add(row)
            session.flush()
            session.refresh(row)  # return what was stored (e.g. NaN reads back as null)
            return DatasetRecord.from_row(row), True

        return self._write_with_retry(f"add dataset '{name}'", add)

    def get_dataset(self, ref: str) -> DatasetRecord:
        """The dataset version named by ``ref``: ``name`` or ``name@latest`` (newest), ``name@3``.

        Raises :class:`NotFoundError` listing the known names (with a close match) or versions.
        """
        name, version = parse_ref(ref)
        with self.session(write=False) as session:
            query = select(Dataset).where(Dataset.name == name)
            query = query.where(Dataset.version == version) if version else query
            row = session.scalars(query.order_by(Dataset.version.desc()).limit(1)).first()
            if row is not None:
                return DatasetRecord.from_row(row)
            versions = list(
                session.scalars(
                    select(Dataset.version).where(Dataset.name == name).order_by(Dataset.version)
                )
            )
            if versions:
                shown = ", ".join(map(str, versions[-20:]))
                raise NotFoundError(
                    f"dataset '{name}' has no version {version} (versions: {shown}); "
                    f"use '{name}@{versions[-1]}' or '{name}@latest'"
                )
            names = list(session.scalars(select(Dataset.name).distinct().order_by(Dataset.name)))
        raise unknown_name(
            "dataset",
            name,
            names,
            "the store has no datasets yet; add one with `loopml data add PATH --name NAME`",
        )

    def list_datasets(self, name: str | None = None) -> list[DatasetRecord]:
        """Every dataset version (or only those of ``name``), ordered by name then version."""
        query = select(Dataset).order_by(Dataset.name, Dataset.version)
        if name is not None:
            query = query.where(Dataset.name == name)
        with self.session(write=False) as session:
            return [DatasetRecord.from_row(row) for row in session.scalars(query)]
