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


def watch_rollout(server: Server, traffic: Any, version: str, *, start: bool = True) -> str:
    """Start a rollout of ``version`` with `loopml rollout start` (unless the loop started it),
    keep traffic flowing (labels fed back in batches, as they would arrive later), and show the
    canary's steps until the controller in the server promotes or rolls it back."""
    from rich.progress import BarColumn, Progress, TextColumn

    from loopml.rollout import controller
    from loopml.spec import load_spec
    from loopml.store import Store

    records, labels = records_of(traffic)
    spec = load_spec(WORK / "loopml.yaml")
    if start:
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
            outcome = status.rollout.status if status.rollout else "running"
            outcome = "running" if outcome in ("running", "paused") else outcome
            last = status.events[-1].message if status.events else ""
            progress.update(task, completed=status.deployment.canary_weight, note=last[:70])
    errors = sum(n for code, n in codes.items() if code != 200 and code != 422)
    refused = codes.get(422, 0)  # unreadable flights (most features missing), not model errors
    console.print(
        f"{i:,} requests during the rollout: {routes.get('canary', 0):,} answered by the "
        f"canary, {routes.get('stable', 0):,} by stable; [bold]{errors} errors[/] returned to "
        f"clients; outcome: [bold]{outcome}[/]"
        + (f" ({refused} unreadable flights refused with 422)" if refused else "")
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
    set_spec("retrain", "cooldown", "20s")
    set_spec("model", "candidates", "[linear, lightgbm]")
    console.print(
        "demo policies: rollout steps 10, 50, 100 % (150 requests and 3 s each); monitoring "
        "windows of 1,000 predictions; at most one retrain per 20 s (a month takes seconds); "
        "retrains search linear and LightGBM (random forest never won above, and is the slowest)"
    )


def replay(server: Server, frame: Any, *, labels_later: list[Any], fault: str | None = None) -> int:
    """Send ``frame`` in batches of 100 (one client in eight sends ``fault`` as null when
    given); queue its labels in ``labels_later`` for the caller to feed back later. A record
    the server refuses as unreadable (a flight with neither weather nor plane data has most
    features missing: a prediction would be a guess) is dropped and the rest sent again, as a
    client would; returns how many were refused."""
    records, labels = records_of(frame)
    refused = 0
    for offset in range(0, len(records), 100):
        batch = records[offset : offset + 100]
        truth = labels[offset : offset + 100]
        if fault is not None:
            batch = [{**r, fault: None} if i % 8 == 0 else r for i, r in enumerate(batch)]
        response = server.client.post("/predict", json={"records": batch})
        if response.status_code == 422:
            named = {p["index"] for p in response.json()["error"]["problems"]}
            refused += len(named)
            batch = [r for i, r in enumerate(batch) if i not in named]
            truth = [t for i, t in enumerate(truth) if i not in named]
            response = server.client.post("/predict", json={"records": batch})
        response.raise_for_status()
        labels_later.extend(
            {"request_id": p["request_id"], "label": label}
            for p, label in zip(response.json()["predictions"], truth, strict=True)
        )
    return refused


Span = tuple[str, Any, Any]  # (month, wall-clock start, wall-clock end) of its replay


def season(server: Server, data: Any) -> list[Span]:
    """April to September, a month at a time: last month's labels arrive, the month's flights
    are predicted over HTTP (in August one client in eight sends temp as null), then one pass of
    the maintenance loop. When the loop starts a canary, the month's traffic carries it."""
    from datetime import UTC, datetime

    import polars as pl

    from loopml.spec import load_spec
    from loopml.store import Store

    spec = load_spec(WORK / "loopml.yaml")
    spans: list[Span] = []
    pending: list[dict[str, Any]] = []
    for month in range(4, 10):
        name = f"2013-{month:02d}"
        rows = data.filter(pl.col("month") == month).sample(2000, seed=month)
        console.print(Rule(f"{name}", style="dim"))
        began = datetime.now(UTC)
        if pending:  # last month's labels arrive now
            server.client.post("/feedback", json={"feedback": pending}).raise_for_status()
            console.print(f"labels of the previous month fed back: {len(pending):,}")
            pending = []
        with console.status(f"replaying {name}: 2,000 flights over HTTP"):
            refused = replay(
                server,
                rows.sort("scheduled_departure"),
                labels_later=pending,
                fault="temp" if month == 8 else None,
            )
        console.print(
            f"{name}: {2000 - refused:,} flights predicted"
            + (" ([yellow]one client in eight sends temp as null[/])" if month == 8 else "")
            + (f"; {refused} refused (422: most features missing)" if refused else "")
        )
        run("loop", "--max-passes", "1")
        with Store.open(WORK / ".loopml") as store:
            canary = store.deployments.get(spec.name).canary
        if canary is not None:  # the loop retrained and started a canary: traffic carries it
            watch_rollout(server, rows.sample(fraction=1.0, shuffle=True, seed=11), canary,
                          start=False)  # fmt: skip
        spans.append((name, began, datetime.now(UTC)))
    server.client.post("/feedback", json={"feedback": pending}).raise_for_status()
    return spans


def month_of(moment: Any, spans: list[Span]) -> str:
    for name, start, end in spans:
        if start <= moment < end:
            return name
    return "after Sep" if spans and moment >= spans[-1][2] else "before Apr"


def summary(spans: list[Span]) -> None:
    """The story from the store: a timeline, and the quality per month of what served it."""
    from rich.table import Table

    from loopml.spec import load_spec
    from loopml.store import Store

    spec = load_spec(WORK / "loopml.yaml")
    events: list[tuple[Any, str, str]] = []
    with Store.open(WORK / ".loopml") as store:
        fired = store.monitoring.list_alerts(deployment=spec.name)
        grouped = store.incidents.list(deployment=spec.name)
        for incident in grouped:
            detail = f"{len(incident.evidence.get('alert_ids', []))} alert(s)"
            if incident.resolution:
                detail += f"; resolved: {incident.resolution}"
            events.append((incident.opened_at, f"incident {incident.id}: {incident.title}", detail))
        for entry in store.audit.list(spec.name):
            if entry.action != "wait":
                events.append((entry.at, f"loop: {entry.action}", entry.reason))
        for event in store.deployments.list_events(spec.name):
            if event.action in ("start", "promote", "rollback") and not (
                event.action == "start" and event.actor == "loop"  # the loop's entry says so
            ):
                events.append((event.at, f"rollout: {event.action}", event.message))
        windows = store.monitoring.list_windows(spec.name)
    table = Table(title="timeline (what happened, as the store recorded it)")
    for column in ("month", "event", "detail"):
        table.add_column(column)
    for at, what, detail in sorted(events, key=lambda e: e[0]):
        table.add_row(month_of(at, spans), what, detail[:110])
    console.print(table)
    metric = f"quality.{spec.metric.name}"
    quality = Table(title=f"{spec.metric.name} per month of the model that served it (labelled)")
    for column in ("month", "model", "predictions", spec.metric.name):
        quality.add_column(column, justify="left" if column in ("month", "model") else "right")
    groups: dict[tuple[str, str], list[Any]] = {}
    for w in windows:
        if w.metrics.get(metric) is not None:
            groups.setdefault((month_of(w.end, spans), w.model_version), []).append(w)
    for (month, model), group in sorted(groups.items()):
        rows = sum(w.rows for w in group)
        value = sum(w.metrics[metric] * w.rows for w in group) / rows
        quality.add_row(month, model, f"{rows:,}", f"{value:.4f}")
    console.print(quality)
    console.print(
        f"monitoring fired {len(fired)} alert(s), grouped into {len(grouped)} incident(s) "
        f"({sum(i.status == 'open' for i in grouped)} still open)"
    )


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
    with console.status("writing January–March (training), April and April–September files…"):
        data = flights()
        data.filter(data["month"] <= 3).write_parquet(WORK / "flights_q1.parquet")
        data.filter(data["month"] == 4).write_parquet(WORK / "flights_april.parquet")
        data.filter((data["month"] >= 4) & (data["month"] <= 9)).write_parquet(
            WORK / "flights_later.parquet"
        )
    console.print(Rule("1. scope: propose a spec from the data"))
    run("init", "flights_q1.parquet", "--target", "late", "--name", "flights")
    console.print(Rule("2. data: add January–March as an immutable version"))
    run("data", "add", "flights_q1.parquet", "--name", "flights")
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
    run("train", "--tune", "4")
    console.print(Rule("7. registry: the champion, its lineage, batch scoring"))
    run("models", "show", "flights@champion")
    run("predict", "flights_april.parquet", "--out", "predictions/april.parquet")
    console.print(Rule("8. serve: the champion answers over HTTP"))
    import polars as pl

    quick_policies()
    server = Server()
    try:
        serve_april(server, pl.read_parquet(WORK / "flights_april.parquet").sample(300, seed=3))
        console.print(
            Rule("9. April–September as live traffic, labels a month late, the loop after each")
        )
        spans = season(server, data)
        console.print(Rule("10. a broken model: trained on shuffled labels, rolled back"))
        september = data.filter(pl.col("month") == 9).sample(3000, seed=12)
        pl.read_parquet(WORK / "flights_q1.parquet").sample(20_000, seed=7).with_columns(
            pl.col("late").shuffle(seed=7)
        ).write_parquet(WORK / "flights_shuffled.parquet")
        run("data", "add", "flights_shuffled.parquet", "--name", "flights-shuffled")
        run("train", "flights-shuffled@1", "--tune", "0")
        run("models", "list")
        shuffled = _newest_version()
        watch_rollout(server, september, shuffled)
        console.print(Rule("11. what monitoring and the loop recorded"))
        run("monitor", "run")
        run("monitor", "status", "--limit", "8")
        run("incidents", "list", "--all", "--limit", "12")
        run("audit", "--limit", "12")
        run("report", "monitor")
    finally:
        server.stop()
    console.print(Rule("12. does the loop pay? the same months, replayed in-process"))
    console.print(
        "every policy starts from flights@1, trained on January–March only; retrains are "
        "LightGBM only, so that the replay takes seconds"
    )
    run(
        "simulate", "flights_later.parquet", "--model", "1", "--window", "3mo",
        "--candidates", "lightgbm",
    )  # fmt: skip
    console.print(Rule("13. summary"))
    summary(spans)
    reports = sorted((WORK / ".loopml" / "reports").glob("*.htm*"))
    lines = [
        f"spec: {WORK / 'loopml.yaml'}",
        f"store: {WORK / '.loopml'}",
        *(f"report: {path}" for path in reports),
        f"dashboard: cd {WORK} && loopml ui   →  http://127.0.0.1:8050/ui/",
        f"took {time.perf_counter() - started:.1f} s",
    ]
    console.print(Panel.fit("\n".join(lines), title="demo done"))


def _newest_version() -> str:
    from loopml.store import Store

    with Store.open(WORK / ".loopml") as store:
        return store.models.list("flights")[-1].ref


if __name__ == "__main__":
    main()
