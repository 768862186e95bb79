"""``loopml monitor …``, ``loopml alerts …`` and ``loopml incidents …``: compute and show the
monitoring windows of logged predictions, the alerts they fired and the incidents those form."""

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
from loopml.reports.tables import alert_row, incident_row, number

if TYPE_CHECKING:
    from loopml.store import AlertRecord, IncidentRecord

app = typer.Typer()
monitor_app = typer.Typer(
    help="Monitoring windows of logged predictions: run, status.", no_args_is_help=True
)
app.add_typer(monitor_app, name="monitor")
alerts_app = typer.Typer(help="Fired alerts: list, ack.", no_args_is_help=True)
app.add_typer(alerts_app, name="alerts")
incidents_app = typer.Typer(
    help="Incidents (the alerts that fire together): list, show.", no_args_is_help=True
)
app.add_typer(incidents_app, name="incidents")


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
                "incidents": [incident_row(i) for i in result.incidents],
            }
        )
        return
    console.print(f"{len(result.windows)} window(s) computed")
    if result.incidents:
        console.print(_incidents_table("incidents opened, updated or resolved", result.incidents))
        console.print(f"{len(result.alerts)} alert(s) fired; 'loopml alerts list' lists them")
    elif result.alerts:
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
    columns = ("start", "v", "rows", "errors", "p99 ms", "labels", metric, "est.")
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
            number(m.get(f"expected.{metric}")),
            f"{len(drifted)}: {', '.join(drifted)}" if drifted else "—",
        )
    console.print(table)


def _alerts_table(title: str, records: list[AlertRecord]) -> Table:
    table = Table(title=title)
    for name in ("id", "severity", "rule", "what", "model", "window", "status"):
        table.add_column(name, min_width=24 if name == "what" else None)
    for a in records:
        table.add_row(
            str(a.id),
            a.severity,
            a.rule,
            str(a.evidence.get("summary") or f"{a.evidence.get('key', a.metric)} = {a.value}"),
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


def _incidents_table(title: str, records: list[IncidentRecord]) -> Table:
    table = Table(title=title)
    for name in ("id", "severity", "status", "incident", "model", "windows"):
        table.add_column(name, min_width=36 if name == "incident" else None)
    for i in records:
        spans = len(i.evidence.get("windows", []))
        table.add_row(
            str(i.id),
            i.severity,
            i.status,
            i.title if i.resolution is None else f"{i.title}\n[dim]{i.resolution}[/]",
            i.model_version,
            f"{spans}, last from {i.last_window:%m-%d %H:%M}",
        )
    return table


@incidents_app.command("list")
def incidents_list(
    all_incidents: Annotated[bool, typer.Option("--all", help="Include resolved ones.")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Incidents to show.")] = 50,
    json: JsonOpt = False,
) -> None:
    """Incidents, newest first (open ones unless --all): one per model version, window size
    and rule family, with its features ranked by importance-weighted drift."""
    with open_store() as store:
        status = None if all_incidents else "open"
        records = store.incidents.list(status=status, limit=limit)
    if json:
        emit([incident_row(i) for i in records])
        return
    if not records:
        console.print(
            "no open incidents" + ("" if all_incidents else " (--all lists resolved ones)")
        )
        return
    console.print(_incidents_table("incidents", records))


@incidents_app.command("show")
def incidents_show(
    incident_id: Annotated[int, typer.Argument(help="The incident's id (loopml incidents list).")],
    json: JsonOpt = False,
) -> None:
    """One incident: its features ranked by importance-weighted drift, with each statistic,
    its threshold and the effect in the feature's units."""
    with open_store() as store:
        found = [i for i in store.incidents.list() if i.id == incident_id]
    if not found:
        from loopml.errors import NotFoundError

        raise NotFoundError(
            f"no incident {incident_id}; list them with 'loopml incidents list --all'"
        )
    incident = found[0]
    if json:
        emit(incident_row(incident))
        return
    console.print(_incidents_table(f"incident {incident.id}", [incident]))
    table = Table(title="what crossed its rule on the latest window, ranked")
    for name in ("feature", "statistic", "importance", "weighted", "effect"):
        table.add_column(name)
    for m in incident.evidence.get("features", []):
        statistic = f"{m['statistic']} {number(m['value'], 3)} {m['comparator']} {m['threshold']:g}"
        table.add_row(
            str(m.get("feature") or m.get("key")),
            statistic,
            number(m.get("importance"), 3),
            number(m.get("score"), 3),
            str(m.get("effect") or "—"),
        )
    console.print(table)
