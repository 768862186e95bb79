"""Time to alert: from the first faulty request to the alert, with `loopml serve` and `loopml loop`.

Sets up a throwaway project as a user would: the spec ``loopml init`` proposes for January–March
flights (``monitoring.window: 1h``, ``min_samples: 100``; the model search cut to LightGBM), the
champion trained and registered on half of January–March. Then, on 127.0.0.1, a real ``loopml
serve`` and a real ``loopml loop`` at its default interval (no ``--interval``), and traffic of
single records from the other half of January–March at ``--rate`` requests/s:

1. ``--healthy`` seconds of healthy traffic (the loop computes the open window and fires
   nothing on ``distance``);
2. then the fault: ``--null-rate`` of the requests (10 %) send ``distance`` as null, a column
   training never saw missing; the ``missing_increase`` rule fires when the open window's share
   is 5 points over training's.

Printed: seconds from the first faulty request to the ``missing_increase.distance`` alert (its
``created_at`` in the store), the window it fired on (partial or not, its rows), the loop's
passes, and every other alert fired meanwhile. The open window holds the healthy rows too, so a
10 % fault crosses 5 points once faulty rows match the healthy ones in that window: the figure
grows with ``--healthy`` (up to the window's close, when a fresh window starts). Every process the
benchmark starts is stopped before it exits.

    .venv/bin/python benchmarks/bench_alert.py [--rate 20] [--healthy 30] [--timeout 300]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import polars as pl
from rich.console import Console

from loopml.data.scope import propose_spec
from loopml.data.versions import add_frame
from loopml.datasets import flights
from loopml.modeling.train import train
from loopml.registry import register
from loopml.spec import parse_spec
from loopml.store import AlertRecord, Store

FEATURE = "distance"  # never missing in training
console = Console()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def launch(stack: ExitStack, root: Path, name: str, *args: str) -> subprocess.Popen[bytes]:
    """``loopml ARGS`` in its own session, output to ``root/NAME.log``; stopped on exit."""
    env = {**os.environ, "LOOPML_HOME": str(root / ".loopml")}
    for key in ("LOOPML_DB_URL", "LOOPML_ARTIFACTS"):
        env.pop(key, None)
    log = (root / f"{name}.log").open("wb")
    stack.callback(log.close)
    process = subprocess.Popen(
        [sys.executable, "-m", "loopml", *args],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    stack.callback(stop, process)
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM its process group, then SIGKILL after 20 s."""
    if process.poll() is not None:
        return
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


def build_project(root: Path, q1: pl.DataFrame) -> pl.DataFrame:
    """``loopml init``'s spec (LightGBM only) and its champion, trained on half of ``q1``;
    the other half, shuffled, to send."""
    proposal = propose_spec(q1, target="late", name="flights", source="flights_q1.parquet")
    text = proposal.text.replace(
        "candidates: [linear, random_forest, lightgbm]", "candidates: [lightgbm]"
    )
    assert "window: 1h" in text and "candidates: [lightgbm]" in text
    (root / "loopml.yaml").write_text(text)
    spec = parse_spec(text)
    home = root / ".loopml"
    with Store(f"sqlite:///{home / 'loopml.db'}", home / "artifacts") as store:
        version = add_frame(
            store, q1.gather_every(2), name="flights", source="flights_q1.parquet", spec=spec
        )
        register(store, spec, train(store, spec, version))
    return q1.gather_every(2, offset=1).sample(fraction=1.0, shuffle=True, seed=7)


def records(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return [
        {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}
        for row in frame.drop("late").to_dicts()
    ]


def wait_ready(client: httpx.Client, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"loopml serve exited early: {log.read_text()[-600:]}")
        try:
            if client.get("/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"loopml serve did not answer /readyz within 90 s: {log.read_text()[-600:]}")


def the_alert(store: Store) -> AlertRecord | None:
    for alert in store.monitoring.list_alerts(deployment="flights"):
        if alert.metric == "missing_increase" and alert.feature == FEATURE:
            return alert
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second")
    parser.add_argument("--healthy", type=float, default=30.0, help="seconds before the fault")
    parser.add_argument("--null-rate", type=float, default=0.10, help="share of faulty requests")
    parser.add_argument("--timeout", type=float, default=300.0, help="give up after (s)")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args()

    q1 = flights().filter(pl.col("month") <= 3)
    figures: dict[str, Any] = {"rate": args.rate, "healthy_s": args.healthy}
    with tempfile.TemporaryDirectory(prefix="bench-alert-") as folder, ExitStack() as stack:
        root = Path(folder)
        with console.status("training the champion on half of January–March…"):
            started = time.perf_counter()
            rows = records(build_project(root, q1))
        console.print(f"champion trained in {time.perf_counter() - started:.0f} s")
        port = free_port()
        server = launch(stack, root, "serve", "serve", "--port", str(port))
        client = stack.enter_context(httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10))
        wait_ready(client, server, root / "serve.log")
        loop = launch(stack, root, "loop", "loop")  # its default interval
        home = root / ".loopml"
        store = stack.enter_context(Store(f"sqlite:///{home / 'loopml.db'}", home / "artifacts"))
        chance = random.Random(11)
        begin = time.monotonic()
        fault_at: datetime | None = None
        sent = faulty = 0
        alert = None
        next_poll = 0.0
        while alert is None:
            now = time.monotonic()
            if now - begin > args.healthy + args.timeout:
                break
            if loop.poll() is not None:
                raise RuntimeError(f"loopml loop exited: {(root / 'loop.log').read_text()[-600:]}")
            record = dict(rows[sent % len(rows)])
            if now - begin >= args.healthy:
                if fault_at is None:
                    fault_at = datetime.now(UTC)
                if chance.random() < args.null_rate:
                    record[FEATURE] = None
                    faulty += 1
            response = client.post("/predict", json={"records": [record]})
            assert response.status_code == 200, response.text
            sent += 1
            if fault_at is not None and now >= next_poll:
                alert = the_alert(store)
                next_poll = now + 0.25
            time.sleep(max(0.0, begin + sent / args.rate - time.monotonic()))
        others = [a for a in store.monitoring.list_alerts(deployment="flights") if a != alert]
        said = (root / "loop.log").read_text().splitlines()
        passes = sum(line.startswith("pass ") for line in said)
    if alert is None or fault_at is None:
        console.print(f"[red]no {FEATURE} alert within {args.timeout:g} s of the fault[/]")
        sys.exit(1)
    seconds = (alert.created_at - fault_at).total_seconds()
    evidence = alert.evidence
    state = "open (partial)" if evidence.get("partial") else "closed"
    console.print(
        f"time to alert: [bold]{seconds:.1f} s[/] from the first faulty request to "
        f"'{alert.rule}' on {FEATURE} = {alert.value:.3f} (goal: under 60 s)\n"
        f"  traffic {args.rate:g} requests/s, {args.null_rate:.0%} with {FEATURE} null after "
        f"{args.healthy:g} s of healthy traffic; {sent:,} requests sent ({faulty:,} faulty)\n"
        f"  fired on the {state} {evidence.get('window_size')} window from "
        f"{str(evidence.get('window_start'))[:19]} with {evidence.get('rows'):,} rows; "
        f"'loopml loop' at its default interval ran {passes} pass(es)"
    )
    opened = datetime.fromisoformat(str(evidence.get("window_start")))
    healthy = 0 if opened >= fault_at else round(args.healthy * args.rate)
    console.print(
        f"  the window also held the ~{healthy:,} healthy rows sent before the fault: "
        f"a {args.null_rate:.0%} fault crosses a 5-point rule once faulty rows about match "
        "them, so a fault starting m minutes into a window alerts about m minutes later (or "
        "within a pass of the next window's min_samples-th row, whichever comes first)"
    )
    if others:
        keys = ", ".join(str(a.evidence.get("key", a.metric)) for a in others)
        console.print(f"other alerts meanwhile: {keys}")
    figures.update(
        seconds_to_alert=seconds,
        window_partial=bool(evidence.get("partial")),
        window_rows=evidence.get("rows"),
        requests=sent,
        faulty=faulty,
        passes=passes,
    )
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
