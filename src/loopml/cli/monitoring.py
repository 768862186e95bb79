"""``loopml monitor …``, ``loopml alerts …`` and ``loopml incidents …``: compute and show the
monitoring windows of logged predictions, the alerts they fired and the incidents those form."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from loopml.cli._common import (
    JsonOpt,
    SinceOpt,
    SpecOpt,
    console,
    emit,
    need_spec,
    open_store,
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
    from loopml.monitoring import monitor, pending
    from loopml.predlog import log_folder

    project = need_spec(spec)
    with open_store() as store, console.status("computing monitoring windows…"):
        result = monitor.run(store, project, log_folder(store), since=since)
    notes = [pending.open_note(w, project) for w in result.open_windows]
    if json:
        emit(
            {
                "windows": len(result.windows),
                "open": len(result.open_windows),
                "open_windows": notes,
                "none_because": result.none_because,
                "alerts": [alert_row(a) for a in result.alerts],
                "incidents": [incident_row(i) for i in result.incidents],
            }
        )
        return
    if result.none_because is not None:
        console.print(f"0 window(s) computed: {escape(result.none_because)}")
    else:
        still = f", {len(notes)} still open (partial)" if notes else ""
        console.print(f"{len(result.windows)} window(s) computed{still}")
    for note in notes:
        console.print(f"open: {escape(note)}")
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
    from loopml.monitoring import pending
    from loopml.predlog import log_folder

    project = need_spec(spec)
    with open_store() as store:
        windows = store.monitoring.list_windows(project.name, limit=limit)
        folder = log_folder(store)
    if json:
        emit([{**w.__dict__, "start": w.start, "end": w.end} for w in windows])
        return
    if not windows:
        why = pending.why_none(project, folder)
        if why.startswith("no prediction"):
            console.print(f"no windows yet: {escape(why)}")
        else:
            console.print(
                f"no windows stored yet: {escape(why)}; compute them with 'loopml monitor run' "
                "(or keep 'loopml loop' running)"
            )
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
            f"{w.start:%H:%M:%S}" + (" [yellow]partial[/]" if w.partial else ""),
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
    for w in windows:
        if w.partial:
            console.print(f"partial: {escape(pending.open_note(w, project))}")


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


def _alert_id(value: str | int) -> int:
    """An alert's id: a whole number, as ``loopml alerts list`` shows."""
    if isinstance(value, int) or (value.isascii() and value.isdigit()):
        return int(value)
    raise typer.BadParameter(
        f"expected an alert's id, a whole number such as 12 (see 'loopml alerts list'), "
        f"got {value!r}"
    )


@alerts_app.command("ack")
def alerts_ack(
    alert_id: Annotated[
        int, typer.Argument(parser=_alert_id, help="The alert's id (loopml alerts list).")
    ],
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
