"""``loopml monitor …`` and ``loopml alerts …``: compute and show the monitoring windows of
logged predictions, and the alerts they fired."""

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
