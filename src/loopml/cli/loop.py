"""The maintenance verbs: ``loopml retrain`` (and ``retrain approve``), ``loop`` (the daemon),
``audit`` (its decisions) and ``simulate`` (replay later data through three policies)."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from loopml.cli._common import (
    JsonOpt,
    SpecOpt,
    console,
    duration,
    emit,
    errors,
    need_spec,
    open_store,
)
from loopml.cli._render import TrainProgress, print_validation
from loopml.errors import LoopmlError
from loopml.reports.tables import audit_row, number

app = typer.Typer()
retrain_app = typer.Typer(
    help="Retrain on fresh labelled data, gate, and start a canary (or propose it)."
)
app.add_typer(retrain_app, name="retrain")


@retrain_app.callback(invoke_without_command=True)
def retrain_command(
    ctx: typer.Context,
    reason: Annotated[str, typer.Option("--reason", help="Why, for the audit log.")] = "manual",
    tune: Annotated[
        int | None,
        typer.Option("--tune", help="Tuning budget before halving (default: model.tune)."),
    ] = None,
    spec: SpecOpt = None,
    json: JsonOpt = False,
) -> None:
    """Retrain the serving model on fresh labelled production data (see retrain.data), gate it
    on the most recent labelled rows, and start a canary, or propose it (retrain.approval)."""
    if ctx.invoked_subcommand is not None:
        return
    from loopml.errors import ValidationFailed
    from loopml.loop.retrain import retrain

    project = need_spec(spec)
    reporter = TrainProgress()
    with open_store() as store:
        try:
            if json:
                outcome = retrain(store, project, reason=reason, tune_trials=tune)
            else:
                with reporter.progress:
                    outcome = retrain(
                        store, project, reason=reason, tune_trials=tune, on_event=reporter
                    )
                    reporter.progress.remove_task(reporter.status)
        except ValidationFailed as exc:
            if json:
                emit({"status": "invalid", "error": str(exc), "validation": exc.report.to_dict()})
            else:
                print_validation(exc.report, "the retrain's training data", "the original schema")
                errors.print(f"[red]retrain stopped:[/] {escape(str(exc))}")
            raise typer.Exit(1) from exc
    decision = outcome.training.decision
    payload = {
        "status": outcome.status,
        "model": outcome.model,
        "dataset": outcome.dataset.ref,
        "blessed": decision.blessed,
        "reason": decision.reason,
        "checks": decision.checks,
        "data": outcome.facts,
    }
    if json:
        emit(payload)
        return
    facts = outcome.facts
    console.print(
        f"trained on {outcome.dataset.ref} ({facts['training_rows']:,} rows: "
        f"{facts['base_dataset']} + {facts['fresh_rows']:,} labelled production rows); "
        f"compared on the {facts['comparison_rows']:,} most recent labelled rows"
    )
    for left_out in facts.get("quarantine", []):
        which = f"incident {left_out['incident']}: " if left_out["incident"] is not None else ""
        console.print(
            f"[yellow]quarantined[/] {left_out['rows']:,} labelled rows ({which}"
            f"{escape(left_out['title'])}): left out of training"
        )
    table = Table(title=f"gate: {outcome.model} against {facts['serving']}")
    for column in ("check", "value", "threshold", "passed"):
        table.add_column(column)
    for check in decision.checks:
        table.add_row(
            check["check"],
            number(check["value"]),
            number(check["threshold"]),
            "[green]yes[/]" if check["passed"] else "[red]no[/]",
        )
    console.print(table)
    said = {
        "rollout": f"[green]canary rollout of {outcome.model} started[/] (loopml rollout status)",
        "proposed": f"[yellow]{outcome.model} proposed[/]: approve with "
        f"loopml retrain approve {outcome.training.model.version}",
        "rejected": f"[yellow]{outcome.model} not deployed[/]: {escape(decision.reason)}",
    }
    console.print(said[outcome.status])


@retrain_app.command("approve")
def retrain_approve(
    version: Annotated[
        str | None, typer.Argument(help="The proposed version (default: the pending one).")
    ] = None,
    spec: SpecOpt = None,
    json: JsonOpt = False,
) -> None:
    """Approve the proposed challenger: its canary rollout starts."""
    from loopml.loop.retrain import approve

    project = need_spec(spec)
    with open_store() as store:
        record = approve(store, project, version, actor=os.environ.get("USER", "cli"))
    if json:
        emit({"canary": record.canary, "weight": record.canary_weight})
        return
    console.print(f"approved: canary rollout of {record.canary} at {record.canary_weight:g}%")


@app.command("loop")
def loop_command(
    interval: Annotated[
        timedelta,
        typer.Option(
            "--interval",
            parser=duration("1s", why="the time between passes"),
            help="Time between passes (10s, 1m; at least 1s).",
        ),
    ] = "10s",  # type: ignore[assignment]  # a string: Typer passes defaults through the parser
    max_passes: Annotated[
        int | None, typer.Option("--max-passes", min=1, help="Stop after this many passes.")
    ] = None,
    spec: SpecOpt = None,
) -> None:
    """Run the maintenance loop: drive rollouts, monitor, retrain when the policy says so.

    SIGTERM stops it after the current pass; Ctrl-C stops it at once (a retrain in progress is
    recorded as failed; the serving model keeps serving).
    """
    import signal
    import threading

    from loopml.loop.daemon import run_loop
    from loopml.spec.durations import format_duration

    project = need_spec(spec)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def said(number: int, result: Any) -> None:
        parts = [f"pass {number}: {result.windows} window(s)"]
        if result.rollout is not None:
            parts.append(f"rollout {result.rollout.action}")
        if result.alerts:
            parts.append(f"{len(result.alerts)} alert(s)")
        if result.outcome is not None:
            parts.append(f"retrain → {result.outcome.model} {result.outcome.status}")
        elif result.plan is not None and result.plan.action != "none":
            parts.append(escape(result.plan.reason))
        if result.error:
            parts.append(f"[red]{escape(result.error)}[/]")
        console.print("; ".join(parts))

    if max_passes == 1:
        console.print(f"maintenance loop for '{project.name}': one pass")
    else:
        limit = f", at most {max_passes} passes" if max_passes else ""
        every = format_duration(interval)
        console.print(
            f"maintenance loop for '{project.name}': a pass every {every}{limit} "
            "(SIGTERM or Ctrl-C stops)"
        )
    with open_store() as store:
        try:
            passes = run_loop(
                store, project, interval=interval, max_passes=max_passes, stop=stop, on_pass=said
            )
        except KeyboardInterrupt:
            passes = None
    console.print(f"loop stopped{'' if passes is None else f' after {passes} pass(es)'}")


@app.command("audit")
def audit_command(
    limit: Annotated[int, typer.Option("--limit", min=1, help="Newest entries to show.")] = 30,
    spec: SpecOpt = None,
    json: JsonOpt = False,
) -> None:
    """The maintenance loop's decisions (and approvals), newest first, with their reasons."""
    project = need_spec(spec)
    with open_store() as store:
        entries = store.audit.list(project.name, limit=limit)
    if json:
        emit([audit_row(e) for e in entries])
        return
    if not entries:
        console.print("no maintenance decision yet (loopml loop, loopml retrain)")
        return
    table = Table(title=f"audit log of '{project.name}'")
    for column in ("at", "action", "model", "actor", "reason"):
        table.add_column(column)
    for entry in entries:
        row = audit_row(entry)
        table.add_row(
            row["at"], row["action"], row["model"] or "", row["actor"], escape(row["reason"])
        )
    console.print(table)


@app.command("simulate")
def simulate_command(
    data: Annotated[str, typer.Argument(help="Later, labelled rows: a file path or URL.")],
    window: Annotated[
        str | None,
        typer.Option(
            "--window",
            help="Window by the time column: 1mo, 2w, 7d (default: monthly when months hold "
            "monitoring.min_samples rows and number at most 24, else an interval that does).",
        ),
    ] = None,
    window_rows: Annotated[
        int | None, typer.Option("--window-rows", min=2, help="Windows of this many rows.")
    ] = None,
    candidates: Annotated[
        str | None,
        typer.Option("--candidates", help="Comma-separated candidates (default: the spec's)."),
    ] = None,
    tune: Annotated[int, typer.Option("--tune", min=0, help="Trials per retrain.")] = 0,
    model: Annotated[
        str | None,
        typer.Option("--model", help="Where every policy starts (default: the champion)."),
    ] = None,
    spec: SpecOpt = None,
    json: JsonOpt = False,
) -> None:
    """Replay DATA window by window through three policies: never retrain, the loop as the spec
    configures it, and an oracle retraining on every window; print quality per window, what the
    loop saw and decided, the row-weighted means, and the share of the never → oracle gap the
    loop recovers with a bootstrap interval."""
    from rich.progress import Progress

    from loopml.data.io import read_source
    from loopml.loop.simulate import SimulationEvent, WindowStarted, simulate
    from loopml.modeling.progress import StageStarted

    project = need_spec(spec)
    fits = None if not candidates else [c.strip() for c in candidates.split(",") if c.strip()]
    frame = read_source(data)
    with open_store() as store, Progress(console=console, transient=True, disable=json) as progress:
        task = progress.add_task("replaying", total=None)

        def step(event: SimulationEvent) -> None:
            if isinstance(event, WindowStarted):
                progress.update(
                    task,
                    total=event.total,
                    completed=event.number - 1,
                    description=f"window {event.number} ({escape(event.label)})",
                )
            elif isinstance(event, StageStarted):
                progress.update(task, description=escape(event.text))

        if window is not None and window_rows is not None:
            raise LoopmlError("--window and --window-rows: pass one of them")
        result = simulate(
            store,
            project,
            frame,
            every=window,
            rows=window_rows,
            tune_trials=tune,
            model=model if model is None or "@" in model else f"{project.name}@{model}",
            candidates=fits,
            on_event=step,
        )
    if json:
        emit(result.to_dict())
        return
    from loopml.cli._replay import render

    render(result, console)
