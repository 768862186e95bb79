"""Segments kept in memory, for tests that drive the batcher (or a scorer) without a folder.

``PredictionLog(tmp_path, "flights", sink=MemorySegments())`` logs as usual; :meth:`frame` reads
back what was written, as :func:`~loopml.predlog.read_log` would. Nothing survives the process,
so this sink keeps every invariant of :class:`~loopml.predlog.SegmentSink` but durability.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass

import polars as pl
import pyarrow as pa

from loopml.predlog.entry import _FRAME_SCHEMA

_SEQ = itertools.count()  # per process: names never collide, even between two sinks


@dataclass(frozen=True)
class MemorySegment:
    """One written segment: its name, its UTC day and its rows."""

    name: str
    day: str
    rows: pa.Table


class MemorySegments:
    """A :class:`~loopml.predlog.SegmentSink` that appends each segment to a list."""

    def __init__(self) -> None:
        self._segments: list[MemorySegment] = []
        self._lock = threading.Lock()  # readers in other threads see whole segments only

    def write(self, rows: pa.Table, day: str) -> str:
        if not isinstance(rows, pa.Table):
            raise TypeError(f"expected rows as a pyarrow.Table, got {type(rows).__name__}")
        name = f"memory://{day}/part-{next(_SEQ)}"
        with self._lock:
            self._segments.append(MemorySegment(name, day, rows))
        return name

    @property
    def segments(self) -> list[MemorySegment]:
        """The segments written so far, in order."""
        with self._lock:
            return list(self._segments)

    def frame(self) -> pl.DataFrame:
        """Every row written so far, sorted by ``ts`` (the frame :func:`read_log` returns)."""
        tables = [segment.rows for segment in self.segments]
        if not tables:
            return _FRAME_SCHEMA.to_frame()
        frame = pl.from_arrow(pa.concat_tables(tables))
        assert isinstance(frame, pl.DataFrame)
        return frame.cast(_FRAME_SCHEMA).sort("ts", maintain_order=True)
