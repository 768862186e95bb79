"""The batcher: :class:`PredictionLog` takes :class:`LogEntry` objects off the hot path and writes
them, one segment per flush and UTC day, to a :class:`~loopml.predlog.SegmentSink`.

Decisions:

- **The caller never waits.** :meth:`PredictionLog.log` appends to an in-memory deque and returns
  (no lock, no I/O, no encoding: about a microsecond per call). A background thread encodes and
  writes a segment every ``flush_interval`` seconds when anything is queued, or as soon as
  ``max_rows`` are queued. Because ``log()`` holds no lock, ``close()`` may be called from a
  signal handler that interrupted it.
- **Durability.** The sink makes each segment durable before the entries count as written
  (:class:`~loopml.predlog.LocalSegments`: temp file, fsync, rename), so a hard kill loses at most
  what was queued in the last interval (plus a write in progress).
- **Failures.** A write that fails is logged, counted (:attr:`PredictionLog.failures`) and retried
  with back-off (``flush_interval`` doubling up to 5 s); its entries go back to the front of the
  queue. An entry that cannot be encoded (say, a ``ts`` that is not a datetime) is dropped and
  counted instead, so one bad entry never blocks the rest.

Create one :class:`PredictionLog` per process (after any fork): its thread does not survive one.
Each flush makes one small file; compacting closed days is left to a later maintenance step.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from loopml.errors import LoopmlError, StoreError
from loopml.predlog.entry import LogEntry, _check_deployment, _to_table
from loopml.predlog.sinks._base import SegmentSink
from loopml.predlog.sinks.local import LocalSegments

logger = logging.getLogger(__name__)

_MAX_BACKOFF = 5.0
_US_PER_DAY = 86_400_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class PredictionLog:
    """A background batcher from :class:`LogEntry` to Parquet segments of one deployment.

    Invariants:

    - ``log()`` is thread-safe and never blocks the caller on I/O or a lock: the queue is bounded
      by ``queue_limit`` and, when full, entries are dropped and counted (:attr:`dropped`).
    - Each segment becomes visible atomically (temp name, fsync, rename) and is never modified.
    - Entries are written within about ``flush_interval`` seconds of being logged, or sooner once
      ``max_rows`` are queued; a failed write keeps its entries for the next try.
    - ``close()`` stops the thread and flushes everything queued (retrying until ``timeout``); it
      is idempotent. Entries logged after ``close()`` are dropped and counted.
    """

    def __init__(
        self,
        folder: str | Path,
        deployment: str,
        *,
        flush_interval: float = 0.2,
        max_rows: int = 50_000,
        queue_limit: int = 1_000_000,
        sink: SegmentSink | None = None,
    ) -> None:
        if flush_interval <= 0 or max_rows < 1 or queue_limit < 1:
            raise ValueError(
                "expected flush_interval > 0, max_rows >= 1 and queue_limit >= 1, got "
                f"{flush_interval}, {max_rows} and {queue_limit}"
            )
        self.folder = Path(folder)
        self.deployment = _check_deployment(deployment)
        self.flush_interval = float(flush_interval)
        self.max_rows = max_rows
        self.queue_limit = queue_limit
        self._sink: SegmentSink = sink or LocalSegments(folder, deployment)
        self._queue: deque[LogEntry] = deque()
        self._wake: queue.SimpleQueue[None] = queue.SimpleQueue()  # reentrant put(): signal-safe
        self._write_lock = threading.Lock()  # one writer at a time: the thread, flush() or close()
        self._drop_lock = threading.RLock()  # reentrant: close() in a signal handler may need it
        self._thread: threading.Thread | None = None
        self._closed = False
        self._kicked = False
        self._inflight = self._written = self._dropped = self._failures = 0
        self._retry_at, self._backoff, self._warned_at = 0.0, self.flush_interval, -1e9

    # -- the caller's side -----------------------------------------------------------------------

    def start(self) -> PredictionLog:
        """Start the background writer (a daemon thread); returns ``self``. Idempotent."""
        if self._closed:
            raise LoopmlError("this prediction log is closed; create a new PredictionLog")
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name=f"loopml-prediction-log-{self.deployment}", daemon=True
            )
            self._thread.start()
        return self

    def log(self, entries: Sequence[LogEntry]) -> None:
        """Queue ``entries`` for writing and return at once."""
        if isinstance(entries, LogEntry):
            raise TypeError("log() takes a sequence of LogEntry; wrap a single one: log([entry])")
        if self._closed:
            self._drop(len(entries), "the log is closed")
            return
        pending = self._queue
        room = self.queue_limit - len(pending)
        if len(entries) > room:
            self._drop(len(entries) - max(room, 0), f"the queue is full ({self.queue_limit})")
            if room <= 0:
                return
            entries = entries[:room]
        pending.extend(entries)
        if len(pending) >= self.max_rows and not self._kicked:
            self._kicked = True
            self._wake.put(None)

    def flush(self) -> None:
        """Write everything queued now, in this thread; raise :class:`StoreError` if a write fails
        (the entries stay queued)."""
        with self._write_lock:
            self._write_queued(raise_errors=True)

    def close(self, timeout: float = 10.0) -> None:
        """Stop the writer and flush everything, retrying failed writes until ``timeout`` seconds;
        what still cannot be written is dropped, counted and logged. Idempotent."""
        if self._closed:
            return
        self._closed = True
        deadline = time.monotonic() + timeout
        thread = self._thread
        if thread is not None:
            self._wake.put(None)
            thread.join(max(0.0, deadline - time.monotonic()))
        while self._queue:
            if not self._write_lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
                break
            try:
                self._write_queued(raise_errors=True)
            except StoreError:
                if time.monotonic() + self._backoff >= deadline:
                    break
                time.sleep(self._backoff)
            finally:
                self._write_lock.release()
        if left := len(self._queue):
            for _ in range(left):
                self._queue.popleft()
            self._drop(left, f"close() could not write them within {timeout} s")

    def __enter__(self) -> PredictionLog:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called: a closed log stays closed."""
        return self._closed

    @property
    def queue_depth(self) -> int:
        """Entries logged but not yet written (queued or being written)."""
        return len(self._queue) + self._inflight

    @property
    def written(self) -> int:
        """Entries durably written (fsynced and visible)."""
        return self._written

    @property
    def dropped(self) -> int:
        """Entries dropped: queue full, logged after close, or not encodable."""
        return self._dropped

    @property
    def failures(self) -> int:
        """Failed segment writes (each retried)."""
        return self._failures

    # -- the writer's side -----------------------------------------------------------------------

    def _run(self) -> None:
        next_tick = time.monotonic() + self.flush_interval
        while not self._closed:
            now = time.monotonic()
            due = max(now if len(self._queue) >= self.max_rows else next_tick, self._retry_at)
            if due > now:
                with contextlib.suppress(queue.Empty):
                    self._wake.get(timeout=due - now)
                self._kicked = False
                continue
            tick = now >= next_tick
            if tick:
                next_tick = now + self.flush_interval
            if self._queue:
                with self._write_lock:  # on a size trigger alone, full segments only
                    self._write_queued(raise_errors=False, full_only=not tick)

    def _write_queued(self, *, raise_errors: bool, full_only: bool = False) -> None:
        """Write what is queued now, in segments of at most ``max_rows`` (only whole ones when
        ``full_only``); the caller holds the write lock."""
        pending, left = self._queue, len(self._queue)
        if full_only:
            left -= left % self.max_rows
        while left > 0:
            take = min(left, self.max_rows)
            self._inflight = take
            batch = [pending.popleft() for _ in range(take)]
            left -= take
            try:
                self._write_batch(batch)
            except BaseException as exc:
                pending.extendleft(reversed(batch))
                self._inflight = 0  # now, not after logging: queue_depth never counts them twice
                if not isinstance(exc, Exception):  # KeyboardInterrupt in flush(): entries kept
                    raise
                self._failures += 1
                self._retry_at = time.monotonic() + self._backoff
                logger.error(
                    "could not write %d predictions to %s (failure %d; retrying in %.2f s): %s",
                    len(batch),
                    self.folder / self.deployment,
                    self._failures,
                    self._backoff,
                    exc,
                    exc_info=self._backoff == self.flush_interval,
                )
                self._backoff = min(self._backoff * 2, _MAX_BACKOFF)
                if raise_errors:
                    raise StoreError(
                        f"could not write predictions to {self.folder / self.deployment}: {exc}; "
                        "they stay queued: fix the folder (space, permissions) and flush again"
                    ) from exc
                return
            finally:
                self._inflight = 0
        self._retry_at, self._backoff = 0.0, self.flush_interval

    def _write_batch(self, batch: list[LogEntry]) -> None:
        """Encode ``batch`` and write one segment per UTC day; on failure, ``batch`` keeps only
        the entries not yet written (the caller requeues them)."""
        table, kept = self._encode(batch)
        parts = [
            (day, table, kept)
            if index is None
            else (day, table.take(index), [kept[i] for i in index.to_pylist()])
            for day, index in _by_day(table)
        ]
        batch[:] = kept
        for i, (day, rows, _) in enumerate(parts):
            self._sink.write(rows, day)
            self._written += rows.num_rows
            batch[:] = [entry for _, _, later in parts[i + 1 :] for entry in later]

    def _encode(self, batch: list[LogEntry]) -> tuple[pa.Table, list[LogEntry]]:
        """``batch`` as a table; entries that cannot be encoded are dropped and counted."""
        try:
            return _to_table(batch), batch
        except Exception:
            kept, problem = [], None
            for entry in batch:
                try:
                    _to_table([entry])
                    kept.append(entry)
                except Exception as exc:
                    problem = exc
            self._drop(len(batch) - len(kept), f"they cannot be encoded ({problem!r})")
            return _to_table(kept), kept

    def _drop(self, count: int, why: str) -> None:
        with self._drop_lock:
            self._dropped += count
            now = time.monotonic()
            if now - self._warned_at >= 10.0:  # at most one warning per 10 s
                self._warned_at = now
                logger.warning(
                    "dropped %d predictions for %s because %s (%d dropped in all)",
                    count,
                    self.deployment,
                    why,
                    self._dropped,
                )


def _by_day(table: pa.Table) -> list[tuple[str, pa.Array | None]]:
    """The UTC days of ``table``'s rows, each with the indices of its rows (None: all rows)."""
    # integer division truncates, which is the floor for any time after 1970
    days = pc.divide(table.column("ts").cast(pa.int64()), _US_PER_DAY)
    first, last = pc.min(days).as_py(), pc.max(days).as_py()
    if first is None:
        return []
    if first == last:
        return [(_day_name(first), None)]
    return [
        (_day_name(day), pc.indices_nonzero(pc.equal(days, day)))
        for day in pc.unique(days).to_pylist()
    ]


def _day_name(days: int) -> str:
    return (_EPOCH + timedelta(days=days)).date().isoformat()
