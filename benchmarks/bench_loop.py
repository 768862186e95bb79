"""Does the loop pay? Never retrain, the maintenance loop, and an oracle on April–December flights.

Sets up a throwaway project in a temporary folder, as a user would: the spec ``loopml init``
proposes for January–March (:func:`loopml.data.scope.propose_spec`, target ``late``), with the
model search restricted to ``lightgbm`` (the proposed ``linear, random_forest, lightgbm`` search
takes about 4× longer; ``--all-candidates`` runs it); January–March added as a dataset version and
the champion trained and registered on it. Then :func:`loopml.loop.simulate.simulate` replays
April–December in monthly windows through three policies:

- **never** keeps the January–March champion;
- **loop** is the maintenance loop as the spec configures it (drift and quality alerts, cooldown,
  weekly budget, the gate on the most recent labelled rows);
- **oracle** retrains after every month on everything labelled so far, without a gate.

Each month is scored (ROC AUC) by each policy's model before its labels are revealed. Printed: the
per-month scores, the means over all months and from the summer on (June–December), the share of
the never → oracle gap the loop recovers from the summer on, the loop's retrain events, the wall
time and the process's peak RSS (``VmHWM``).

    .venv/bin/python benchmarks/bench_loop.py [--months 4-12] [--all-candidates] [--tune 0]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl
from rich.console import Console
from rich.table import Table

from loopml.data.scope import propose_spec
from loopml.data.versions import add_frame
from loopml.datasets import flights
from loopml.loop.simulate import POLICIES, Simulation, SimulationEvent, WindowStarted, simulate
from loopml.modeling.progress import StageStarted
from loopml.modeling.train import train
from loopml.registry import register
from loopml.spec import Spec, parse_spec
from loopml.store import Store

SUMMER = 6  # "from the summer on": the windows starting in June or later
TRAIN_MONTHS = (1, 3)
console = Console()


def _kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def months(text: str) -> tuple[int, int]:
    """``4-12`` → (4, 12); ``7`` → (7, 7)."""
    first, _, last = text.partition("-")
    span = int(first), int(last or first)
    if not TRAIN_MONTHS[1] < span[0] <= span[1] <= 12:
        raise argparse.ArgumentTypeError(f"expected months within 4-12 such as 4-9, got {text!r}")
    return span


def project_spec(q1: pl.DataFrame, *, all_candidates: bool) -> Spec:
    """The spec ``loopml init`` proposes for January–March, its search cut to LightGBM."""
    proposal = propose_spec(q1, target="late", name="flights", source="flights_q1.parquet")
    spec = parse_spec(proposal.text)
    if all_candidates:
        return spec
    model = spec.model.model_copy(update={"candidates": ["lightgbm"]})
    return type(spec).model_validate({**spec.model_dump(), "model": model.model_dump()})


def fmt(value: float | None, digits: int = 4) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def render(
    sim: Simulation, spec: Spec, seconds: dict[str, float], month_seconds: list[float]
) -> dict[str, Any]:
    summer = [w for w in sim.windows if int(w.start[5:7]) >= SUMMER]
    table = Table(
        title=f"{sim.metric} per month, scored before its labels are revealed "
        f"(candidates: {', '.join(spec.model.candidates)})"
    )
    for name in ("month", "rows", *POLICIES, "loop − never", "loop model", "seconds"):
        table.add_column(name, justify="left" if name in ("month", "loop model") else "right")
    for w, spent in zip(sim.windows, month_seconds, strict=True):
        best = max((w.quality[p] or float("-inf")) for p in POLICIES)
        cells = [
            f"[bold]{fmt(w.quality[p])}[/]" if w.quality[p] == best else fmt(w.quality[p])
            for p in POLICIES
        ]
        never, loop = w.quality["never"], w.quality["loop"]
        delta = None if never is None or loop is None else loop - never
        style = "red" if delta is not None and delta < 0 else None
        diff = "—" if delta is None else f"[{style or 'green'}]{delta:+.4f}[/]"
        row = [w.start[:7], f"{w.rows:,}", *cells, diff, w.models["loop"], f"{spent:.0f}"]
        table.add_row(*row)
    means = {p: sim.mean(p) for p in POLICIES}
    summer_means = {p: sim.mean(p, summer) if summer else None for p in POLICIES}
    table.add_row("mean, all", "", *(fmt(means[p]) for p in POLICIES), "", "", "", style="bold")
    if summer:
        label = f"mean, {summer[0].start[:7]} on"
        cells = [fmt(summer_means[p]) for p in POLICIES]
        table.add_row(label, "", *cells, "", "", "", style="bold")
    console.print(table)

    recovered = None
    never, loop, oracle = (summer_means[p] for p in POLICIES)
    if never is not None and loop is not None and oracle is not None and oracle != never:
        recovered = (loop - never) / (oracle - never)
        console.print(
            f"from the summer on the loop recovers [bold]{recovered:.0%}[/] of the never → oracle "
            f"gap: ({fmt(loop)} − {fmt(never)}) / ({fmt(oracle)} − {fmt(never)})"
        )
    worse = [
        w.start[:7] for w in sim.windows if (w.quality["loop"] or 0) < (w.quality["never"] or 0)
    ]
    if worse:
        console.print(f"months where the loop scores below never retraining: {', '.join(worse)}")

    events = Table(title="the loop's retrain events (decided once a month's labels are in)")
    for name in ("after month", "reason", "outcome", "model", "gate / detail"):
        events.add_column(name)
    month_of = {w.end: w.start[:7] for w in sim.windows}
    for event in sim.events:
        detail = event.get("gate") or event.get("detail") or ""
        events.add_row(
            month_of.get(event["after_window"], event["after_window"][:10]),
            event["reason"],
            event["outcome"],
            event.get("model", ""),
            detail,
        )
    if sim.events:
        console.print(events)
    else:
        console.print("the loop did not retrain")

    console.print(
        f"wall time {seconds['total']:.0f} s (setup and champion {seconds['setup']:.0f} s, "
        f"simulation {seconds['simulate']:.0f} s); peak RSS {_kib('VmHWM') / 1024:,.0f} MB; "
        f"CPUs {os.cpu_count()}; load average {seconds['load_start']:.2f} at start, "
        f"{os.getloadavg()[0]:.2f} at the end"
    )
    return {
        "means": means,
        "summer_means": summer_means,
        "recovered": recovered,
        "worse_months": worse,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--months", type=months, default=(4, 12), help="replayed months: 4-12")
    parser.add_argument("--all-candidates", action="store_true", help="the spec's full search")
    parser.add_argument("--tune", type=int, default=0, help="tuning trials per retrain")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args()

    started, load_start = time.perf_counter(), os.getloadavg()[0]
    data = flights()
    q1 = data.filter(pl.col("month").is_between(*TRAIN_MONTHS))
    later = data.filter(pl.col("month").is_between(*args.months))
    spec = project_spec(q1, all_candidates=args.all_candidates)
    search = ", ".join(spec.model.candidates)
    if not args.all_candidates:
        search += " only (the proposed linear, random_forest, lightgbm search takes ~4× longer)"
    console.print(
        f"champion: January–March ({q1.height:,} rows); replay: months {args.months[0]}–"
        f"{args.months[1]} ({later.height:,} rows) in monthly windows; candidates: {search}; "
        f"tuning trials per retrain: {args.tune}"
    )
    with (
        tempfile.TemporaryDirectory(prefix="bench-loop-") as folder,
        Store(f"sqlite:///{Path(folder) / 'loopml.db'}", Path(folder) / "artifacts") as store,
    ):
        with console.status("training the champion on January–March…"):
            version = add_frame(store, q1, name="flights", source="flights_q1.parquet", spec=spec)
            record, _ = register(store, spec, train(store, spec, version, tune_trials=args.tune))
        setup = time.perf_counter() - started
        console.print(f"champion {record.ref} trained in {setup:.0f} s")
        marks: list[float] = []
        with console.status("replaying…") as status:

            def step(event: SimulationEvent) -> None:
                if isinstance(event, WindowStarted):
                    marks.append(time.perf_counter())
                    status.update(f"month {event.number}/{event.total} ({event.start:%B})")
                elif isinstance(event, StageStarted):
                    status.update(event.text)

            clock = time.perf_counter()
            sim = simulate(store, spec, later, every="1mo", tune_trials=args.tune, on_event=step)
            ended = time.perf_counter()
    seconds = {
        "setup": setup,
        "simulate": ended - clock,
        "total": time.perf_counter() - started,
        "load_start": load_start,
    }
    # a month's seconds: from its scoring to the next month's (its retrains included)
    month_seconds = [b - a for a, b in zip(marks, [*marks[1:], ended], strict=True)]
    figures = render(sim, spec, seconds, month_seconds)
    if args.json:
        payload = {
            **sim.to_dict(),
            **figures,
            "seconds": seconds,
            "peak_rss_bytes": _kib("VmHWM") * 1024,
        }
        print(json.dumps(payload, default=str))


if __name__ == "__main__":
    main()
