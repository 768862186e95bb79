"""`make demo`: the loopml lifecycle on the bundled 2013 NYC flights data, as a user would run it.

Works in ``build/demo`` (recreated each run) and drives the real ``loopml`` command, printing each
command before its output, so the transcript doubles as a tutorial.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.panel import Panel
from rich.rule import Rule

from loopml.datasets import flights

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "build" / "demo"
console = Console()


def run(*args: str, ok_codes: tuple[int, ...] = (0,)) -> int:
    """Run ``loopml ARGS`` in the demo folder, echoing it like a shell session."""
    console.print(f"\n[bold cyan]$ loopml {shlex.join(args)}[/]")
    env = {**os.environ, "COLUMNS": os.environ.get("COLUMNS", str(max(console.width, 120)))}
    code = subprocess.call([sys.executable, "-m", "loopml", *args], cwd=WORK, env=env)
    if code not in ok_codes:
        console.print(f"[red]demo step failed with exit code {code}[/]")
        sys.exit(code)
    return code


def serve_april(requests: int = 1500) -> None:
    """Start `loopml serve`, send April flights one by one, feed labels back, stop gracefully."""
    import httpx
    import polars as pl
    from rich.progress import Progress

    from loopml.serving.log import read_log

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    console.print(f"\n[bold cyan]$ loopml serve --port {port} &[/]")
    server = subprocess.Popen(
        [sys.executable, "-m", "loopml", "serve", "--port", str(port)], cwd=WORK
    )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
    try:
        for _ in range(300):
            try:
                if client.get("/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        april = pl.read_parquet(WORK / "flights_april.parquet").head(requests)
        records = [
            {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r.items()}
            for r in april.drop("late").to_dicts()
        ]
        labels = april["late"].to_list()
        latencies, feedback = [], []
        with Progress(console=console) as progress:
            task = progress.add_task("POST /predict (one flight per request)", total=len(records))
            for record, label in zip(records, labels, strict=True):
                started = time.perf_counter()
                response = client.post("/predict", json=record)
                latencies.append(time.perf_counter() - started)
                response.raise_for_status()
                feedback.append({"request_id": response.json()["request_id"], "label": label})
                progress.advance(task)
        stored = client.post("/feedback", json={"feedback": feedback}).json()
        latencies.sort()
        console.print(
            f"{len(records):,} requests: p50 {latencies[len(latencies) // 2] * 1e3:.1f} ms, "
            f"p99 {latencies[int(len(latencies) * 0.99)] * 1e3:.1f} ms (client-side, "
            f"one connection); feedback stored for {stored['stored']:,} of them"
        )
    finally:
        client.close()
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    logged = read_log(WORK / ".loopml" / "artifacts" / "predictions", "flights")
    console.print(f"server stopped (SIGTERM); the prediction log holds {logged.height:,} rows")


def main() -> None:
    started = time.perf_counter()
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    console.print(
        Panel.fit(
            "loopml demo: will NYC flights arrive late?\n"
            "2013 flights from EWR/JFK/LGA with hourly weather and plane facts (public domain).",
            title="loopml",
        )
    )
    with console.status("writing January–March (training) and April (new data) files…"):
        data = flights()
        data.filter(data["month"] <= 3).write_parquet(WORK / "flights_q1.parquet")
        data.filter(data["month"] == 4).write_parquet(WORK / "flights_april.parquet")
    console.print(Rule("1. scope: propose a spec from the data"))
    run("init", "flights_q1.parquet", "--target", "late", "--name", "flights")
    console.print(Rule("2. data: add January–March as an immutable version"))
    run("data", "add", "flights_q1.parquet", "--name", "flights")
    run("data", "add", "flights_q1.parquet", "--name", "flights")  # same data: same version
    run("data", "list")
    console.print(Rule("3. profile"))
    run("data", "profile", "flights@1")
    console.print(Rule("4. validate April against January–March"))
    code = run(
        "data", "validate", "flights_april.parquet", "--against", "flights@1", ok_codes=(0, 1)
    )
    console.print(
        "April breaks only inferred ranges (warnings): spring is warmer than winter. "
        "That is the seasonal drift monitoring will watch."
        if code == 0
        else "April fails validation: see the errors above."
    )
    console.print(Rule("5. report: January–March beside April"))
    run("data", "report", "flights@1", "--compare", "flights_april.parquet")
    console.print(Rule("6. train: baselines and candidates, a short tuning, error analysis"))
    run("train", "--tune", "6")
    run("runs", "list")
    console.print(Rule("7. registry: the champion, its lineage, batch scoring"))
    run("models", "list")
    run("models", "show", "flights@champion")
    run("predict", "flights_april.parquet", "--out", "predictions/april.parquet")
    console.print(Rule("8. serve: the champion answers April's flights over HTTP"))
    serve_april()
    reports = sorted((WORK / ".loopml" / "reports").glob("*.htm*"))
    summary = [
        f"spec: {WORK / 'loopml.yaml'}",
        f"store: {WORK / '.loopml'}",
        *(f"report: {path}" for path in reports),
        f"took {time.perf_counter() - started:.1f} s",
    ]
    console.print(Panel.fit("\n".join(summary), title="demo done"))


if __name__ == "__main__":
    main()
