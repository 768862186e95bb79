"""Datasets: immutable, numbered versions of each named dataset (content hash, schema, profile).

A version is added once per content: adding the same content under the same name again returns
the stored version. Numbers are ``1, 2, …`` per name, also when several processes add at once
(``max(version) + 1`` under the unique ``(name, version)``; the loser of a race retries). The
snapshot itself lives under the artifact root (:mod:`loopml.data.versions` writes it).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loopml.errors import NotFoundError, StoreError
from loopml.store._checks import check_json, unknown_name
from loopml.store._engine import Repository
from loopml.store._tables import Dataset
from loopml.store.records import DatasetRecord, check_name, parse_ref


class Datasets(Repository):
    """Dataset versions, as ``store.datasets``: add, get and list them."""

    def add(
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

        return self._db.write(f"add dataset '{name}'", add)

    def get(self, ref: str) -> DatasetRecord:
        """The dataset version named by ``ref``: ``name`` or ``name@latest`` (newest), ``name@3``.

        Raises :class:`NotFoundError` listing the known names (with a close match) or versions.
        """
        name, version = parse_ref(ref)
        with self._db.session(write=False) as session:
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

    def list(self, name: str | None = None) -> list[DatasetRecord]:
        """Every dataset version (or only those of ``name``), ordered by name then version."""
        query = select(Dataset).order_by(Dataset.name, Dataset.version)
        if name is not None:
            query = query.where(Dataset.name == name)
        with self._db.session(write=False) as session:
            return [DatasetRecord.from_row(row) for row in session.scalars(query)]
