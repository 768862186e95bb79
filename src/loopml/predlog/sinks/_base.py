"""The contract between the batcher and where segments go: :class:`SegmentSink`."""

from __future__ import annotations

from typing import Protocol

import pyarrow as pa


class SegmentSink(Protocol):
    """Where :class:`~loopml.predlog.PredictionLog` puts finished batches, one segment each.

    Implementations: :class:`~loopml.predlog.LocalSegments` (a folder; the default) and
    :class:`~loopml.predlog.MemorySegments` (in memory, for tests).

    Invariants an implementation keeps:

    - **Thread safety.** The batcher calls ``write`` from one thread at a time (it holds its write
      lock), so ``write`` needs no lock against itself; readers (other threads, other processes)
      may look at any moment, so a segment appears whole or not at all. Several processes may
      write to one destination at once: segment names never collide.
    - **Durability.** When ``write`` returns, the rows are stored as one complete segment that
      survives a crash of the writing process (for a folder: fsynced file and directory) and that
      readers see.
    - **Idempotence on failure.** When ``write`` raises, readers see nothing of the rows, so the
      caller retries the same rows and no row is ever stored twice. A ``write`` that returned is
      never repeated by the caller: each call makes a new segment.
    - **Append only.** A written segment is never modified, replaced or merged by the sink.
    """

    def write(self, rows: pa.Table, day: str) -> str:
        """Store ``rows`` (all of UTC day ``day``, ``YYYY-MM-DD``, with the columns of
        :data:`~loopml.predlog.entry.SCHEMA`) as a new segment; returns where it is."""
        ...
