"""Plain, immutable records the store returns: safe to pass around after the session is closed.

The ORM rows in ``_tables`` are tied to a session; these dataclasses are not, so callers never
trip over detached-instance errors and never mutate the database by accident.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from loopml.errors import StoreError
from loopml.store._tables import Dataset, Model, Run

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
ALIAS_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def check_name(name: str, *, what: str = "dataset") -> str:
    """Return ``name`` if it is a valid record name, else raise :class:`StoreError`.

    Names appear in references (``name@3``) and artifact keys, so they are restricted to letters,
    digits, ``.``, ``_`` and ``-`` (starting with a letter or digit, at most 128 characters).
    """
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise StoreError(
            f"invalid {what} name {name!r}: expected 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (e.g. 'flights' or 'flights_2024-q1')"
        )
    return name


def check_alias(alias: str) -> str:
    """Return ``alias`` if it is a valid model alias, else raise :class:`StoreError`.

    An alias (``champion``, ``challenger``) follows ``@`` in a model reference, where digits mean
    a version and ``latest`` the newest version; so an alias is 1-64 letters, digits, ``_`` or
    ``-`` starting with a letter or digit, not all digits, and not ``latest``.
    """
    if isinstance(alias, str) and ALIAS_PATTERN.fullmatch(alias):
        if alias.isdigit():
            raise StoreError(
                f"invalid alias {alias!r}: an alias cannot be all digits, which would read as a "
                f"version number; use e.g. 'v{alias}' or 'champion'"
            )
        if alias.lower() == "latest":
            raise StoreError(
                f"invalid alias {alias!r}: 'latest' always means the newest active version; "
                "choose another alias, e.g. 'champion' or 'challenger'"
            )
        return alias
    raise StoreError(
        f"invalid alias {alias!r}: expected 1-64 letters, digits, '_' or '-', starting with a "
        "letter or digit (e.g. 'champion' or 'challenger')"
    )


@dataclass(frozen=True)
class DatasetRecord:
    """One immutable dataset version, as stored."""

    id: int
    name: str
    version: int
    content_hash: str
    n_rows: int
    n_columns: int
    schema: dict[str, Any]
    profile: dict[str, Any]
    snapshot_uri: str
    source: str
    created_at: datetime

    @property
    def ref(self) -> str:
        """The reference that names exactly this version, e.g. ``flights@3``."""
        return f"{self.name}@{self.version}"

    @classmethod
    def from_row(cls, row: Dataset) -> DatasetRecord:
        """Copy an ORM row into a record (while its session is still open)."""
        return cls(**{f.name: getattr(row, f.name) for f in fields(cls)})


@dataclass(frozen=True)
class RunRecord:
    """One run (training, tuning, a candidate or trial within one), as stored."""

    id: int
    name: str
    kind: str
    status: str  # running / finished / failed
    params: dict[str, Any]
    metrics: dict[str, Any]
    dataset_id: int | None
    dataset_ref: str | None
    code_version: str | None
    environment: dict[str, Any]
    spec: dict[str, Any]
    artifacts: dict[str, Any]
    started_at: datetime
    ended_at: datetime | None
    error: str | None
    parent_id: int | None

    @property
    def duration_s(self) -> float | None:
        """Seconds from start to end, or ``None`` while the run is still running."""
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()

    @classmethod
    def from_row(cls, row: Run) -> RunRecord:
        """Copy an ORM row into a record (while its session is still open)."""
        return cls(**{f.name: getattr(row, f.name) for f in fields(cls)})


@dataclass(frozen=True)
class ModelRecord:
    """One registered model version and the aliases that point at it, as stored."""

    id: int
    name: str
    version: int
    run_id: int | None
    package_uri: str
    sha256: str
    metrics: dict[str, Any]
    status: str  # registered / archived
    note: str | None
    created_at: datetime
    aliases: tuple[str, ...]

    @property
    def ref(self) -> str:
        """The reference that names exactly this version, e.g. ``delays@3``."""
        return f"{self.name}@{self.version}"

    @classmethod
    def from_row(cls, row: Model, aliases: Iterable[str] = ()) -> ModelRecord:
        """Copy an ORM row and its aliases into a record (while its session is still open)."""
        return cls(
            id=row.id,
            name=row.name,
            version=row.version,
            run_id=row.run_id,
            package_uri=row.package_uri,
            sha256=row.sha256,
            metrics=row.metrics,
            status=row.status,
            note=row.note,
            created_at=row.created_at,
            aliases=tuple(sorted(aliases)),
        )


def parse_ref(ref: str) -> tuple[str, int | None]:
    """Split ``name``, ``name@latest`` or ``name@3`` into ``(name, version or None for latest)``."""
    if not isinstance(ref, str) or not ref:
        raise StoreError(f"expected a dataset reference like 'flights' or 'flights@3', got {ref!r}")
    name, sep, version = ref.partition("@")
    if not name:
        raise StoreError(f"expected a dataset reference like 'flights' or 'flights@3', got {ref!r}")
    if not sep or version == "latest":
        return name, None
    if version.isdigit() and int(version) >= 1:
        return name, int(version)
    raise StoreError(
        f"invalid version {version!r} in reference {ref!r}: expected a positive integer or "
        f"'latest' (e.g. '{name}@1' or '{name}@latest')"
    )
