"""Dataset versions: immutable snapshots with a content hash, a profile and an inferred schema.

Adding data reads the source, hashes its content (column names, types and every value, in order),
and returns the existing version when that hash is already stored under the name; otherwise it
writes a zstd Parquet snapshot under ``datasets/<name>/<hash>.parquet`` in the artifact root,
profiles it, infers its schema and records a new version. The snapshot is written before the
record, and its key is the content hash, so an interrupted add leaves at most an unreferenced file
that the next add of the same data reuses; it never leaves a record without its data.

The content hash is SHA-256 over the schema and Polars' 64-bit row hashes with four seeds. It is
stable for a given Polars version; after an upgrade the same data may be added once more as a new
version (never the other way round).
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from loopml.data.io import describe_source, is_sql_url, read_source
from loopml.data.profile import Profile
from loopml.data.profiling import profile_frame
from loopml.data.schema import Schema, infer_schema
from loopml.data.times import with_time_column
from loopml.errors import DataError, StoreError
from loopml.spec import Spec
from loopml.store import DatasetRecord, Store, check_name


@dataclass(frozen=True)
class DatasetVersion:
    """A stored dataset version with its profile and schema decoded."""

    record: DatasetRecord
    profile: Profile
    schema: Schema
    created: bool

    @property
    def ref(self) -> str:
        return self.record.ref


def content_hash(frame: pl.DataFrame) -> str:
    """SHA-256 of the frame's column names, types and row contents (order-sensitive)."""
    digest = hashlib.sha256()
    digest.update(repr([(name, str(dtype)) for name, dtype in frame.schema.items()]).encode())
    for seed in range(4):
        digest.update(frame.hash_rows(seed=seed).to_numpy().tobytes())
    return digest.hexdigest()


def default_name(source: str) -> str:
    """A dataset name from a source: the file stem, or ``query`` for database sources."""
    if is_sql_url(source):
        return "query"
    stem = Path(source).stem or "data"
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).strip("_.-") or "data"


def _check_name(name: str) -> str:
    try:
        return check_name(name)
    except StoreError as exc:  # bad input from the user, not a store failure
        raise DataError(str(exc)) from exc


def add_frame(
    store: Store, frame: pl.DataFrame, *, name: str, source: str, spec: Spec | None = None
) -> DatasetVersion:
    """Store ``frame`` as a version of dataset ``name``, or return the identical stored one.

    With a ``spec``, its time column is stored as the dates its ``time_format`` reads (see
    :mod:`loopml.data.times`), so training and replays order rows by time, not by text."""
    _check_name(name)
    if frame.height == 0 or frame.width == 0:
        raise DataError(f"{source} has no rows or no columns: nothing to add")
    frame = with_time_column(frame, spec)
    digest = content_hash(frame)
    for record in store.datasets.list(name):
        if record.content_hash == digest:
            return DatasetVersion(
                record, Profile.from_dict(record.profile), Schema.from_dict(record.schema), False
            )
    if spec is not None:
        spec.check_columns(frame.columns, where=source)
    profile = profile_frame(frame)
    schema = infer_schema(profile, spec)
    buffer = io.BytesIO()
    frame.write_parquet(buffer, compression="zstd")
    uri = store.artifacts.put_bytes(f"datasets/{name}/{digest}.parquet", buffer.getvalue())
    record, created = store.datasets.add(
        name=name,
        content_hash=digest,
        n_rows=frame.height,
        n_columns=frame.width,
        schema=schema.to_dict(),
        profile=profile.to_dict(),
        snapshot_uri=uri,
        source=source,
    )
    return DatasetVersion(record, profile, schema, created)


def add_dataset(
    store: Store,
    source: str | Path,
    *,
    name: str | None = None,
    query: str | None = None,
    spec: Spec | None = None,
) -> DatasetVersion:
    """Read ``source`` (CSV, Parquet, or a database URL with ``query``) and add it as a version."""
    text = str(source)
    frame = read_source(text, query=query)
    shown = describe_source(text) + (f" ({query})" if query else "")
    return add_frame(store, frame, name=name or default_name(text), source=shown, spec=spec)


def get_version(store: Store, ref: str) -> DatasetVersion:
    """The dataset version for ``ref`` (``name``, ``name@3`` or ``name@latest``)."""
    record = store.datasets.get(ref)
    return DatasetVersion(
        record, Profile.from_dict(record.profile), Schema.from_dict(record.schema), False
    )


def load_frame(store: Store, version: DatasetVersion | DatasetRecord) -> pl.DataFrame:
    """Read a version's Parquet snapshot back."""
    record = version.record if isinstance(version, DatasetVersion) else version
    key = f"datasets/{record.name}/{record.content_hash}.parquet"
    try:
        return pl.read_parquet(io.BytesIO(store.artifacts.get_bytes(key)))
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise DataError(
            f"the snapshot of {record.ref} ({record.snapshot_uri}) is missing or unreadable: {exc}"
        ) from exc
