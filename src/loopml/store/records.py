"""Plain, immutable records the store returns: safe to pass around after the session is closed.

The ORM rows in ``_tables`` are tied to a session; these dataclasses are not, so callers never
trip over detached-instance errors and never mutate the database by accident.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from loopml.errors import StoreError
from loopml.store._tables import Dataset

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


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
        return cls(
            id=row.id,
            name=row.name,
            version=row.version,
            content_hash=row.content_hash,
            n_rows=row.n_rows,
            n_columns=row.n_columns,
            schema=row.schema,
            profile=row.profile,
            snapshot_uri=row.snapshot_uri,
            source=row.source,
            created_at=row.created_at,
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
