"""``loopml ui``: the dashboard over the project's store."""

from __future__ import annotations

from typing import Annotated

import typer

from loopml.cli._common import SpecOpt, console, need_spec, open_store, port_number

app = typer.Typer()


@app.command("ui")
def ui_command(
    host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", callback=port_number, help="Port to bind (1-65535).")
    ] = 8050,
    spec: SpecOpt = None,
) -> None:
    """Serve the dashboard: deployment, models, runs, datasets, monitoring, alerts, audit log.

    Acknowledging an alert needs LOOPML_ADMIN_TOKEN when it is set, else this machine.
    """
    from loopml.config import ServeSettings
    from loopml.ui.server import is_local, serve_ui

    project = need_spec(spec)
    admin_token = ServeSettings.from_env().admin_token

    def announce(url: str) -> None:
        console.print(f"dashboard of '{project.name}' on {url} (Ctrl+C to stop)")
        if admin_token is None and not is_local(host):
            console.print(
                "[yellow]no LOOPML_ADMIN_TOKEN set: alerts can be acknowledged only from "
                "this machine[/]"
            )

    with open_store() as store:
        serve_ui(store, project, host=host, port=port, admin_token=admin_token, announce=announce)
