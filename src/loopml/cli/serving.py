"""``loopml serve`` and ``loopml rollout …``: serve the deployment over HTTP, and move a canary
or a shadow through its steps (start, status, promote, rollback, pause, resume)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from loopml.cli._common import (
    JsonOpt,
    SpecOpt,
    console,
    emit,
    need_spec,
    open_store,
    port_number,
)
from loopml.reports.tables import number

app = typer.Typer()
rollout_app = typer.Typer(
    help="Canary and shadow rollouts: start, status, promote, rollback, pause, resume.",
    no_args_is_help=True,
)
app.add_typer(rollout_app, name="rollout")


@app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", callback=port_number, help="Port to bind (1-65535).")
    ] = 8000,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Server processes.")] = 1,
    model: Annotated[
        str | None, typer.Option("--model", help="NAME@VERSION (default: the champion).")
    ] = None,
    prediction_token: Annotated[
        str | None,
        typer.Option("--prediction-token", help="Require this bearer token for predictions."),
    ] = None,
    feedback_token: Annotated[
        str | None,
        typer.Option(
            "--feedback-token",
            help="Require this bearer token for /feedback (default: the prediction token).",
        ),
    ] = None,
    insecure: Annotated[
        bool,
        typer.Option(
            "--insecure",
            help="Serve on a non-loopback address with no token (anyone may post feedback).",
        ),
    ] = False,
    spec: SpecOpt = None,
) -> None:
    """Serve the project's model over HTTP (loopml JSON, MLflow /invocations, KServe V2).

    Tokens come from --prediction-token / --feedback-token or LOOPML_PREDICTION_TOKEN,
    LOOPML_FEEDBACK_TOKEN and LOOPML_ADMIN_TOKEN. With any token set, /feedback needs one. On a
    non-loopback --host with no token at all, serve refuses to start unless --insecure."""
    from loopml.config import ServeSettings
    from loopml.registry import load_package
    from loopml.rollout import controller
    from loopml.serving.server import check_exposure, serve
    from loopml.ui.server import SERVING_APP

    tokens = ServeSettings.from_env(
        prediction_token=prediction_token, feedback_token=feedback_token
    )
    check_exposure(host, tokens, insecure=insecure)  # before anything slow
    project = need_spec(spec)
    with open_store() as store:  # fail fast, with a clear message, before binding the port
        # what the server will answer with: the pinned model, else the deployment's stable
        ref = model or controller.ensure_deployment(store, project).stable
        assert ref is not None  # ensure_deployment always leaves a stable version
        package = load_package(store, ref)
    console.print(
        f"serving [bold]{package.record.ref}[/] as '{project.name}' on http://{host}:{port} "
        f"({workers} worker{'s' if workers > 1 else ''}); docs at /docs, metrics at /metrics, "
        "dashboard at /ui/"
    )
    serve(
        host=host,
        port=port,
        workers=workers,
        spec=spec or Path("loopml.yaml"),
        model=model,
        prediction_token=prediction_token,
        feedback_token=feedback_token,
        insecure=insecure,
        app=SERVING_APP,
    )


@rollout_app.command("start")
def rollout_start(
    version: Annotated[str, typer.Argument(help="VERSION, NAME@VERSION or NAME@ALIAS.")],
    steps: Annotated[
        str | None,
        typer.Option("--steps", help="Canary percentages, e.g. 5,25,50,100 (default: the spec)."),
    ] = None,
    shadow: Annotated[
        bool, typer.Option("--shadow", help="Run as a shadow first (copies of traffic).")
    ] = False,
    spec: SpecOpt = None,
    json: JsonOpt = False,
) -> None:
    """Start rolling a registered version out; running servers pick it up within a second."""
    from loopml.errors import SpecError
    from loopml.rollout import controller

    project = need_spec(spec)
    plan = None
    if steps is not None:
        try:
            plan = [float(x) for x in steps.split(",") if x.strip()]
        except ValueError as exc:
            raise SpecError(
                f"--steps: expected percentages like 5,25,50,100, got {steps!r}"
            ) from exc
    with open_store() as store:
        controller.start(store, project, version, steps=plan, shadow=shadow)
        _print_rollout(controller.status(store, project), json)


@rollout_app.command("status")
def rollout_status(
    spec: SpecOpt = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Decisions to show.")] = 10,
    json: JsonOpt = False,
) -> None:
    """The deployment, its rollout, and the latest decisions with every check's evidence."""
    from loopml.rollout import controller

    project = need_spec(spec)
    with open_store() as store:
        _print_rollout(controller.status(store, project, limit=limit), json)


def _rollout_action(name: str, reason: str | None, spec: Path | None, json: bool) -> None:
    from loopml.rollout import controller

    project = need_spec(spec)
    with open_store() as store:
        if name in ("promote", "rollback"):
            act = controller.promote if name == "promote" else controller.rollback
            act(store, project, reason=reason or "")
        else:
            (controller.pause if name == "pause" else controller.resume)(store, project)
        _print_rollout(controller.status(store, project, limit=1), json)


ReasonOpt = Annotated[str | None, typer.Option("--reason", help="Why (recorded).")]


@rollout_app.command("promote")
def rollout_promote(reason: ReasonOpt = None, spec: SpecOpt = None, json: JsonOpt = False) -> None:
    """Make the rollout's version stable (and the champion) now."""
    _rollout_action("promote", reason, spec, json)


@rollout_app.command("rollback")
def rollout_rollback(reason: ReasonOpt = None, spec: SpecOpt = None, json: JsonOpt = False) -> None:
    """Send all traffic back to the stable version now."""
    _rollout_action("rollback", reason, spec, json)


@rollout_app.command("pause")
def rollout_pause(spec: SpecOpt = None, json: JsonOpt = False) -> None:
    """Hold the rollout at its step (traffic keeps its split; no automatic decisions)."""
    _rollout_action("pause", None, spec, json)


@rollout_app.command("resume")
def rollout_resume(spec: SpecOpt = None, json: JsonOpt = False) -> None:
    """Continue a paused rollout (its step starts a fresh evidence window)."""
    _rollout_action("resume", None, spec, json)


_VERDICT_STYLE = {"pass": "green", "fail": "red", "wait": "yellow", "skip": "dim"}


def _print_rollout(status: Any, json: bool) -> None:
    record, rollout = status.deployment, status.rollout
    if json:
        emit(status.to_json())
        return
    console.print(
        f"deployment [bold]{record.name}[/]: stable {record.stable or '—'}"
        + (f", canary {record.canary} at {record.canary_weight:g}%" if record.canary else "")
        + (f", shadow {record.shadow}" if record.shadow else "")
    )
    if rollout is None:
        console.print("no rollout yet: loopml rollout start VERSION")
        return
    step = rollout.step
    where = "shadow" if step < 0 else f"step {step + 1}/{len(rollout.steps)}"
    console.print(
        f"rollout {rollout.id} of [bold]{rollout.model}[/]: {rollout.status} "
        f"({where}; steps {', '.join(f'{s:g}%' for s in rollout.steps)}; "
        f"failed evaluations {rollout.failed_evaluations})"
    )
    events = Table(title="decisions")
    for name in ("at", "action", "weight", "message"):
        events.add_column(name)
    for e in status.events:
        events.add_row(e.at.strftime("%H:%M:%S"), e.action, f"{e.weight:g}%", escape(e.message))
    console.print(events)
    last = next((e for e in reversed(status.events) if e.checks), None)
    if last is None:
        return
    checks = Table(title=f"checks of the last evaluation ({last.action})")
    for name in ("check", "verdict", "measured", "threshold", "evidence"):
        checks.add_column(name)
    for c in last.checks:
        style = _VERDICT_STYLE.get(c["verdict"], "")
        checks.add_row(
            c["name"],
            f"[{style}]{c['verdict']}[/]",
            number(c["measured"]),
            number(c["threshold"]),
            escape(c["detail"]),
        )
    console.print(checks)
