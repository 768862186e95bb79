"""The modeling verbs: ``loopml train``, ``runs …``, ``models …``, ``predict`` and
``report …`` (a training run's report, the monitoring report)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from loopml.cli._common import (
    JsonOpt,
    QueryOpt,
    SinceOpt,
    SpecOpt,
    console,
    emit,
    need_spec,
    open_spec,
    open_store,
)
from loopml.cli._render import TrainProgress, print_validation
from loopml.reports.tables import model_row, number, primary_metric, run_row, run_test_metrics

app = typer.Typer()
runs_app = typer.Typer(help="Training runs: list, show, compare.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")
models_app = typer.Typer(
    help="Registered models: list, show, alias, archive.", no_args_is_help=True
)
app.add_typer(models_app, name="models")
report_app = typer.Typer(help="Reports as self-contained HTML files.", no_args_is_help=True)
app.add_typer(report_app, name="report")


def _metrics_table(title: str, splits: dict[str, dict[str, Any]]) -> Table:
    """Metrics (rows) by split (columns)."""
    table = Table(title=title)
    table.add_column("metric")
    for split in splits:
        table.add_column(split, justify="right")
    names = list(dict.fromkeys(m for values in splits.values() for m in values))
    for metric in names:
        table.add_row(metric, *(number(splits[s].get(metric)) for s in splits))
    return table


@app.command("train")
def train_command(
    dataset: Annotated[
        str | None, typer.Argument(help="Dataset version (default: newest of the project's name).")
    ] = None,
    tune: Annotated[
        int | None,
        typer.Option(
            "--tune",
            help="Optuna trials for LightGBM, a quarter for the others (default: model.tune).",
        ),
    ] = None,
    spec: SpecOpt = None,
    json: JsonOpt = False,
) -> None:
    """Train baselines and candidates, tune, analyse errors, and register through the gate."""
    from loopml.workflows import train_model

    project = need_spec(spec)
    reporter = TrainProgress()
    with open_store(create=True) as store:
        if json:
            outcome = train_model(store, project, dataset, tune_trials=tune)
        else:
            with reporter.progress:
                outcome = train_model(store, project, dataset, tune_trials=tune, on_event=reporter)
                reporter.progress.remove_task(reporter.status)  # the bars stay; "done" would not
    leaderboard = outcome.result.leaderboard()
    decision = outcome.decision
    payload = {
        "run_id": outcome.result.run_id,
        "dataset": outcome.result.dataset.ref,
        "primary": outcome.result.primary,
        "leaderboard": leaderboard,
        "model": outcome.model.ref,
        "aliases": list(outcome.model.aliases),
        "blessed": decision.blessed,
        "reason": decision.reason,
        "checks": decision.checks,
        "report": str(outcome.report),
        "model_card": str(outcome.card),
    }
    if json:
        emit(payload)
        return
    primary = outcome.result.primary
    table = Table(
        title=f"leaderboard ({primary}; run {outcome.result.run_id}, "
        f"{outcome.result.data.split.method})"
    )
    scores = ["validation", "test", "train"]
    if any(row["cv"] is not None for row in leaderboard):
        scores.insert(0, "cv")
    for name in ("candidate", *scores, "trials", "seconds"):
        table.add_column(name, justify="left" if name == "candidate" else "right")
    human = project.targets.human_level
    for row in leaderboard:
        name = row["candidate"]
        if name == "baseline":
            name = "mean" if project.task == "regression" else "majority class"
        label = name + (" (baseline)" if row["baseline"] else "") + (" ★" if row["best"] else "")
        table.add_row(
            label,
            *(number(row[k]) for k in scores),
            str(row["trials"]),
            f"{row['seconds']:.1f}",
            style="bold" if row["best"] else None,
        )
    if human is not None:
        table.add_row("human level", *[f"{human:.4f}"] * len(scores), "", "", style="dim")
    console.print(table)
    verdict = "[green]champion[/]" if decision.blessed else "[yellow]challenger[/]"
    console.print(
        f"registered [bold]{outcome.model.ref}[/] as {verdict}: {escape(decision.reason)}"
    )
    console.print(f"report: {outcome.report}\nmodel card: {outcome.card}")


_RUN_COLUMNS = ("id", "kind", "status", "dataset", "best", "test score", "seconds", "code",
                "started")  # fmt: skip


@runs_app.command("list")
def runs_list(
    all_runs: Annotated[
        bool, typer.Option("--all", help="Include candidate (child) runs.")
    ] = False,
    limit: Annotated[int, typer.Option("--limit", help="At most this many runs.")] = 20,
    json: JsonOpt = False,
) -> None:
    """List training runs, newest first."""
    with open_store() as store:
        runs = store.runs.list(top_level=not all_runs, limit=limit)
    if json:
        emit([run_row(r) for r in runs])
        return
    table = Table(title="runs")
    for name in _RUN_COLUMNS:
        table.add_column(name)
    for r in runs:
        metric, value = primary_metric(r)
        best = r.metrics.get("best", "") if r.kind == "train" else ""
        table.add_row(
            str(r.id),
            r.kind,
            r.status,
            r.dataset_ref or "",
            best,
            f"{metric} {number(value)}" if metric else "",
            f"{r.duration_s:.1f}" if r.duration_s else "",
            (r.code_version or "")[:12],
            r.started_at.strftime("%Y-%m-%d %H:%M"),
        )
    console.print(table if runs else "no runs yet: train with 'loopml train'")


@runs_app.command("show")
def runs_show(
    run_id: Annotated[str, typer.Argument(help="Run id.")], json: JsonOpt = False
) -> None:
    """Show one run: params, metrics per split, dataset, code and package versions."""
    with open_store() as store:
        run = store.runs.get(run_id)
        children = store.runs.list(parent_id=run.id)
    payload = {
        **run_row(run),
        "environment": run.environment,
        "children": [run_row(c) for c in children],
    }
    if json:
        emit(payload)
        return
    console.print(
        f"[bold]run {run.id}[/] {run.kind} {run.status} on {run.dataset_ref}, "
        f"code {run.code_version}, {run.duration_s or 0:.1f} s"
    )
    if run.error:
        console.print(f"[red]error:[/] {escape(run.error)}")
    for child in [run, *children]:
        splits = {k: v for k, v in child.metrics.items() if k in ("train", "validation", "test")}
        if splits:
            console.print(_metrics_table(child.name, splits))
    console.print(f"packages: {run.environment.get('packages', {})}")


@runs_app.command("compare")
def runs_compare(
    run_ids: Annotated[list[str], typer.Argument(help="Two or more run ids.")],
    json: JsonOpt = False,
) -> None:
    """Compare runs side by side: dataset, code, best candidate, test metrics."""
    with open_store() as store:
        runs = [store.runs.get(r) for r in run_ids]
    rows = []
    for run in runs:
        test = run_test_metrics(run)
        rows.append(
            {
                "id": run.id,
                "dataset": run.dataset_ref,
                "code": run.code_version,
                "best": run.metrics.get("best"),
                "test": test,
                "params": run.params.get("best_params", run.params),
            }
        )
    if json:
        emit(rows)
        return
    table = Table(title="runs compared (test metrics of the best candidate)")
    table.add_column("")
    for row in rows:
        table.add_column(f"run {row['id']}", justify="right")
    for key in ("dataset", "code", "best"):
        table.add_row(key, *(str(row[key] or "")[:14] for row in rows))
    metrics = sorted({m for row in rows for m in row["test"]})
    for metric in metrics:
        table.add_row(metric, *(number(row["test"].get(metric)) for row in rows))
    console.print(table)


@models_app.command("list")
def models_list(
    all_models: Annotated[bool, typer.Option("--all", help="Include archived versions.")] = False,
    json: JsonOpt = False,
) -> None:
    """List registered model versions with their aliases."""
    with open_store() as store:
        records = store.models.list(include_archived=all_models)
    if json:
        emit([model_row(m) for m in records])
        return
    table = Table(title="models")
    for name in ("model", "aliases", "status", "run", "test metrics", "note", "created"):
        table.add_column(name)
    for m in records:
        shown = ", ".join(
            f"{k} {v:.3f}" for k, v in list(m.metrics.items())[:3] if isinstance(v, float)
        )
        table.add_row(
            m.ref,
            ", ".join(m.aliases),
            m.status,
            str(m.run_id or ""),
            shown,
            m.note or "",
            m.created_at.strftime("%Y-%m-%d %H:%M"),
        )
    console.print(table if records else "no models yet: train with 'loopml train'")


@models_app.command("show")
def models_show(
    ref: Annotated[str, typer.Argument(help="NAME@VERSION or NAME@ALIAS.")], json: JsonOpt = False
) -> None:
    """Show a model: lineage, metrics, gate decision; loading it verifies every checksum."""
    from loopml.registry import load_package

    with open_store() as store:
        package = load_package(store, ref)
    meta = package.meta.model_dump(exclude={"lineage"})
    lineage = package.meta.lineage.model_dump(exclude={"spec"})
    payload = {**model_row(package.record), "meta": meta, "lineage": lineage, "verified": True}
    if json:
        emit(payload)
        return
    record = package.record
    console.print(
        f"[bold]{record.ref}[/] ({', '.join(record.aliases) or 'no alias'}) "
        f"{package.meta.candidate} for {package.meta.task}; checksums verified"
    )
    console.print(
        f"lineage: run {lineage['run_id']}, dataset {lineage['dataset']} "
        f"({lineage['dataset_hash'][:12]}), split {lineage['split']}"
    )
    console.print(f"gate: {escape(record.note or '')}")
    console.print(_metrics_table("metrics", package.meta.metrics))


@models_app.command("alias")
def models_alias(
    ref: Annotated[str, typer.Argument(help="NAME@VERSION to point the alias at.")],
    alias: Annotated[str, typer.Argument(help="Alias, e.g. champion or challenger.")],
    json: JsonOpt = False,
) -> None:
    """Point ALIAS at a model version (e.g. promote by hand: 'loopml models alias m@3 champion')."""
    with open_store() as store:
        record = store.models.get(ref)
        record = store.models.set_alias(record.name, alias, record.version)
    if json:
        emit(model_row(record))
        return
    console.print(f"{alias} → [bold]{record.ref}[/]")


@models_app.command("archive")
def models_archive(
    ref: Annotated[str, typer.Argument(help="NAME@VERSION to archive.")],
    note: Annotated[str | None, typer.Option("--note", help="Why.")] = None,
    json: JsonOpt = False,
) -> None:
    """Archive a model version (it loses its aliases; its package stays for lineage)."""
    with open_store() as store:
        record = store.models.archive(ref, note=note)
    if json:
        emit(model_row(record))
        return
    console.print(f"archived [bold]{record.ref}[/]")


@app.command("predict")
def predict_command(
    data: Annotated[
        str, typer.Argument(help="CSV or Parquet file, or a database URL (with --query).")
    ],
    out: Annotated[
        Path, typer.Option("--out", help="Where to write predictions (.csv or .parquet).")
    ],
    model: Annotated[
        str | None,
        typer.Option(
            "--model", help="NAME@VERSION or NAME@ALIAS (default: the project's champion)."
        ),
    ] = None,
    query: QueryOpt = None,
    spec: SpecOpt = None,
    json: JsonOpt = False,
) -> None:
    """Score DATA with a registered model (validated against its input schema first)."""
    from loopml.errors import ValidationFailed
    from loopml.workflows import predict

    project = open_spec(spec)
    with open_store() as store:
        try:
            summary = predict(store, project, data, out, model=model, query=query)
        except ValidationFailed as exc:
            if json:
                emit({"ok": False, "error": str(exc), **exc.report.to_dict()})
            else:
                print_validation(exc.report, data, model or "the model's schema")
            raise typer.Exit(1) from exc
    if json:
        emit(summary)
        return
    console.print(
        f"scored {summary['rows']:,} rows with [bold]{summary['model']}[/] → {summary['out']}"
    )


@report_app.command("run")
def report_run(
    run_id: Annotated[str, typer.Argument(help="Training run id.")],
    out: Annotated[Path | None, typer.Option("--out", help="HTML file to write.")] = None,
    spec: SpecOpt = None,
    json: JsonOpt = False,
) -> None:
    """Write a training run's report: leaderboard, curves, importance, slices, worst slices."""
    from loopml.workflows import run_report

    project = need_spec(spec)
    with open_store() as store:
        path = run_report(store, project, run_id, out)
    if json:
        emit({"report": str(path)})
        return
    console.print(f"wrote [bold]{path}[/]")


@report_app.command("monitor")
def report_monitor(
    since: SinceOpt = None,
    out: Annotated[Path | None, typer.Option("--out", help="HTML file to write.")] = None,
    spec: SpecOpt = None,
    json: JsonOpt = False,
) -> None:
    """Write the monitoring report: metrics over time, thresholds, alerts, drifted features."""
    from loopml.workflows import monitor_report

    project = need_spec(spec)
    with open_store() as store:
        path = monitor_report(store, project, since=since, out=out)
    if json:
        emit({"report": str(path)})
        return
    console.print(f"wrote [bold]{path}[/]")
