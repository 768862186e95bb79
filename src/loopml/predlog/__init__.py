"""The prediction log: every prediction, written off the hot path to append-only Parquet segments.

Used by serving (which writes it), monitoring, the rollout controller and the loop (which read it).
Layout on disk: ``<folder>/<deployment>/<YYYY-MM-DD>/part-<unix_ns>-<pid>-<seq>.parquet`` (zstd,
UTC day of each row's ``ts``), one row per prediction with the columns of
:data:`~loopml.predlog.entry.SCHEMA`.

What lives where:

- ``entry.py``: :class:`LogEntry` (one prediction) and the segment schema.
- ``sinks/``: :class:`SegmentSink`, the contract of where segments go (``_base.py``), and its
  implementations :class:`LocalSegments` (a local folder) and :class:`MemorySegments` (tests).
- ``writer.py``: :class:`PredictionLog`, the background batcher (never blocks the caller).
- ``reader.py``: :func:`read_log` (a window of rows), :func:`decode_features` (JSON to columns)
  and :func:`log_folder` (where a project's servers write).

Import these names from :mod:`loopml.predlog`.
"""

from loopml.predlog.entry import SCHEMA, LogEntry
from loopml.predlog.reader import decode_features, log_folder, logged_ids, read_log
from loopml.predlog.sinks._base import SegmentSink
from loopml.predlog.sinks.local import LocalSegments
from loopml.predlog.sinks.memory import MemorySegment, MemorySegments
from loopml.predlog.writer import PredictionLog

__all__ = [
    "SCHEMA",
    "LocalSegments",
    "LogEntry",
    "MemorySegment",
    "MemorySegments",
    "PredictionLog",
    "SegmentSink",
    "decode_features",
    "log_folder",
    "logged_ids",
    "read_log",
]
