"""The prediction log: round trips, flush triggers, back-pressure, failures, and real processes
stopped by SIGTERM (nothing acknowledged is lost) and SIGKILL (only the last interval is lost)."""

from __future__ import annotations

import logging
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pyarrow as pa
import pytest

from loopml.errors import DataError, LoopmlError, StoreError
from loopml.predlog import (
    LocalSegments,
    LogEntry,
    MemorySegments,
    PredictionLog,
    SegmentSink,
    decode_features,
    read_log,
)

BASE = datetime(2024, 3, 1, 22, 0, tzinfo=UTC)
FRAME_SCHEMA = {
    "ts": pl.Datetime("us", "UTC"),
    "request_id": pl.String,
    "deployment": pl.String,
    "model_version": pl.String,
    "route": pl.String,
    "features": pl.String,
    "outputs": pl.String,
    "latency_ms": pl.Float64,
    "error": pl.String,
    "score": pl.Float64,
}


def entry(i: int, ts: datetime | None = None, deployment: str = "flights", **kw: Any) -> LogEntry:
    values: dict[str, Any] = {
        "features": {"distance": 100.0 + i, "carrier": "AA" if i % 2 else "DL"},
        "outputs": {"prediction": i % 2 == 0, "probabilities": {"false": 0.25, "true": 0.75}},
        "latency_ms": 1.5,
        **kw,
    }
    return LogEntry(
        ts=ts or BASE + timedelta(seconds=i),
        request_id=f"r{i}",
        deployment=deployment,
        model_version="flights@3",
        route="stable",
        **values,
    )


def wait_until(condition: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return bool(condition())


def segments(folder: Path) -> list[Path]:
    return sorted(folder.rglob("part-*.parquet"))


# -- round trip and reading -----------------------------------------------------------------------


def test_round_trip_from_threads(tmp_path: Path) -> None:
    plus_two = timezone(timedelta(hours=2))
    threads, per_thread = 4, 250
    expected: dict[str, LogEntry] = {}

    def make(t: int, i: int) -> LogEntry:
        n = t * per_thread + i
        ts = [
            BASE + timedelta(seconds=n),
            (BASE + timedelta(seconds=n)).astimezone(plus_two),
            (BASE + timedelta(seconds=n)).replace(tzinfo=None),
        ][n % 3]  # naive means UTC
        features: dict[str, Any] = {"distance": n * 1.5, "carrier": "Ünïcode ✈", "hour": n % 24}
        if n % 5 == 0:
            features = {"distance": None, "nested": {"a": [1, 2]}, "flag": True}
        return entry(
            n,
            ts=ts,
            features=features,
            latency_ms=n / 7,
            error="model failed" if n % 11 == 0 else None,
        )

    log = PredictionLog(tmp_path, "flights", flush_interval=0.01, max_rows=64).start()

    def produce(t: int) -> None:
        i = 0
        while i < per_thread:
            size = min(1 + i % 7, per_thread - i)
            batch = [make(t, i + k) for k in range(size)]
            log.log(batch)
            i += size

    workers = [threading.Thread(target=produce, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=10)
    for t in range(threads):
        for i in range(per_thread):
            expected[f"r{t * per_thread + i}"] = make(t, i)
    log.close()

    n = threads * per_thread
    assert (log.written, log.dropped, log.queue_depth, log.failures) == (n, 0, 0, 0)
    assert len(segments(tmp_path)) > 1  # max_rows and the interval both cut segments
    frame = read_log(tmp_path, "flights")
    assert frame.schema == pl.Schema(FRAME_SCHEMA)
    assert frame.height == n and frame["request_id"].n_unique() == n
    assert frame["ts"].is_sorted()
    for row in frame.iter_rows(named=True):
        want = expected[row["request_id"]]
        assert row["ts"] == BASE + timedelta(seconds=int(row["request_id"][1:]))
        assert row["ts"].tzinfo is not None and row["ts"].utcoffset() == timedelta(0)
        assert orjson.loads(row["features"]) == want.features
        assert orjson.loads(row["outputs"]) == want.outputs
        assert (row["deployment"], row["model_version"], row["route"]) == (
            "flights",
            "flights@3",
            "stable",
        )
        assert row["latency_ms"] == pytest.approx(want.latency_ms)
        assert row["error"] == want.error


def test_read_log_filters_by_time_and_deployment(tmp_path: Path) -> None:
    with PredictionLog(tmp_path, "flights") as log:  # 22:00 on March 1 to 07:00 on March 2
        log.log([entry(i, ts=BASE + timedelta(hours=i)) for i in range(10)])
    with PredictionLog(tmp_path, "taxis") as other:
        other.log([entry(99, deployment="taxis")])
    assert sorted(p.name for p in (tmp_path / "flights").iterdir()) == ["2024-03-01", "2024-03-02"]

    def ids(frame: pl.DataFrame) -> list[str]:
        return frame["request_id"].to_list()

    hour = timedelta(hours=1)
    assert ids(read_log(tmp_path, "flights", since=BASE + 2 * hour, until=BASE + 5 * hour)) == [
        "r2",
        "r3",
        "r4",  # since inclusive, until exclusive
    ]
    naive = (BASE + 8 * hour).replace(tzinfo=None)
    assert ids(read_log(tmp_path, "flights", since=naive)) == ["r8", "r9"]
    berlin = (BASE + hour).astimezone(timezone(timedelta(hours=1)))
    assert ids(read_log(tmp_path, "flights", until=berlin)) == ["r0"]
    assert read_log(tmp_path, "flights", since=BASE + 20 * hour).height == 0
    assert read_log(tmp_path).height == 11
    assert sorted(read_log(tmp_path)["deployment"].unique()) == ["flights", "taxis"]
    assert ids(read_log(tmp_path, "taxis")) == ["r99"]


def test_nothing_logged_reads_as_an_empty_typed_frame(tmp_path: Path) -> None:
    for frame in (
        read_log(tmp_path / "missing"),
        read_log(tmp_path, "flights"),
        read_log(tmp_path, "flights", since=BASE, until=BASE + timedelta(days=1)),
    ):
        assert frame.height == 0 and frame.schema == pl.Schema(FRAME_SCHEMA)
    with PredictionLog(tmp_path, "flights"):
        pass
    assert read_log(tmp_path).height == 0 and segments(tmp_path) == []
    with pytest.raises(LoopmlError, match=r"invalid deployment name '\.\./x'"):
        read_log(tmp_path, "../x")
    with pytest.raises(LoopmlError, match="invalid deployment name"):
        PredictionLog(tmp_path, "a/b")


def test_unreadable_segments_and_temp_files_are_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with PredictionLog(tmp_path, "flights") as log:
        log.log([entry(i) for i in range(5)])
    day = tmp_path / "flights" / "2024-03-01"
    good = segments(tmp_path)[0].read_bytes()
    (day / ".part-1-1-1.parquet.tmp").write_bytes(good[: len(good) // 2])  # killed mid-write
    (day / "part-2-2-2.parquet").write_bytes(b"PAR1 not parquet at all")  # damaged by hand
    (day / "notes.txt").write_text("ignored")
    with caplog.at_level(logging.ERROR, logger="loopml.predlog"):
        frame = read_log(tmp_path)
    assert frame["request_id"].to_list() == [f"r{i}" for i in range(5)]
    assert "skipping unreadable prediction log segment" in caplog.text
    assert "part-2-2-2.parquet" in caplog.text


def test_decode_features_expands_json_into_columns(tmp_path: Path) -> None:
    with PredictionLog(tmp_path, "flights") as log:
        log.log(
            [
                entry(0, features={"distance": 10, "carrier": "AA"}),
                entry(1, features={"distance": 12.5}),
                entry(2, features={"carrier": "DL", "hour": 7}),
                entry(3, features={}),
            ]
        )
    frame = read_log(tmp_path)
    wide = decode_features(frame)
    assert "features" not in wide.columns and wide.height == 4
    assert wide["distance"].to_list() == [10.0, 12.5, None, None]
    assert wide["carrier"].to_list() == ["AA", None, "DL", None]
    assert wide["hour"].to_list() == [None, None, 7, None]
    assert wide["distance"].dtype == pl.Float64

    typed = decode_features(frame, {"distance": pl.Float32, "unknown": pl.String}, prefix="f.")
    assert typed.schema["f.distance"] == pl.Float32
    assert typed["f.unknown"].to_list() == [None] * 4

    outputs = decode_features(frame, column="outputs", prefix="out.")
    assert outputs["out.prediction"].to_list() == [True, False, True, False]
    probabilities = pl.Struct({"false": pl.Float64, "true": pl.Float64})
    assert outputs.schema["out.probabilities"] == probabilities

    empty = decode_features(read_log(tmp_path / "none"))
    assert empty.height == 0 and "features" not in empty.columns
    with PredictionLog(tmp_path, "clash") as log:
        log.log([entry(0, deployment="clash", features={"route": "x"})])
    with pytest.raises(DataError, match=r"clash with the log's columns; pass a prefix"):
        decode_features(read_log(tmp_path, "clash"))
    with PredictionLog(tmp_path, "mixed") as log:
        log.log(
            [
                entry(0, deployment="mixed", features={"a": 1}),
                entry(1, deployment="mixed", features={"a": {"z": 1}}),
            ]
        )
    with pytest.raises(DataError, match="cannot infer one type per key of 'features'"):
        decode_features(read_log(tmp_path, "mixed"))
    with pytest.raises(DataError, match="no column 'inputs'"):
        decode_features(frame, column="inputs")


# -- flush triggers, back-pressure, failures -----------------------------------------------------


def test_interval_flush_without_flush_or_close(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path, "flights", flush_interval=0.05).start()
    try:
        started = time.monotonic()
        log.log([entry(i) for i in range(5)])
        assert wait_until(lambda: read_log(tmp_path).height == 5, timeout=2.0)
        assert time.monotonic() - started < 0.5
        assert (log.written, log.queue_depth) == (5, 0)
    finally:
        log.close()


def test_max_rows_triggers_a_flush_before_the_interval(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path, "flights", flush_interval=60, max_rows=100).start()
    try:
        log.log([entry(i) for i in range(250)])
        assert wait_until(lambda: log.written == 200, timeout=3.0)
        time.sleep(0.1)
        assert (log.written, log.queue_depth) == (200, 50)  # the rest waits for the interval
    finally:
        log.close()
    assert log.written == 250 and read_log(tmp_path).height == 250
    assert sorted(pl.read_parquet(p).height for p in segments(tmp_path)) == [50, 100, 100]


def test_a_full_queue_drops_and_counts_instead_of_blocking(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = PredictionLog(tmp_path, "flights", queue_limit=100)  # no writer: nothing drains
    with caplog.at_level(logging.WARNING, logger="loopml.predlog"):
        started = time.perf_counter()
        log.log([entry(i) for i in range(60)])
        log.log([entry(60 + i) for i in range(60)])
        log.log([entry(200)])
        assert time.perf_counter() - started < 0.05
    assert (log.queue_depth, log.dropped) == (100, 21)
    assert "the queue is full (100)" in caplog.text
    log.close()
    log.close()  # idempotent
    assert (log.written, log.queue_depth) == (100, 0)
    assert read_log(tmp_path)["request_id"].to_list() == [f"r{i}" for i in range(100)]
    log.log([entry(300)])
    assert log.dropped == 22  # after close: dropped and counted
    with pytest.raises(LoopmlError, match="closed"):
        log.start()
    with pytest.raises(TypeError, match=r"log\(\[entry\]\)"):
        log.log(entry(1))  # type: ignore[arg-type]


def test_write_errors_keep_entries_and_the_writer_recovers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "flights"
    blocker.write_text("a file where the deployment's folder should be")
    log = PredictionLog(tmp_path, "flights", flush_interval=0.02).start()
    try:
        with caplog.at_level(logging.ERROR, logger="loopml.predlog"):
            log.log([entry(i) for i in range(10)])
            assert wait_until(lambda: log.failures >= 1, timeout=3.0)
            with pytest.raises(StoreError, match="they stay queued"):
                log.flush()
            assert (log.written, log.dropped) == (0, 0)
            assert wait_until(lambda: log.queue_depth == 10)  # settled between retries
        assert "could not write 10 predictions" in caplog.text
        assert log._thread is not None and log._thread.is_alive()
        blocker.unlink()
        assert wait_until(lambda: log.written == 10, timeout=5.0)  # retried with back-off
    finally:
        log.close()
    assert read_log(tmp_path)["request_id"].to_list() == [f"r{i}" for i in range(10)]
    assert list(tmp_path.rglob(".part-*")) == []  # failed attempts leave no temp files


def test_close_gives_up_after_its_timeout_and_counts_the_loss(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "flights").write_text("not a folder")
    log = PredictionLog(tmp_path, "flights", flush_interval=0.05).start()
    log.log([entry(i) for i in range(5)])
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="loopml.predlog"):
        log.close(timeout=0.3)
    assert time.monotonic() - started < 1.0
    assert (log.written, log.dropped, log.queue_depth) == (0, 5, 0)
    assert "close() could not write them within 0.3 s" in caplog.text


def test_a_failed_segment_write_leaves_nothing_behind(tmp_path: Path) -> None:
    sink = LocalSegments(tmp_path, "flights")
    unwritable = pa.table({"span": pa.array([(1, 2, 3)], pa.month_day_nano_interval())})
    with pytest.raises(pa.ArrowException):
        sink.write(unwritable, "2024-03-01")  # Parquet has no such type: fails mid-write
    assert list((tmp_path / "flights" / "2024-03-01").iterdir()) == []
    path = Path(sink.write(pa.table({"x": [1]}), "2024-03-01"))
    assert path.parent.name == "2024-03-01" and path.name.startswith("part-")
    shutil.rmtree(tmp_path / "flights")  # a retention job removed the day: it comes back
    assert Path(sink.write(pa.table({"x": [2]}), "2024-03-01")).exists()


def test_an_entry_that_cannot_be_encoded_is_dropped_alone(tmp_path: Path) -> None:
    bad = LogEntry(
        ts="yesterday",  # type: ignore[arg-type]
        request_id="bad",
        deployment="flights",
        model_version="flights@3",
        route="stable",
        features={},
        outputs={},
        latency_ms=1.0,
    )
    with PredictionLog(tmp_path, "flights") as log:
        log.log([entry(0), bad, entry(1)])
        log.flush()
        assert (log.written, log.dropped, log.queue_depth) == (2, 1, 0)
    assert read_log(tmp_path)["request_id"].to_list() == ["r0", "r1"]


def test_segments_go_to_any_sink_one_per_utc_day(tmp_path: Path) -> None:
    sink = MemorySegments()
    with PredictionLog(tmp_path, "flights", sink=sink) as log:
        log.log([entry(i, ts=BASE + timedelta(hours=i)) for i in range(4)])  # 22:00 to 01:00
    assert [(s.day, s.rows.num_rows) for s in sink.segments] == [
        ("2024-03-01", 2),
        ("2024-03-02", 2),
    ]
    assert segments(tmp_path) == []


def test_the_memory_sink_reads_back_what_read_log_would(tmp_path: Path) -> None:
    memory = MemorySegments()
    assert memory.frame().schema == pl.Schema(FRAME_SCHEMA)
    later, earlier = [entry(i, ts=BASE + timedelta(hours=5 - i)) for i in range(2)]
    sinks: list[SegmentSink] = [memory, LocalSegments(tmp_path, "flights")]
    for sink in sinks:
        with PredictionLog(tmp_path, "flights", sink=sink) as log:
            log.log([later])
            log.flush()
            log.log([earlier])
    assert memory.frame().equals(read_log(tmp_path, "flights"))
    assert memory.frame()["request_id"].to_list() == ["r1", "r0"]
    names = [s.name for s in memory.segments]
    assert len(set(names)) == 2 and all(n.startswith("memory://2024-03-02/part-") for n in names)
    assert MemorySegments().write(pa.table({"x": [1]}), "2024-03-02") not in names


def test_log_costs_the_caller_microseconds(tmp_path: Path) -> None:
    items = [[entry(i)] for i in range(20_000)]
    with PredictionLog(tmp_path, "flights") as log:
        started = time.perf_counter()
        for item in items:
            log.log(item)
        per_call = (time.perf_counter() - started) / len(items)
    assert per_call < 20e-6, f"log() took {per_call * 1e6:.1f} µs per call"
    assert log.written == len(items)


# -- real processes: SIGTERM loses nothing acknowledged, SIGKILL at most the last interval -------

CHILD = r"""
import os, signal, sys, time
from datetime import UTC, datetime
from loopml.predlog import LogEntry, PredictionLog

folder, prefix = sys.argv[1], sys.argv[2]
log = PredictionLog(folder, "flights", flush_interval=0.05).start()

def stop(signum, frame):
    log.close()
    os.write(1, f"closed {log.written} {log.dropped} {log.queue_depth}\n".encode())
    os._exit(0)

signal.signal(signal.SIGTERM, stop)
n, deadline = 0, time.monotonic() + 30  # never outlive a lost parent
while time.monotonic() < deadline:
    batch = [
        LogEntry(ts=datetime.now(UTC), request_id=f"{prefix}-{n + i}", deployment="flights",
                 model_version="flights@3", route="stable", features={"x": n + i},
                 outputs={"prediction": True}, latency_ms=1.0)
        for i in range(10)
    ]
    log.log(batch)
    n += len(batch)
    os.write(1, f"{n}\n".encode())  # acknowledged: log() returned for the first n entries
    # (one write system call, so the SIGTERM handler's line never lands inside it)
    time.sleep(0.002)
"""


class Child:
    """A child process logging predictions; its acknowledgements read with their arrival times."""

    def __init__(self, folder: Path, prefix: str, stderr: Path) -> None:
        self.prefix = prefix
        self.stderr_path = stderr
        self.acks: list[tuple[float, int]] = []
        self.lines: list[str] = []
        with open(stderr, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", CHILD, str(folder), prefix],
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
            )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            now = time.monotonic()
            self.lines.append(line.strip())
            if line.strip().isdigit():
                self.acks.append((now, int(line)))

    @property
    def acked(self) -> int:
        return self.acks[-1][1] if self.acks else 0

    def acked_before(self, moment: float) -> int:
        return max((n for t, n in self.acks if t <= moment), default=0)

    def finish(self, timeout: float = 15.0) -> int:
        """Wait for the exit, drain stdout; the exit code."""
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return code

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._reader.join(timeout=5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def on_disk(self, folder: Path) -> list[int]:
        ids = read_log(folder).filter(pl.col("request_id").str.starts_with(f"{self.prefix}-"))
        return sorted(int(i.split("-")[1]) for i in ids["request_id"])

    def describe(self) -> str:
        return f"stdout tail {self.lines[-3:]}, stderr {self.stderr_path.read_text()[-2000:]!r}"


@pytest.fixture
def children(tmp_path: Path) -> Iterator[list[Child]]:
    started: list[Child] = []
    yield started
    for child in started:
        child.stop()


def spawn(children: list[Child], folder: Path, prefix: str) -> Child:
    child = Child(folder, prefix, folder.parent / f"{prefix}.stderr")
    children.append(child)
    return child


def test_sigterm_flushes_every_acknowledged_entry(tmp_path: Path, children: list[Child]) -> None:
    folder = tmp_path / "log"
    writers = [spawn(children, folder, prefix) for prefix in ("a", "b")]  # one shared folder
    for child in writers:
        assert wait_until(lambda c=child: c.acked >= 1000, timeout=15), child.describe()
    for child in writers:
        child.proc.send_signal(signal.SIGTERM)
    for child in writers:
        assert child.finish() == 0, child.describe()
        closed = [line for line in child.lines if line.startswith("closed")]
        assert closed, child.describe()
        written, dropped, depth = (int(x) for x in closed[0].split()[1:])
        ids = child.on_disk(folder)
        assert ids == list(range(written)), "every logged entry once, none missing"
        assert child.acked <= written and (dropped, depth) == (0, 0)
    assert len(segments(folder)) > 2


def test_sigkill_loses_at_most_the_last_interval(tmp_path: Path, children: list[Child]) -> None:
    folder = tmp_path / "log"
    child = spawn(children, folder, "k")
    assert wait_until(lambda: child.acked >= 2000, timeout=15), child.describe()
    killed_at = time.monotonic()
    child.proc.send_signal(signal.SIGKILL)
    assert child.finish() == -signal.SIGKILL
    day = next(p for p in (folder / "flights").iterdir())
    good = segments(folder)[0].read_bytes()
    (day / f".part-{time.time_ns()}-1-1.parquet.tmp").write_bytes(good[: len(good) // 3])

    ids = child.on_disk(folder)  # read_log raises nothing, leftover temp files and all
    assert ids == list(range(len(ids))), "finished segments are whole: no gap, no duplicate"
    for path in segments(folder):
        assert pl.read_parquet(path).height > 0
    # the interval is 50 ms; allow 0.5 s more for the write itself and a loaded machine
    assert len(ids) >= child.acked_before(killed_at - 0.55), (len(ids), child.acked)
    assert child.acked - len(ids) < child.acked / 2
