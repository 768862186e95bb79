"""``loopml monitor …`` and ``loopml alerts …``: compute and show the monitoring windows of
logged predictions, and the alerts they fired."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from loopml.cli._common import (
    JsonOpt,
    SinceOpt,
    SpecOpt,
    console,
    emit,
    need_spec,
    open_store,
    parse_since,
)
from loopml.reports.tables import alert_row, number

if TYPE_CHECKING:
    from loopml.store import AlertRecord

app = typer.Typer()
monitor_app = typer.Typer(
    help="Monitoring windows of logged predictions: run, status.", no_args_is_help=True
)
app.add_typer(monitor_app, name="monitor")
alerts_app = typer.Typer(help="Fired alerts: list, ack.", no_args_is_help=True)
app.add_typer(alerts_app, name="alerts")


@monitor_app.command("run")
def monitor_run(since: SinceOpt = None, spec: SpecOpt = None, json: JsonOpt = False) -> None:
    """Compute the windows of logged predictions, store them, and fire alerts."""
    from loopml.monitoring import monitor
    from loopml.predlog import log_folder

    project = need_spec(spec)
    with open_store() as store, console.status("computing monitoring windows…"):
        result = monitor.run(store, project, log_folder(store), since=parse_since(since))
    if json:
        emit(
            {
                "windows": len(result.windows),
                "alerts": [alert_row(a) for a in result.alerts],
            }
        )
        return
    console.print(f"{len(result.windows)} window(s) computed")
    if result.alerts:
        console.print(_alerts_table("alerts fired", result.alerts))
    else:
        console.print("no alert fired")


@monitor_app.command("status")
def monitor_status(
    limit: Annotated[int, typer.Option("--limit", min=1, help="Windows to show.")] = 12,
    spec: SpecOpt = None,
    json: JsonOpt = False,
) -> None:
    """The latest stored windows: volume, errors, latency, quality and what drifted."""
    project = need_spec(spec)
    with open_store() as store:
        windows = store.monitoring.list_windows(project.name, limit=limit)
    if json:
        emit([{**w.__dict__, "start": w.start, "end": w.end} for w in windows])
        return
    if not windows:
        console.print("no windows yet: run 'loopml monitor run' once predictions are logged")
        return
    metric = project.metric.name
    size = windows[-1].size.replace("rows", " predictions")
    table = Table(title=f"monitoring windows of '{project.name}' ({size} each)")
    columns = ("start", "v", "rows", "errors", "p99 ms", "labels", metric, "est. 90 %")
    for name in columns:
        table.add_column(name, justify="left" if name == "start" else "right", no_wrap=True)
    table.add_column("drifted", min_width=16)
    for w in windows:
        m = w.metrics
        drifted = sorted(k.split(".", 1)[1] for k, v in m.items() if k.startswith("drift.") and v)
        table.add_row(
            f"{w.start:%H:%M:%S}",
            w.model_version.rsplit("@", 1)[-1],
            f"{w.rows:,}",
            f"{m.get('error_rate') or 0:.1%}",
            f"{m.get('latency_p99_ms') or 0:.1f}",
            f"{m.get('label_coverage') or 0:.0%}",
            number(m.get(f"quality.{metric}")),
            _estimated(m, metric),
            f"{len(drifted)}: {', '.join(drifted)}" if drifted else "—",
        )
    console.print(table)


def _estimated(m: dict[str, float | None], metric: str) -> str:
    """The estimate's 90 % interval, "0.66–0.73" (the estimate alone for a package without
    one); "!" when the labelled value left it (the estimate is not to be trusted there)."""
    low, high = m.get(f"expected.{metric}_low"), m.get(f"expected.{metric}_high")
    if low is None or high is None:
        return number(m.get(f"expected.{metric}"))
    flag = "[bold red]![/]" if m.get(f"estimate_outside.{metric}") == 1.0 else ""
    return f"{low:.2f}–{high:.2f}{flag}"


def _alerts_table(title: str, records: list[AlertRecord]) -> Table:
    table = Table(title=title)
    for name in ("id", "severity", "rule", "key", "value", "model", "window", "status"):
        table.add_column(name)
    for a in records:
        table.add_row(
            str(a.id),
            a.severity,
            a.rule,
            str(a.evidence.get("key", a.metric)),
            number(a.value),
            str(a.evidence.get("model_version", "")),
            str(a.evidence.get("window_start", ""))[:19],
            a.status,
        )
    return table


@alerts_app.command("list")
def alerts_list(
    all_alerts: Annotated[bool, typer.Option("--all", help="Include acknowledged ones.")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Alerts to show.")] = 50,
    json: JsonOpt = False,
) -> None:
    """Fired alerts, newest first (open ones unless --all)."""
    with open_store() as store:
        records = store.monitoring.list_alerts(status=None if all_alerts else "open", limit=limit)
    if json:
        emit([alert_row(a) for a in records])
        return
    console.print(_alerts_table("alerts", records) if records else "no open alerts")


@alerts_app.command("ack")
def alerts_ack(
    alert_id: Annotated[int, typer.Argument(help="The alert's id (loopml alerts list).")],
    json: JsonOpt = False,
) -> None:
    """Acknowledge an alert."""
    with open_store() as store:
        record = store.monitoring.ack_alert(alert_id)
    if json:
        emit(alert_row(record))
        return
    console.print(f"acknowledged alert {record.id} ({record.rule})")
