"""`loopml serve` process management, for real: several workers each on their own SO_REUSEPORT
socket, a worker that dies is replaced, a port in use fails fast, SIGTERM stops every worker
with nothing lost, and SIGKILL under load loses at most the last flush interval of predictions
and never damages a finished segment.

Which worker served a request shows in the prediction log: segments are named
``part-<ns>-<pid>-<seq>.parquet``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pyarrow.parquet as pq
import pytest

from loopml.predlog import read_log
from tests.support.servers import Server, start


@pytest.fixture(scope="module")
def project(served_project: Path) -> Path:
    """flights@1, registered and ready to serve (tests/plugins/servers.py); this module's own."""
    return served_project


@pytest.fixture(scope="module")
def april(april_records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return april_records


FLUSH_INTERVAL = 0.2  # the spec's serving.log_flush_interval (the default)
WRITE_SLACK = 0.5  # time a segment write in progress may take under load


def _log_folder(root: Path) -> Path:
    return root / ".loopml" / "artifacts" / "predictions"


def _segments(root: Path) -> list[Path]:
    return sorted((_log_folder(root) / "flights").glob("*/part-*.parquet"))


def _segment_pids(root: Path) -> set[int]:
    return {int(path.stem.split("-")[2]) for path in _segments(root)}


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _workers(parent: int) -> set[int]:
    """Live worker processes of ``parent`` (multiprocessing ``spawn`` children)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and b"spawn_main" in command and _alive(int(entry.name)):
            found.add(int(entry.name))
    return found


def _wait_for(condition: Any, what: str, timeout: float = 60.0) -> None:
    """Poll ``condition`` until it holds. A worker starting on a loaded 2-core machine (imports,
    then the model) took 10-13 s, so the bound is generous: it only stops a hung test."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


@contextmanager
def serving(root: Path, *args: str) -> Iterator[tuple[Server, set[int]]]:
    """``loopml serve ARGS``; yields it and a set of the worker pids seen (kept up to date by
    the test). On exit: SIGTERM, and SIGKILL for any process of it still alive."""
    running = start(root, *args)
    seen: set[int] = set()
    try:
        yield running, seen
    finally:
        seen |= _workers(running.process.pid)
        running.stop()
        for pid in seen:
            if _alive(pid):
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def _predict_fresh(running: Server, records: list[dict[str, Any]]) -> set[str]:
    """One request per record, each on a new connection (so the kernel picks a worker)."""
    ids = set()
    for record in records:
        response = httpx.post(running.url + "/predict", json=record, timeout=10)
        assert response.status_code == 200, response.text
        ids.add(response.json()["request_id"])
    return ids


def _logged(root: Path) -> set[str]:
    return set(read_log(_log_folder(root), "flights")["request_id"].to_list())


def test_two_workers_share_the_port_restart_and_stop_gracefully(
    project: Path, april: list[dict[str, Any]]
) -> None:
    with serving(project, "--workers", "2") as (running, seen):
        _wait_for(lambda: len(_workers(running.process.pid)) == 2, "2 worker processes")
        first = _workers(running.process.pid)
        seen |= first
        acknowledged: set[str] = set()

        def both_served() -> bool:
            acknowledged.update(_predict_fresh(running, april[:10]))
            return first <= _segment_pids(project)

        _wait_for(both_served, "segments from both workers")
        _wait_for(lambda: acknowledged <= _logged(project), "every prediction to be logged")
        # Each worker logged its own predictions: both answered.
        assert first <= _segment_pids(project)

        killed = min(first)
        os.kill(killed, signal.SIGKILL)
        _wait_for(lambda: len(_workers(running.process.pid) - first) == 1, "a replacement worker")
        (replacement,) = _workers(running.process.pid) - first
        seen.add(replacement)

        def replacement_served() -> bool:
            acknowledged.update(_predict_fresh(running, april[10:20]))
            return replacement in _segment_pids(project)

        _wait_for(replacement_served, "the replacement worker to serve")
        assert running.process.poll() is None
        code = running.stop()
    assert code == 0
    assert not [pid for pid in seen if _alive(pid)]  # every worker stopped with the supervisor
    missing = acknowledged - _logged(project)
    assert not missing, f"{len(missing)} of {len(acknowledged)} acknowledged predictions not logged"


@pytest.mark.parametrize("workers", [1, 2])
def test_a_port_in_use_fails_fast_with_a_clear_error(project: Path, workers: int) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "LOOPML_HOME": str(project / ".loopml")}
        for name in ("LOOPML_DB_URL", "LOOPML_ARTIFACTS", "LOOPML_ADMIN_TOKEN"):
            env.pop(name, None)
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "loopml",
                "serve",
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "--port" in done.stderr


@pytest.mark.parametrize("workers", [1, 2])
def test_sigkill_under_load_loses_only_the_last_flush_interval(
    project: Path, april: list[dict[str, Any]], workers: int
) -> None:
    acknowledged: list[tuple[str, float]] = []  # (request_id, monotonic time acknowledged)
    stop = threading.Event()

    def load(offset: int) -> None:
        limits = httpx.Limits(max_keepalive_connections=0)  # new connections: every worker
        with httpx.Client(base_url=running.url, timeout=5, limits=limits) as client:
            for i in range(100_000):
                if stop.is_set():
                    return
                try:
                    response = client.post("/predict", json=april[(offset + i) % len(april)])
                except httpx.TransportError:
                    return  # the server is gone
                if response.status_code == 200:
                    acknowledged.append((response.json()["request_id"], time.monotonic()))

    with serving(project, "--workers", str(workers)) as (running, seen):
        if workers > 1:
            _wait_for(lambda: len(_workers(running.process.pid)) == workers, "the workers")
        seen |= _workers(running.process.pid)
        threads = [threading.Thread(target=load, args=(n * 50,)) for n in range(2)]
        try:
            for thread in threads:
                thread.start()
            _wait_for(lambda: len(acknowledged) >= 200, "200 acknowledged predictions")
            time.sleep(0.5)
            killed_at = time.monotonic()
            for pid in [running.process.pid, *seen]:  # the supervisor first: no replacements
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            running.process.wait(timeout=10)
            _wait_for(lambda: not [pid for pid in seen if _alive(pid)], "the killed workers")
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=10)
    assert running.process.returncode == -signal.SIGKILL

    for segment in _segments(project):
        pq.read_table(segment)  # every finished segment is whole
    logged = read_log(_log_folder(project), "flights")
    acknowledged_at = dict(acknowledged)
    counts = (
        logged.filter(pl.col("request_id").is_in(list(acknowledged_at)))
        .group_by("request_id")
        .len()
    )
    assert counts.filter(pl.col("len") > 1).is_empty(), "a prediction was logged twice"
    missing = set(acknowledged_at) - set(counts["request_id"].to_list())
    late = [killed_at - acknowledged_at[i] for i in missing]
    print(
        f"{workers} worker(s): {len(acknowledged_at)} acknowledged, {counts.height} logged, "
        f"{len(missing)} lost (acknowledged at most {max(late, default=0) * 1000:.0f} ms before "
        "the kill)"
    )
    assert len(acknowledged_at) == len(acknowledged) and counts.height > 0
    assert max(late, default=0) <= FLUSH_INTERVAL + WRITE_SLACK
