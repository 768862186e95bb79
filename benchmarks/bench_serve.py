"""Model-server speed: `loopml serve` beside a minimal FastAPI app and `mlflow models serve`.

Trains the demo model (LightGBM on January–March flights) into a temporary project, starts four
servers on 127.0.0.1 and loads each with Debian's ``wrk`` (C, event loop; its own CPU time is
reported so readers can see it was not the bottleneck):

- ``loopml serve`` (one worker, prediction logging on, as shipped), and ``loopml serve --workers
  2`` for single records (each worker on its own SO_REUSEPORT socket, one LightGBM thread each);
- a minimal FastAPI app (``_minimal_fastapi.py``) scoring ``pd.DataFrame([body])`` with
  ``predict_proba`` of a Pipeline(OneHotEncoder + LGBMClassifier) — the naive way;
- ``mlflow models serve --env-manager local`` of that same pipeline (``mlflow.sklearn``).

Single April records at concurrency 1, 8 and 32, and batches of 100 and 1,000 records, each for a
bounded ``--duration`` seconds. Peers run in their own virtual environments under /tmp
(created on first use); if MLflow cannot be installed or started, the table says why.

    .venv/bin/python benchmarks/bench_serve.py [--duration 10]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from _peers import venv_ready
from rich.console import Console
from rich.table import Table

from loopml.data.versions import add_frame
from loopml.datasets import flights
from loopml.modeling.train import train
from loopml.registry import register
from loopml.spec import parse_spec
from loopml.store import Store

# tests/test_serving.py's spec, with serving.max_batch at its default (1,000) so that the
# 1,000-record batch is accepted.
SPEC = """\
name: flights
task: binary
target: late
positive_class: true
id_column: flight_id
time_column: scheduled_departure
features:
  numeric: [distance, hour, temp, humid, wind_speed, visib]
  categorical: [carrier, origin, dest]
metric: {name: roc_auc, target: 0.55}
model: {candidates: [lightgbm]}
serving: {max_batch: 1000}
"""
FEATURES = ["distance", "hour", "temp", "humid", "wind_speed", "visib", "carrier", "origin", "dest"]
HERE = Path(__file__).resolve().parent
PEER_VENV = Path("/tmp/peer-venv")
PEER_PACKAGES = ["fastapi", "uvicorn", "pandas", "lightgbm", "scikit-learn", "polars", "pyarrow"]
MLFLOW_VENV = Path("/tmp/mlflow-venv")
MLFLOW_PACKAGES = ["mlflow-skinny", "scikit-learn", "lightgbm", "pandas", "pyarrow"]
MLFLOW_PACKAGES += ["fastapi", "uvicorn"]
INSTALL_TIMEOUT = 600
START_TIMEOUT = 120
SINGLE_CONCURRENCY = [1, 8, 32]
BATCHES = [(100, 1), (100, 8), (1000, 1), (1000, 8)]  # (records per request, concurrency)
console = Console(width=max(Console().width, 150))


# --- processes ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group we started, then SIGKILL it if it lingers."""
    if process.poll() is None:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
    with suppress(ProcessLookupError):  # children left in the group (gunicorn/uvicorn workers)
        os.killpg(process.pid, signal.SIGKILL)


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    single: Callable[[dict[str, Any]], Any]  # JSON body for one record
    batch: Callable[[list[dict[str, Any]]], Any]  # JSON body for many
    path: str


@contextmanager
def started(
    name: str,
    argv: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    port: int,
    ready: str,
    log: Path,
    single: Callable[[dict[str, Any]], Any],
    batch: Callable[[list[dict[str, Any]]], Any],
    path: str,
) -> Iterator[Server]:
    """Start ``argv`` in its own session, wait for GET ``ready`` to answer 200, stop it on exit."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited early ({process.returncode}): {tail(log)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} not ready within {START_TIMEOUT} s: {tail(log)}")
            try:
                if httpx.get(url + ready, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        yield Server(name, url, process, log, single, batch, path)
    finally:
        stop(process)


def tail(log: Path, chars: int = 600) -> str:
    return log.read_text(errors="replace")[-chars:].strip() if log.exists() else ""


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its live descendants (from /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    family, total, grew = {pid}, 0.0, True
    while grew:
        grew = False
        for child, (parent, _) in stats.items():
            if parent in family and child not in family:
                family.add(child)
                grew = True
    for member in family:
        total += stats.get(member, (0, 0.0))[1]
    return total


def threads(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return 0


# --- load --------------------------------------------------------------------------------------


@dataclass
class Load:
    server: str
    label: str
    rows: int
    concurrency: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    wrk_cpu_pct: float
    server_cpu_pct: float
    errors: int


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def parse_wrk(text: str) -> tuple[float, dict[str, float], int]:
    """requests/s, {percentile: ms} and non-2xx plus socket errors from ``wrk --latency``."""
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))  # type: ignore[union-attr]
    latency = {
        q: float(v) * UNITS[u]
        for q, v, u in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s)\b", text, re.M)
    }
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses:\s+(\d+)", text))
    socket_errors = re.search(r"Socket errors:(.*)", text)
    if socket_errors:
        errors += sum(int(n) for n in re.findall(r"\d+", socket_errors.group(1)))
    return rate, latency, errors


def run_wrk(
    server: Server, body: Any, rows: int, concurrency: int, label: str, work: Path, duration: int
) -> Load:
    body_file = work / re.sub(r"[^\w.-]", "_", f"body-{server.name}-{rows}.json", flags=re.ASCII)
    body_file.write_bytes(json.dumps(body).encode())
    script = work / "post.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f"local f = assert(io.open({json.dumps(str(body_file))}, 'rb'))\n"
        "wrk.body = f:read('*a')\nf:close()\n"
    )
    argv = ["wrk", "-t1", f"-c{concurrency}", f"-d{duration}s", "--latency", "--timeout", "10s"]
    argv += ["-s", str(script), server.url + server.path]
    before_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    before_server = tree_cpu_seconds(server.process.pid)
    started_at = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 30)
    wall = time.perf_counter() - started_at
    after_server = tree_cpu_seconds(server.process.pid)
    after_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed: {done.stderr or done.stdout}")
    wrk_cpu = (after_children.ru_utime - before_children.ru_utime) + (
        after_children.ru_stime - before_children.ru_stime
    )
    rate, latency, errors = parse_wrk(done.stdout)
    return Load(
        server.name,
        label,
        rows,
        concurrency,
        rate,
        latency.get("50", float("nan")),
        latency.get("99", float("nan")),
        100 * wrk_cpu / wall,
        100 * (after_server - before_server) / wall,
        errors,
    )


def check_and_warm(server: Server, records: list[dict[str, Any]]) -> None:
    """One correct answer for a single record and for a batch, then a short warm-up."""
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for body in (server.single(records[0]), server.batch(records[:100])):
            answer = client.post(server.path, json=body)
            if answer.status_code != 200:
                raise RuntimeError(f"{server.name}: {answer.status_code} {answer.text[:300]}")
        for record in records[:200]:
            client.post(server.path, json=server.single(record)).raise_for_status()


def measure(
    server: Server,
    records: list[dict[str, Any]],
    work: Path,
    duration: int,
    *,
    batches: bool = True,
) -> list[Load]:
    check_and_warm(server, records)
    out = []
    for concurrency in SINGLE_CONCURRENCY:
        with console.status(f"{server.name}: 1 record, concurrency {concurrency}…"):
            out.append(
                run_wrk(
                    server, server.single(records[0]), 1, concurrency, "1 record", work, duration
                )
            )
    for size, concurrency in BATCHES if batches else []:
        with console.status(f"{server.name}: {size} records, concurrency {concurrency}…"):
            body = server.batch(records[:size])
            out.append(
                run_wrk(server, body, size, concurrency, f"{size:,} records", work, duration)
            )
    return out


# --- setup -------------------------------------------------------------------------------------


def jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}


def build_project(root: Path) -> Path:
    """Train and register the LightGBM model; returns the training Parquet (for the peers)."""
    q1 = flights(months=[1, 2, 3])
    (root / "loopml.yaml").write_text(SPEC)
    spec = parse_spec(SPEC)
    with Store(
        f"sqlite:///{root / '.loopml' / 'loopml.db'}", root / ".loopml" / "artifacts"
    ) as store:
        version = add_frame(store, q1, name="flights", source="bench")
        register(store, spec, train(store, spec, version))
    data = root / "q1.parquet"
    q1.write_parquet(data)
    return data


def loopml_server(stack: ExitStack, root: Path, workers: int = 1) -> Server:
    port = free_port()
    env = {**os.environ, "LOOPML_HOME": str(root / ".loopml")}
    for name in ("LOOPML_DB_URL", "LOOPML_ARTIFACTS", "LOOPML_ADMIN_TOKEN"):
        env.pop(name, None)
    return stack.enter_context(
        started(
            "loopml" if workers == 1 else f"loopml ×{workers}",
            [sys.executable, "-m", "loopml", "serve", f"--port={port}", f"--workers={workers}"],
            cwd=root,
            env=env,
            port=port,
            ready="/readyz",
            log=root / f"loopml-{workers}.log",
            single=lambda r: r,
            batch=lambda rs: {"records": rs},
            path="/predict",
        )
    )


def peer_server(stack: ExitStack, root: Path, data: Path) -> Server:
    port = free_port()
    python = str(PEER_VENV / "bin" / "python")
    return stack.enter_context(
        started(
            "minimal FastAPI",
            [
                python,
                str(HERE / "_minimal_fastapi.py"),
                "serve",
                "--data",
                str(data),
                "--port",
                str(port),
            ],
            cwd=root,
            env=dict(os.environ),
            port=port,
            ready="/readyz",
            log=root / "peer.log",
            single=lambda r: r,
            batch=lambda rs: {"records": rs},
            path="/predict",
        )
    )


def mlflow_server(stack: ExitStack, root: Path, data: Path) -> Server:
    model_dir = root / "mlflow-model"
    saved = subprocess.run(
        [
            str(MLFLOW_VENV / "bin" / "python"),
            str(HERE / "_minimal_fastapi.py"),
            "save-mlflow",
            "--data",
            str(data),
            "--out",
            str(model_dir),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if saved.returncode != 0:
        raise RuntimeError(f"save_model failed: {saved.stderr[-400:]}")
    port = free_port()
    env = {**os.environ, "PATH": f"{MLFLOW_VENV / 'bin'}:{os.environ.get('PATH', '')}"}
    return stack.enter_context(
        started(
            "mlflow",
            [
                str(MLFLOW_VENV / "bin" / "mlflow"),
                "models",
                "serve",
                "-m",
                str(model_dir),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "--env-manager",
                "local",
            ],
            cwd=root,
            env=env,
            port=port,
            ready="/ping",
            log=root / "mlflow.log",
            single=lambda r: {"dataframe_records": [r]},
            batch=lambda rs: {"dataframe_records": rs},
            path="/invocations",
        )
    )


# --- report ------------------------------------------------------------------------------------


def ratio(load: Load, peers: dict[tuple[str, str, int], Load], peer: str) -> str:
    other = peers.get((peer, load.label, load.concurrency))
    if other is None or load.server == peer or other.requests_per_s == 0:
        return "—"
    return f"{load.requests_per_s / other.requests_per_s:.1f}×"


def render(loads: list[Load], notes: list[str]) -> None:
    by_key = {(x.server, x.label, x.concurrency): x for x in loads}
    table = Table(title="Model server: flights LightGBM, POST over 127.0.0.1, wrk -t1")
    for column in ("server", "payload", "conc.", "req/s", "rows/s", "p50 ms", "p99 ms"):
        table.add_column(column, justify="left" if column in ("server", "payload") else "right")
    for column in ("wrk CPU %", "server CPU %", "errors", "vs mlflow", "vs minimal"):
        table.add_column(column, justify="right")
    for x in loads:
        table.add_row(
            x.server,
            x.label,
            str(x.concurrency),
            f"{x.requests_per_s:,.0f}",
            f"{x.requests_per_s * x.rows:,.0f}",
            f"{x.p50_ms:.2f}",
            f"{x.p99_ms:.2f}",
            f"{x.wrk_cpu_pct:.0f}",
            f"{x.server_cpu_pct:.0f}",
            str(x.errors),
            ratio(x, by_key, "mlflow"),
            ratio(x, by_key, "minimal FastAPI"),
        )
    console.print(table)
    for note in notes:
        console.print(note)
    targets(by_key)


def targets(by_key: dict[tuple[str, str, int], Load]) -> None:
    def get(server: str, concurrency: int) -> Load | None:
        return by_key.get((server, "1 record", concurrency))

    lines = []
    for ours in ("loopml", "loopml ×2"):
        for concurrency in (8, 32):
            mine, theirs = get(ours, concurrency), get("mlflow", concurrency)
            if mine and theirs:
                times = mine.requests_per_s / theirs.requests_per_s
                name = f"{ours}: ≥20× mlflow req/s at concurrency {concurrency}"
                lines.append((name, f"{times:.1f}×", times >= 20))
        if one := get(ours, 1):
            name = f"{ours}: p50 < 2 ms at concurrency 1"
            lines.append((name, f"{one.p50_ms:.2f} ms", one.p50_ms < 2))
        if eight := get(ours, 8):
            name = f"{ours}: p99 < 10 ms at concurrency 8"
            lines.append((name, f"{eight.p99_ms:.2f} ms", eight.p99_ms < 10))
    for name, got, ok in lines:
        console.print(f"  {'[green]met[/]' if ok else '[red]missed[/]'}  {name}: {got}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--no-mlflow", action="store_true", help="skip mlflow models serve")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install -y wrk")
    loads: list[Load] = []
    notes = [f"CPUs: {os.cpu_count()} (wrk, the server and its workers share them)"]
    with tempfile.TemporaryDirectory() as folder:
        root, work = Path(folder) / "project", Path(folder) / "work"
        root.mkdir()
        work.mkdir()
        with console.status("training the demo model (LightGBM on January–March)…"):
            data = build_project(root)
        april = flights(months=[4]).drop_nulls(FEATURES).head(1000)
        records = [jsonable(row) for row in april.to_dicts()]
        with ExitStack() as stack:
            server = loopml_server(stack, root)
            notes.append(f"loopml: 1 worker, {threads(server.process.pid)} threads after start")
            loads += measure(server, records, work, args.duration)
            notes.append(f"loopml: {threads(server.process.pid)} threads after load")
        with ExitStack() as stack:  # single records only: batches are one core's work each
            server = loopml_server(stack, root, workers=2)
            loads += measure(server, records, work, args.duration, batches=False)
        if (
            why := venv_ready(
                PEER_VENV,
                PEER_PACKAGES,
                "pandas, sklearn, lightgbm, fastapi",
                timeout=INSTALL_TIMEOUT,
                console=console,
            )
        ) is None:
            with ExitStack() as stack:
                loads += measure(peer_server(stack, root, data), records, work, args.duration)
        else:
            notes.append(f"minimal FastAPI: not measured: {why}")
        why = (
            "--no-mlflow"
            if args.no_mlflow
            else venv_ready(
                MLFLOW_VENV,
                MLFLOW_PACKAGES,
                "mlflow, pyarrow",
                timeout=INSTALL_TIMEOUT,
                console=console,
            )
        )
        if why is None:
            try:
                with ExitStack() as stack:
                    loads += measure(mlflow_server(stack, root, data), records, work, args.duration)
            except (RuntimeError, subprocess.TimeoutExpired, httpx.HTTPError) as exc:
                why = str(exc)
        if why is not None:
            notes.append(f"mlflow: not measured: {why}")
    render(loads, notes)


if __name__ == "__main__":
    main()
