"""Does the loop pay? Never retrain, the maintenance loop and an oracle on every bundled dataset.

For each dataset a throwaway project is set up in a temporary folder, as a user would: the spec
``loopml init`` proposes for the early rows (:func:`loopml.data.scope.propose_spec`), with the
model search cut to ``lightgbm`` (``--all-candidates`` runs the proposed ``linear,
random_forest, lightgbm``, about 4× longer); the early rows are added as a dataset version and
the model trained on them registered (the champion, or the newest version when none meets the
proposed target). Then :func:`loopml.loop.simulate.simulate` replays the later rows with its
defaults (windows chosen to fit the data) through three policies:

- **never** keeps the starting model;
- **loop** is the maintenance loop as the spec configures it (triggers, cooldown, weekly budget,
  the gate on the most recent labelled rows);
- **oracle** retrains after every window on everything labelled so far, without a gate.

The datasets (``--datasets``, default all):

- ``flights``: January–March 2013 to train, April–December replayed (``--months``); ``late``;
- ``weekly``: S&P 500 direction, 1990–2000 to train, 2001–2010 replayed; an integer ``Year``
  as the time column; almost nothing to learn, so the loop should rightly do nothing;
- ``chicago``: Clark/Lake ridership, 2001–2010 to train, 2011–2016 replayed; a regression.

Printed per dataset: the replay's tables as ``loopml simulate`` prints them, the wall time; at
the end, one row per dataset: the row-weighted means, the oracle's gain over never (the gap),
the loop's, and the share of the gap the loop recovers, each with its 95 % paired bootstrap
interval (rows resampled within windows).

    .venv/bin/python benchmarks/bench_loop.py [--datasets flights,weekly,chicago]
        [--months 4-12] [--all-candidates] [--tune 0] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from rich.console import Console
from rich.table import Table

from loopml import datasets
from loopml.cli._replay import render
from loopml.data.scope import propose_spec
from loopml.data.versions import add_frame
from loopml.loop.replay_stats import Interval
from loopml.loop.simulate import POLICIES, Simulation, SimulationEvent, WindowStarted, simulate
from loopml.modeling.progress import StageStarted
from loopml.modeling.train import train
from loopml.registry import register
from loopml.spec import Spec, parse_spec
from loopml.store import Store

TRAIN_MONTHS = (1, 3)
console = Console(width=160)  # the tables as a wide terminal shows them, piped or not


@dataclass(frozen=True)
class Replay:
    """A bundled dataset's replay: how to split it in early (train) and later (replay) rows."""

    name: str
    target: str
    time_column: str | None
    split: Callable[[argparse.Namespace], tuple[pl.DataFrame, pl.DataFrame, str]]


def _flights(args: argparse.Namespace) -> tuple[pl.DataFrame, pl.DataFrame, str]:
    data = datasets.flights()
    first, last = args.months
    early = data.filter(pl.col("month").is_between(*TRAIN_MONTHS))
    later = data.filter(pl.col("month").is_between(first, last))
    return early, later, f"January–March to train, months {first}–{last} replayed"


def _weekly(args: argparse.Namespace) -> tuple[pl.DataFrame, pl.DataFrame, str]:
    data = datasets.weekly()
    early, later = data.filter(pl.col("Year") <= 2000), data.filter(pl.col("Year") > 2000)
    return early, later, "1990–2000 to train, 2001–2010 replayed"


def _chicago(args: argparse.Namespace) -> tuple[pl.DataFrame, pl.DataFrame, str]:
    data = datasets.chicago()
    year = pl.col("date").dt.year()
    early, later = data.filter(year <= 2010), data.filter(year > 2010)
    return early, later, "2001–2010 to train, 2011–2016 replayed"


REPLAYS = {
    "flights": Replay("flights", "late", None, _flights),
    "weekly": Replay("weekly", "Direction", "Year", _weekly),
    "chicago": Replay("chicago", "ridership", None, _chicago),
}


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


def names(text: str) -> list[str]:
    chosen = [n.strip() for n in text.split(",") if n.strip()]
    if unknown := [n for n in chosen if n not in REPLAYS]:
        raise argparse.ArgumentTypeError(
            f"expected datasets among {', '.join(REPLAYS)}, got {', '.join(unknown)}"
        )
    return chosen


def project_spec(replay: Replay, early: pl.DataFrame, *, all_candidates: bool) -> Spec:
    """The spec ``loopml init`` proposes for the early rows, its search cut to LightGBM."""
    proposal = propose_spec(
        early, target=replay.target, name=replay.name, time_column=replay.time_column,
        source=f"{replay.name}.parquet",
    )  # fmt: skip
    spec = parse_spec(proposal.text)
    if all_candidates:
        return spec
    model = spec.model.model_copy(update={"candidates": ["lightgbm"]})
    return type(spec).model_validate({**spec.model_dump(), "model": model.model_dump()})


def run(replay: Replay, args: argparse.Namespace) -> dict[str, Any]:
    """Set up ``replay``'s project, replay its later rows, print and return the figures."""
    started = time.perf_counter()
    early, later, said = replay.split(args)
    spec = project_spec(replay, early, all_candidates=args.all_candidates)
    console.rule(f"{replay.name}: {said}")
    console.print(
        f"{early.height:,} rows to train, {later.height:,} replayed; candidates: "
        f"{', '.join(spec.model.candidates)}; tuning trials per retrain: {args.tune}"
    )
    with (
        tempfile.TemporaryDirectory(prefix=f"bench-loop-{replay.name}-") as folder,
        Store(f"sqlite:///{Path(folder) / 'loopml.db'}", Path(folder) / "artifacts") as store,
    ):
        with console.status(f"training {replay.name}'s first model…"):
            version = add_frame(store, early, name=spec.name, source="bench", spec=spec)
            register(store, spec, train(store, spec, version, tune_trials=args.tune))
        setup = time.perf_counter() - started
        with console.status("replaying…") as status:

            def step(event: SimulationEvent) -> None:
                if isinstance(event, WindowStarted):
                    status.update(f"window {event.number}/{event.total} ({event.label})")
                elif isinstance(event, StageStarted):
                    status.update(event.text)

            sim = simulate(store, spec, later, tune_trials=args.tune, on_event=step)
    seconds = {"setup": setup, "total": time.perf_counter() - started}
    render(sim, console)
    console.print(
        f"wall time {seconds['total']:.0f} s (first model {setup:.0f} s); peak RSS "
        f"{_kib('VmHWM') / 1024:,.0f} MB"
    )
    return {"simulation": sim, "seconds": seconds, "rows": later.height}


def _shown(interval: Interval | None, percent: bool = False) -> str:
    if interval is None or interval.value is None:
        return "—"
    one = (lambda v: f"{v:.0%}") if percent else (lambda v: f"{v:+.4f}")
    if interval.low is None or interval.high is None:
        return one(interval.value)
    return f"{one(interval.value)} [{one(interval.low)}, {one(interval.high)}]"


def summary(figures: dict[str, dict[str, Any]]) -> None:
    table = Table(
        title="the loop on every bundled dataset (row-weighted means; 95 % intervals from a "
        "paired bootstrap of rows within windows)"
    )
    for column in ("dataset", "metric", "windows", *POLICIES, "oracle − never", "loop − never",
                   "recovered", "verdict"):  # fmt: skip
        table.add_column(column, justify="left" if column in ("dataset", "verdict") else "right")
    for name, found in figures.items():
        sim: Simulation = found["simulation"]
        got = sim.recovery
        assert got is not None
        verdict = (
            "worse than never beyond noise" if got.worse_than_never
            else "a real gap: share recovered" if got.share is not None
            else "no gap beyond noise: nothing to recover"
        )  # fmt: skip
        table.add_row(
            name, sim.metric, f"{len(sim.windows)} ({sim.windowing.get('every') or 'rows'})",
            *(f"{sim.mean(p):.4f}" if sim.mean(p) is not None else "—" for p in POLICIES),
            _shown(got.gap), _shown(got.gain), _shown(got.share, percent=True), verdict,
        )  # fmt: skip
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=names, default=list(REPLAYS), help="flights,weekly")
    parser.add_argument("--months", type=months, default=(4, 12), help="flights: months 4-12")
    parser.add_argument("--all-candidates", action="store_true", help="the spec's full search")
    parser.add_argument("--tune", type=int, default=0, help="tuning trials per retrain")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args()
    load_start = os.getloadavg()[0]
    figures = {name: run(REPLAYS[name], args) for name in args.datasets}
    summary(figures)
    console.print(
        f"CPUs {os.cpu_count()}; load average {load_start:.2f} at start, "
        f"{os.getloadavg()[0]:.2f} at the end"
    )
    if args.json:
        payload = {
            name: {**found["simulation"].to_dict(), "seconds": found["seconds"]}
            for name, found in figures.items()
        }
        print(json.dumps(payload, default=str))


if __name__ == "__main__":
    main()
