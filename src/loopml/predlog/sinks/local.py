"""Segments in a local folder, one Parquet file each:
``<folder>/<deployment>/<YYYY-MM-DD>/part-<unix_ns>-<pid>-<seq>.parquet``.

A segment is written to a hidden ``.part-….tmp`` file (zstd Parquet), fsynced, renamed into place
and its folder fsynced; readers only look at ``part-*.parquet``. A hard kill therefore loses at
most a write in progress and never damages finished segments. Names carry the time, the pid and a
per-process sequence number, so several server processes can share one folder.
"""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from loopml.predlog.entry import _check_deployment

_LOW_CARDINALITY = ["deployment", "model_version", "route", "error"]  # dictionary-encoded
_SEQ = itertools.count()  # per process; with the pid and the time it makes segment names unique


class LocalSegments:
    """Segments under ``<folder>/<deployment>/<day>/``: temp file, fsync, rename, fsync folder."""

    def __init__(self, folder: str | Path, deployment: str) -> None:
        self.root = Path(folder) / _check_deployment(deployment)

    def write(self, rows: pa.Table, day: str) -> str:
        folder = self.root / day
        if not folder.is_dir():  # checked each time: a retention job may remove old days
            folder.mkdir(parents=True, exist_ok=True)
            _fsync_dir(folder.parent)
            _fsync_dir(folder.parent.parent)
        name = f"part-{time.time_ns()}-{os.getpid()}-{next(_SEQ)}.parquet"
        temp, final = folder / f".{name}.tmp", folder / name
        try:
            with open(temp, "xb") as file:
                pq.write_table(rows, file, compression="zstd", use_dictionary=_LOW_CARDINALITY)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temp, final)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        _fsync_dir(folder)
        return str(final)


def _fsync_dir(path: Path) -> None:
    """Make a rename or a new entry in ``path`` durable (POSIX; a no-op elsewhere)."""
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
