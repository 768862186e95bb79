"""`make demo`: the loopml lifecycle on the bundled 2013 NYC flights data, as a user would run it.

Works in ``build/demo`` (recreated each run) and drives the real ``loopml`` command, printing each
command before its output, so the transcript doubles as a tutorial.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

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


def records_of(frame: Any) -> tuple[list[dict[str, Any]], list[Any]]:
    """JSON-ready feature records (no label) and the labels of ``frame``."""
    records = [
        {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r.items()}
        for r in frame.drop("late").to_dicts()
    ]
    return records, frame["late"].to_list()


class Server:
    """`loopml serve` in the background, with an HTTP client for the demo's traffic."""

    def __init__(self) -> None:
        import httpx

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        console.print(f"\n[bold cyan]$ loopml serve --port {self.port} &[/]")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "loopml", "serve", "--port", str(self.port)], cwd=WORK
        )
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=10)
        for _ in range(300):
            try:
                if self.client.get("/readyz").status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        self.stop()
        raise SystemExit("the server did not become ready in 60 s")

    def stop(self) -> None:
        self.client.close()
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)


def serve_april(server: Server, april: Any) -> None:
    """Send April flights one by one and feed their labels back."""
    from rich.progress import Progress

    records, labels = records_of(april)
    latencies, feedback = [], []
    with Progress(console=console) as progress:
        task = progress.add_task("POST /predict (one flight per request)", total=len(records))
        for record, label in zip(records, labels, strict=True):
            started = time.perf_counter()
            response = server.client.post("/predict", json=record)
            latencies.append(time.perf_counter() - started)
            response.raise_for_status()
            feedback.append({"request_id": response.json()["request_id"], "label": label})
            progress.advance(task)
    stored = server.client.post("/feedback", json={"feedback": feedback}).json()
    latencies.sort()
    console.print(
        f"{len(records):,} requests: p50 {latencies[len(latencies) // 2] * 1e3:.1f} ms, "
        f"p99 {latencies[int(len(latencies) * 0.99)] * 1e3:.1f} ms (client-side, "
        f"one connection); feedback stored for {stored['stored']:,} of them"
    )


def watch_rollout(server: Server, traffic: Any, version: str) -> str:
    """Start a rollout of ``version`` with `loopml rollout start`, keep April traffic flowing
    (labels fed back in batches, as they would arrive later), and show the canary's steps until
    the controller in the server promotes or rolls it back. Returns the outcome."""
    from rich.progress import BarColumn, Progress, TextColumn

    from loopml.serving import controller
    from loopml.spec import load_spec
    from loopml.store import Store

    records, labels = records_of(traffic)
    spec = load_spec(WORK / "loopml.yaml")
    run("rollout", "start", version)
    codes: dict[int, int] = {}
    routes: dict[str, int] = {}
    feedback: list[dict[str, Any]] = []
    outcome, i = "running", 0
    deadline = time.monotonic() + 180
    with (
        Store.open(WORK / ".loopml") as store,
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[note]}"),
            console=console,
        ) as progress,
    ):
        task = progress.add_task(f"canary {version}", total=100, note="")
        while outcome == "running" and time.monotonic() < deadline:
            for _ in range(100):
                record, label = records[i % len(records)], labels[i % len(labels)]
                i += 1
                response = server.client.post("/predict", json=record)
                codes[response.status_code] = codes.get(response.status_code, 0) + 1
                if response.status_code == 200:
                    body = response.json()
                    routes[body["route"]] = routes.get(body["route"], 0) + 1
                    feedback.append({"request_id": body["request_id"], "label": label})
            if len(feedback) >= 400:  # labels arrive later, in batches
                server.client.post("/feedback", json={"feedback": feedback})
                feedback = []
            status = controller.status(store, spec, limit=1)
            rollout = status.rollout or {}
            outcome = rollout.get("status", "running")
            outcome = "running" if outcome in ("running", "paused") else outcome
            last = status.events[-1].message if status.events else ""
            progress.update(task, completed=status.deployment.canary_weight, note=last[:70])
    errors = sum(n for code, n in codes.items() if code != 200)
    console.print(
        f"{i:,} requests during the rollout: {routes.get('canary', 0):,} answered by the "
        f"canary, {routes.get('stable', 0):,} by stable; [bold]{errors} errors[/] returned to "
        f"clients; outcome: [bold]{outcome}[/]"
    )
    run("rollout", "status", "--limit", "8")
    return outcome


def set_spec(section: str, key: str, value: str) -> None:
    """Set ``section.key`` in the demo's loopml.yaml (a top-level section), keeping comments."""
    path = WORK / "loopml.yaml"
    text = path.read_text()
    block = re.search(rf"(?m)^{section}:\n((?:  .*\n)*)", text)
    if block is None:
        raise SystemExit(f"the spec has no '{section}' section")
    body = block[1]
    line = re.compile(rf"(?m)^  {key}: .*$")
    body = line.sub(f"  {key}: {value}", body) if line.search(body) else f"  {key}: {value}\n{body}"
    path.write_text(text[: block.start(1)] + body + text[block.end(1) :])


def quick_policies() -> None:
    """Shorten the rollout policy (each step takes seconds, not minutes) and count monitoring
    windows in predictions (a replayed month passes in seconds of wall-clock time)."""
    for key, value in [
        ("steps", "[10, 50, 100]"),
        ("min_requests", "150"),
        ("min_duration", "3s"),
        ("interval", "1s"),
    ]:
        set_spec("rollout", key, value)
    set_spec("monitoring", "window_rows", "1000")
    set_spec("monitoring", "min_samples", "500")
    console.print(
        "demo policies: rollout steps 10, 50, 100 % (150 requests and 3 s each); monitoring "
        "windows of 1,000 predictions"
    )


def replay(
    server: Server, frame: Any, *, labels_later: list[Any], fault: str | None = None
) -> None:
    """Send ``frame`` in batches of 100 (one client in eight sends ``fault`` as null when
    given); queue its labels in ``labels_later`` for the caller to feed back later."""
    records, labels = records_of(frame)
    for offset in range(0, len(records), 100):
        batch = records[offset : offset + 100]
        if fault is not None:
            batch = [{**r, fault: None} if i % 8 == 0 else r for i, r in enumerate(batch)]
        response = server.client.post("/predict", json={"records": batch})
        response.raise_for_status()
        labels_later.extend(
            {"request_id": p["request_id"], "label": label}
            for p, label in zip(response.json()["predictions"], labels[offset:], strict=False)
        )


def monitor_season(server: Server, data: Any) -> None:
    """Replay the training period (no change), then April to September one month at a time
    with labels fed back a month late, a null-sending client in August; then monitor."""
    from datetime import UTC, datetime

    import polars as pl
    from rich.progress import Progress

    began = datetime.now(UTC).isoformat(timespec="seconds")
    pending: list[dict[str, Any]] = []
    months = [("Jan–Mar (training period)", data.filter(pl.col("month") <= 3))]
    months += [(f"2013-{m:02d}", data.filter(pl.col("month") == m)) for m in range(4, 10)]
    with Progress(console=console) as progress:
        task = progress.add_task("replaying months over HTTP", total=len(months))
        for name, month in months:
            sample = month.sample(2000, seed=1)  # training period: drawn across all of it
            if name.startswith("2013"):  # a month arrives in time order
                sample = sample.sort("scheduled_departure")
            progress.update(task, description=f"replaying {name}")
            if pending:  # last month's labels arrive now
                server.client.post("/feedback", json={"feedback": pending}).raise_for_status()
                pending = []
            replay(
                server, sample, labels_later=pending, fault="temp" if name == "2013-08" else None
            )
            progress.advance(task)
    server.client.post("/feedback", json={"feedback": pending}).raise_for_status()
    console.print(
        "14,000 flights replayed (2,000 per period); labels fed back a month late; in August "
        "one client in eight sent temp as null"
    )
    run("monitor", "run", "--since", began)
    run("monitor", "status", "--limit", "14")
    console.print(
        "the first two windows replay the training period: no drift alert there; from April "
        "on the weather moves away from winter, and August's null temps fire within one window"
    )
    run("alerts", "list")
    run("report", "monitor", "--since", began)


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
    import polars as pl

    data_all = flights()
    april = pl.read_parquet(WORK / "flights_april.parquet")
    first, rest = april.filter(pl.col("day") <= 15), april.filter(pl.col("day") > 15)
    # rollout traffic: late-April flights from many clients at once, not one day in time order
    # (a step lasts seconds; in time order it would see one morning's weather and nothing else)
    rest = rest.sample(fraction=1.0, shuffle=True, seed=11)
    quick_policies()
    server = Server()
    try:
        serve_april(server, first.head(1500))
        console.print(Rule("9. canary: a model retrained with early April rolls out step by step"))
        pl.concat([pl.read_parquet(WORK / "flights_q1.parquet"), first]).write_parquet(
            WORK / "flights_q1_april.parquet"
        )
        run("data", "add", "flights_q1_april.parquet", "--name", "flights")
        run("train", "flights@2")
        run("models", "list")
        watch_rollout(server, rest, "2")
        console.print(Rule("10. a broken model: trained on shuffled labels, rolled back"))
        pl.read_parquet(WORK / "flights_q1_april.parquet").with_columns(
            pl.col("late").shuffle(seed=7)
        ).write_parquet(WORK / "flights_shuffled.parquet")
        run("data", "add", "flights_shuffled.parquet", "--name", "flights-shuffled")
        run("train", "flights-shuffled@1")
        watch_rollout(server, rest, "3")
        run("models", "list")
        console.print(Rule("11. monitor: the seasons change, a client breaks"))
        monitor_season(server, data_all)
    finally:
        server.stop()
    from loopml.serving.log import read_log

    logged = read_log(WORK / ".loopml" / "artifacts" / "predictions", "flights")
    console.print(f"server stopped (SIGTERM); the prediction log holds {logged.height:,} rows")
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
