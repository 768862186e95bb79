"""Drawing a :class:`loopml.loop.replay_result.Simulation` in the terminal: each policy's score
per window with the loop's decision, what the loop saw and decided (triggers, incidents, the
gate's numbers), the row-weighted means, and the recovered share of the gap with its interval."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from loopml.loop.replay_result import POLICIES, LoopStep, Simulation
from loopml.modeling.metrics import greater_is_better
from loopml.reports.tables import number


def render(result: Simulation, console: Console) -> None:
    """Print ``result``: the header, the quality table, the decisions table, the verdict."""
    console.print(
        f"every policy starts from [bold]{escape(result.champion)}[/] "
        f"({escape(result.starts)}); {escape(result.windowing.get('note', ''))}"
    )
    metric = result.metric
    table = Table(title=f"{metric} per window: never retrain, the loop, an oracle")
    for column in ("window", "rows", *POLICIES, "loop model", "the loop then"):
        left = column in ("window", "loop model", "the loop then")
        table.add_column(column, justify="left" if left else "right")
    sign = 1.0 if greater_is_better(metric) else -1.0
    for w in result.windows:
        known = [sign * v for v in w.quality.values() if v is not None]
        best = sign * max(known) if known else None
        cells = [
            f"[bold]{number(w.quality[p])}[/]" if w.quality[p] == best else number(w.quality[p])
            for p in POLICIES
        ]
        then = "" if w.loop is None else _short(w.loop.plan, w.loop.outcome, w.loop.model)
        table.add_row(escape(w.label), f"{w.rows:,}", *cells, w.models["loop"], then)
    means = (number(result.mean(p)) for p in POLICIES)
    table.add_row("mean (row-weighted)", "", *means, "", "", style="bold")
    console.print(table)
    _decisions(result, console)
    if result.recovery is not None:
        console.print(escape(result.recovery.verdict))


def _short(plan: str, outcome: str | None, model: str | None) -> str:
    if outcome is not None:
        return f"{outcome} {model}" if model else outcome
    return {"none": "—", "wait": "waits"}.get(plan, plan)


def _decisions(result: Simulation, console: Console) -> None:
    """What the loop saw and decided after each window that called for something."""
    steps = [(w, w.loop) for w in result.windows if w.loop is not None]
    acted = [(w, s) for w, s in steps if s.plan != "none" or s.incidents]
    if not acted:
        console.print("the loop saw no trigger and no incident in any window: it did nothing")
        return
    table = Table(title="what the loop saw and decided, once each window's labels were in")
    for column in ("after", "triggers", "incidents", "decision", "gate: value vs threshold"):
        table.add_column(column)
    for window, step in acted:
        gate = "\n".join(
            f"{c['check']} {number(c['value'])} vs {number(c['threshold'])} "
            f"{'passed' if c['passed'] else 'failed'}"
            for c in step.gate
        )
        table.add_row(
            escape(window.label),
            escape(_listed(step.triggers)),
            escape(_listed(step.incidents)),
            escape(step.reason if step.outcome is None else _outcome(step)),
            escape(gate or "—"),
        )
    console.print(table)


def _listed(items: list[str], shown: int = 3) -> str:
    """At most ``shown`` items, one a line, and how many more (--json lists them all)."""
    if not items:
        return "—"
    more = f"\n… {len(items) - shown} more" if len(items) > shown else ""
    return "\n".join(items[:shown]) + more


def _outcome(step: LoopStep) -> str:
    """A retrain's outcome; its gate numbers stand in their own column, waits say why."""
    if step.outcome in ("deployed", "rejected"):
        return f"retrained: {step.outcome} {step.model}"
    return f"retrain {step.outcome}: {step.detail}"
