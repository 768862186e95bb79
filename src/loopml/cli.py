"""The ``loopml`` command: one verb per lifecycle step. Thin: parse, call the library, render.

Exit codes: 0 success; 1 the command ran and found a failure (e.g. validation errors);
2 bad input or an error (the message says what was expected, what was got and how to fix it).
Every command that prints results takes ``--json`` for scripts.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from loopml.config import Settings
from loopml.errors import LoopmlError

if TYPE_CHECKING:
    from loopml.modeling.progress import ProgressEvent

app = typer.Typer(
    help="loopml: scope, data, train, deploy, monitor and retrain a tabular model.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(
    help="Dataset versions: add, list, show, profile, validate, report.", no_args_is_help=True
)
app.add_typer(data_app, name="data")
runs_app = typer.Typer(help="Training runs: list, show, compare.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")
models_app = typer.Typer(
    help="Registered models: list, show, alias, archive.", no_args_is_help=True
)
app.add_typer(models_app, name="models")
report_app = typer.Typer(help="Reports as self-contained HTML files.", no_args_is_help=True)
app.add_typer(report_app, name="report")
rollout_app = typer.Typer(
    help="Canary and shadow rollouts: start, status, promote, rollback, pause, resume.",
    no_args_is_help=True,
)
app.add_typer(rollout_app, name="rollout")
monitor_app = typer.Typer(
    help="Monitoring windows of logged predictions: run, status.", no_args_is_help=True
)
app.add_typer(monitor_app, name="monitor")
alerts_app = typer.Typer(help="Fired alerts: list, ack.", no_args_is_help=True)
app.add_typer(alerts_app, name="alerts")
retrain_app = typer.Typer(
    help="Retrain on fresh labelled data, gate, and start a canary (or propose it)."
)
app.add_typer(retrain_app, name="retrain")

console = Console()
errors = Console(stderr=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
SpecOpt = Annotated[
    Path | None, typer.Option("--spec", help="Project spec (default: ./loopml.yaml if present).")
]
QueryOpt = Annotated[
    str | None, typer.Option("--query", help="SQL query or table name, for a database URL source.")
]

F = TypeVar("F", bound=Callable[..., Any])


def _emit(payload: Any) -> None:
    sys.stdout.write(orjson.dumps(payload, option=orjson.OPT_INDENT_2, default=str).decode() + "\n")


def _spec(path: Path | None, *, required: bool = False) -> Any:
    from loopml.spec import load_spec

    if path is None:
        path = Path("loopml.yaml")
        if not path.exists() and not required:
            return None
    return load_spec(path)


def _store(*, create: bool = False) -> Any:
    """The project's store; only commands that add things may create a new one."""
    from loopml.errors import NotFoundError
    from loopml.store import Store

    settings = Settings.from_env()
    default_db = settings.home / "loopml.db"
    if not create and not os.environ.get("LOOPML_DB_URL") and not default_db.exists():
        raise NotFoundError(
            f"no loopml store at {settings.home}/ (looked for {default_db}): run this in the "
            "project's folder, set LOOPML_HOME, or start one with 'loopml data add FILE'"
        )
    return Store.open()


def _number(value: Any) -> str:
    """A metric for a table: 4 decimals, or '—' when missing or undefined."""
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    return f"{value:.4f}" if isinstance(value, int | float) else str(value)


def _metrics_table(title: str, splits: dict[str, dict[str, Any]]) -> Table:
    """Metrics (rows) by split (columns)."""
    table = Table(title=title)
    table.add_column("metric")
    for split in splits:
        table.add_column(split, justify="right")
    names = list(dict.fromkeys(m for values in splits.values() for m in values))
    for metric in names:
        table.add_row(metric, *(_number(splits[s].get(metric)) for s in splits))
    return table


# --- init ----------------------------------------------------------------------------------


@app.command()
def init(
    data: Annotated[
        str, typer.Argument(help="CSV or Parquet file, or a database URL (with --query).")
    ],
    target: Annotated[str, typer.Option("--target", help="The column to predict.")],
    task: Annotated[
        str | None,
        typer.Option("--task", help="binary, multiclass or regression (default: inferred)."),
    ] = None,
    time_column: Annotated[
        str | None, typer.Option("--time-column", help="Column that orders rows in time.")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Project name.")] = None,
    query: QueryOpt = None,
    out: Annotated[Path, typer.Option("--out", help="Where to write the spec.")] = Path(
        "loopml.yaml"
    ),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing spec.")] = False,
    json: JsonOpt = False,
) -> None:
    """Read DATA, infer a spec for predicting TARGET, and write a commented loopml.yaml."""
    from loopml.data.io import describe_source, read_source
    from loopml.data.scope import propose_spec
    from loopml.data.versions import default_name
    from loopml.errors import SpecError

    if out.exists() and not force:
        raise SpecError(f"{out} exists already: edit it, or pass --force to write a new one")
    if task not in (None, "binary", "multiclass", "regression"):
        raise SpecError(f"--task: expected binary, multiclass or regression, got {task!r}")
    frame = read_source(data, query=query)
    proposal = propose_spec(
        frame,
        target=target,
        task=task,  # type: ignore[arg-type]
        time_column=time_column,
        name=name or default_name(data),
        source=describe_source(data),
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(proposal.text, encoding="utf-8")
    if json:
        _emit(
            {
                "spec": str(out),
                "proposal": proposal.spec.model_dump(mode="json"),
                "findings": [f.__dict__ for f in proposal.findings],
            }
        )
        return
    spec = proposal.spec
    table = Table(
        title=f"{out}: {spec.task} task, target '{spec.target}', metric {spec.metric.name}"
    )
    for column in ("column", "role", "kind", "note"):
        table.add_column(column)
    for finding in proposal.findings:
        style = "yellow" if finding.role == "excluded" else None
        table.add_row(finding.column, finding.role, finding.kind or "", finding.reason, style=style)
    console.print(table)
    console.print(
        f"wrote [bold]{out}[/]; review it, then run "
        f"[bold]loopml data add {data} --name {spec.name}[/]"
    )


# --- data ----------------------------------------------------------------------------------


def _version_dict(version: Any) -> dict[str, Any]:
    record = version.record if hasattr(version, "record") else version
    return {
        "ref": record.ref,
        "name": record.name,
        "version": record.version,
        "rows": record.n_rows,
        "columns": record.n_columns,
        "content_hash": record.content_hash,
        "snapshot": record.snapshot_uri,
        "source": record.source,
        "created_at": record.created_at.isoformat(),
    }


@data_app.command("add")
def data_add(
    source: Annotated[str, typer.Argument(help="CSV or Parquet file, or a database URL.")],
    name: Annotated[
        str | None, typer.Option("--name", help="Dataset name (default: file stem).")
    ] = None,
    query: QueryOpt = None,
    spec: SpecOpt = None,
    json: JsonOpt = False,
) -> None:
    """Add SOURCE as an immutable dataset version (the same data twice gives the same version)."""
    from loopml.data.versions import add_dataset

    project = _spec(spec)
    with console.status("reading, hashing and profiling…"), _store(create=True) as store:
        version = add_dataset(store, source, name=name, query=query, spec=project)
    if json:
        _emit({**_version_dict(version), "created": version.created})
        return
    verb = "added" if version.created else "already stored as"
    record = version.record
    console.print(
        f"{verb} [bold]{record.ref}[/]: {record.n_rows:,} rows × {record.n_columns} columns, "
        f"hash {record.content_hash[:12]}"
    )


@data_app.command("list")
def data_list(
    name: Annotated[
        str | None, typer.Option("--name", help="Only this dataset's versions.")
    ] = None,
    json: JsonOpt = False,
) -> None:
    """List dataset versions."""
    with _store() as store:
        records = store.datasets.list(name)
    if json:
        _emit([_version_dict(r) for r in records])
        return
    table = Table(title="dataset versions")
    for column in ("ref", "rows", "columns", "hash", "created", "source"):
        table.add_column(column, justify="right" if column in ("rows", "columns") else "left")
    for r in records:
        table.add_row(
            r.ref,
            f"{r.n_rows:,}",
            str(r.n_columns),
            r.content_hash[:12],
            r.created_at.strftime("%Y-%m-%d %H:%M"),
            r.source,
        )
    console.print(table if records else "no datasets yet: add one with 'loopml data add FILE'")


def _profile_table(profile: Any, title: str) -> Table:
    from loopml.reports.render import column_summary

    table = Table(title=title)
    names = ("column", "kind", "missing", "distinct", "min", "median", "max", "top values")
    for name in names:
        table.add_column(
            name, justify="left" if name in ("column", "kind", "top values") else "right"
        )
    for row in column_summary(profile):
        table.add_row(
            *(
                row[k]
                for k in ("column", "kind", "missing", "distinct", "min", "median", "max", "top")
            )
        )
    return table


@data_app.command("show")
def data_show(
    ref: Annotated[str, typer.Argument(help="Dataset version: NAME, NAME@N or NAME@latest.")],
    json: JsonOpt = False,
) -> None:
    """Show a dataset version: where it came from, its schema and its profile."""
    from loopml.data.versions import get_version

    with _store() as store:
        version = get_version(store, ref)
    if json:
        _emit(
            {
                **_version_dict(version),
                "schema": version.record.schema,
                "profile": version.record.profile,
            }
        )
        return
    record = version.record
    console.print(
        f"[bold]{record.ref}[/] from {record.source}: {record.n_rows:,} rows, "
        f"snapshot {record.snapshot_uri}"
    )
    console.print(_profile_table(version.profile, f"profile of {record.ref}"))


@data_app.command("profile")
def data_profile(
    source: Annotated[
        str, typer.Argument(help="A dataset version (NAME@N) or a file / database URL.")
    ],
    query: QueryOpt = None,
    json: JsonOpt = False,
) -> None:
    """Profile a file or show a stored version's profile, column by column."""
    profile = _profile_of(source, query)
    if json:
        _emit(profile.to_dict())
        return
    console.print(_profile_table(profile, f"profile of {source} ({profile.n_rows:,} rows)"))


def _profile_of(source: str, query: str | None) -> Any:
    from loopml.data.io import is_sql_url, read_source
    from loopml.data.profiling import profile_frame
    from loopml.data.versions import get_version

    path = Path(source)
    looks_like_file = path.suffix.lower() in (".csv", ".tsv", ".txt", ".parquet", ".pq")
    if path.exists() or looks_like_file or "/" in source or is_sql_url(source):
        return profile_frame(read_source(source, query=query))
    with _store() as store:
        return get_version(store, source).profile


@data_app.command("validate")
def data_validate(
    source: Annotated[str, typer.Argument(help="CSV or Parquet file, or a database URL.")],
    against: Annotated[
        str | None,
        typer.Option(
            "--against",
            help="Reference version (default: the newest version named like the project).",
        ),
    ] = None,
    query: QueryOpt = None,
    spec: SpecOpt = None,
    json: JsonOpt = False,
) -> None:
    """Validate SOURCE against a stored version's schema; exit 1 when any rule fails."""
    from loopml.data.io import read_source
    from loopml.data.schema import infer_schema
    from loopml.data.validate import validate
    from loopml.data.versions import get_version

    project = _spec(spec)
    with _store() as store:
        version = get_version(store, against or _default_reference(store, project))
    schema = version.schema if project is None else infer_schema(version.profile, project)
    frame = read_source(source, query=query)
    with console.status(f"validating {frame.height:,} rows against {version.ref}…"):
        report = validate(frame, schema)
    if json:
        _emit({"against": version.ref, "source": source, **report.to_dict()})
    else:
        _print_validation(report, source, version.ref)
    raise typer.Exit(0 if report.ok else 1)


def _default_reference(store: Any, project: Any) -> str:
    from loopml.errors import NotFoundError

    name = project.name if project is not None else None
    records = store.datasets.list(name)
    if not records:
        named = f" named '{name}' (the project's name)" if name else ""
        raise NotFoundError(
            f"no dataset version{named} to compare with: add one with "
            f"'loopml data add FILE{f' --name {name}' if name else ''}' "
            "or pass the version (NAME@VERSION)"
        )
    return max(records, key=lambda r: r.created_at).ref


def _print_validation(report: Any, source: str, against: str) -> None:
    if not report.violations:
        console.print(f"[green]✓[/] {source}: {report.n_rows:,} rows pass every rule of {against}")
        return
    table = Table(
        title=f"{source} against {against}: {len(report.errors)} error(s), "
        f"{len(report.warnings)} warning(s)"
    )
    for column in (
        "severity",
        "column",
        "rule",
        "rows",
        "fraction",
        "expected",
        "examples (row: value)",
    ):
        table.add_column(column, justify="right" if column in ("rows", "fraction") else "left")
    for v in report.violations:
        examples = ", ".join(f"{r}: {e!r}" for r, e in zip(v.rows, v.examples, strict=False))
        table.add_row(
            v.severity,
            v.column,
            v.rule,
            f"{v.count:,}",
            f"{v.fraction:.2%}",
            v.expected,
            examples,
            style="red" if v.severity == "error" else "yellow",
        )
    console.print(table)
    verdict = (
        "[red]✗ validation failed[/]" if not report.ok else "[green]✓ no errors[/] (warnings only)"
    )
    console.print(verdict)


@data_app.command("report")
def data_report(
    ref: Annotated[
        str | None, typer.Argument(help="Dataset version (default: the newest).")
    ] = None,
    compare: Annotated[
        str | None, typer.Option("--compare", help="A second version or file to show side by side.")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="HTML file to write.")] = None,
    json: JsonOpt = False,
) -> None:
    """Write a self-contained HTML report with a chart per column (two versions side by side)."""
    from loopml.data.versions import get_version
    from loopml.reports.data_report import build_data_report, write_html

    with _store() as store:
        base = get_version(store, ref or _default_reference(store, None))
        profiles = [(base.ref, base.profile)]
        if compare:
            profiles.append((compare, _profile_of(compare, None)))
    slug = "-vs-".join(_slug(label) for label, _ in profiles)
    path = write_html(
        build_data_report(profiles),
        out or Settings.from_env().home / "reports" / f"data-{slug}.html",
    )
    if json:
        _emit({"report": str(path), "datasets": [label for label, _ in profiles]})
        return
    console.print(f"wrote [bold]{path}[/]")


# --- modeling ------------------------------------------------------------------------------


class _TrainProgress:
    """Rich rendering of training events: a status line, and a bar per tuned candidate."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[best]}"),
            console=console,
            transient=False,
        )
        self.status = self.progress.add_task("starting", total=None, best="")
        self.bars: dict[str, Any] = {}

    def __call__(self, event: ProgressEvent) -> None:
        from loopml.modeling.progress import CandidateTrained, StageStarted, TrialFinished

        if isinstance(event, StageStarted):
            self.progress.update(self.status, description=event.text)
        elif isinstance(event, TrialFinished):
            name = event.candidate
            if name not in self.bars:
                self.bars[name] = self.progress.add_task(
                    f"tuning {name}", total=event.total, best=""
                )
            best = event.best
            self.progress.update(
                self.bars[name],
                completed=event.done,
                best="" if best is None else f"best {best:.4f}",
            )
        elif isinstance(event, CandidateTrained):
            metrics = event.metrics["validation"]
            shown = ", ".join(f"{k} {v:.4f}" for k, v in list(metrics.items())[:3])
            self.progress.console.print(f"  {event.candidate}: {shown} ({event.seconds:.1f} s)")


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

    project = _spec(spec, required=True)
    reporter = _TrainProgress()
    with _store(create=True) as store:
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
        _emit(payload)
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
            *(_number(row[k]) for k in scores),
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


def _run_row(run: Any) -> dict[str, Any]:
    return {
        "id": run.id,
        "name": run.name,
        "kind": run.kind,
        "status": run.status,
        "dataset": run.dataset_ref,
        "parent_id": run.parent_id,
        "started_at": run.started_at.isoformat(),
        "duration_s": run.duration_s,
        "code_version": run.code_version,
        "params": run.params,
        "metrics": run.metrics,
        "artifacts": run.artifacts,
        "error": run.error,
    }


def _test_metrics(run: Any) -> dict[str, Any]:
    """Test metrics of a run: the best candidate's for a training run, else its own."""
    if run.kind == "train":
        return dict(run.metrics.get("best_metrics", {}).get("test", {}))
    return dict(run.metrics.get("test", {}))


def _primary_of(run: Any) -> tuple[str | None, Any]:
    metric = (run.spec or {}).get("metric", {}).get("name")
    return metric, _test_metrics(run).get(metric) if metric else None


@runs_app.command("list")
def runs_list(
    all_runs: Annotated[
        bool, typer.Option("--all", help="Include candidate (child) runs.")
    ] = False,
    limit: Annotated[int, typer.Option("--limit", help="At most this many runs.")] = 20,
    json: JsonOpt = False,
) -> None:
    """List training runs, newest first."""
    with _store() as store:
        runs = store.runs.list(top_level=not all_runs, limit=limit)
    if json:
        _emit([_run_row(r) for r in runs])
        return
    table = Table(title="runs")
    for name in (
        "id",
        "kind",
        "status",
        "dataset",
        "best",
        "test score",
        "seconds",
        "code",
        "started",
    ):
        table.add_column(name)
    for r in runs:
        metric, value = _primary_of(r)
        best = r.metrics.get("best", "") if r.kind == "train" else ""
        table.add_row(
            str(r.id),
            r.kind,
            r.status,
            r.dataset_ref or "",
            best,
            f"{metric} {_number(value)}" if metric else "",
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
    with _store() as store:
        run = store.runs.get(run_id)
        children = store.runs.list(parent_id=run.id)
    payload = {
        **_run_row(run),
        "environment": run.environment,
        "children": [_run_row(c) for c in children],
    }
    if json:
        _emit(payload)
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
    with _store() as store:
        runs = [store.runs.get(r) for r in run_ids]
    rows = []
    for run in runs:
        test = _test_metrics(run)
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
        _emit(rows)
        return
    table = Table(title="runs compared (test metrics of the best candidate)")
    table.add_column("")
    for row in rows:
        table.add_column(f"run {row['id']}", justify="right")
    for key in ("dataset", "code", "best"):
        table.add_row(key, *(str(row[key] or "")[:14] for row in rows))
    metrics = sorted({m for row in rows for m in row["test"]})
    for metric in metrics:
        table.add_row(metric, *(_number(row["test"].get(metric)) for row in rows))
    console.print(table)


def _model_row(m: Any) -> dict[str, Any]:
    return {
        "ref": m.ref,
        "name": m.name,
        "version": m.version,
        "aliases": list(m.aliases),
        "status": m.status,
        "run_id": m.run_id,
        "metrics": m.metrics,
        "note": m.note,
        "sha256": m.sha256,
        "package": m.package_uri,
        "created_at": m.created_at.isoformat(),
    }


@models_app.command("list")
def models_list(
    all_models: Annotated[bool, typer.Option("--all", help="Include archived versions.")] = False,
    json: JsonOpt = False,
) -> None:
    """List registered model versions with their aliases."""
    with _store() as store:
        records = store.models.list(include_archived=all_models)
    if json:
        _emit([_model_row(m) for m in records])
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

    with _store() as store:
        package = load_package(store, ref)
    meta = package.meta.model_dump(exclude={"lineage"})
    lineage = package.meta.lineage.model_dump(exclude={"spec"})
    payload = {**_model_row(package.record), "meta": meta, "lineage": lineage, "verified": True}
    if json:
        _emit(payload)
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
    with _store() as store:
        record = store.models.get(ref)
        record = store.models.set_alias(record.name, alias, record.version)
    if json:
        _emit(_model_row(record))
        return
    console.print(f"{alias} → [bold]{record.ref}[/]")


@models_app.command("archive")
def models_archive(
    ref: Annotated[str, typer.Argument(help="NAME@VERSION to archive.")],
    note: Annotated[str | None, typer.Option("--note", help="Why.")] = None,
    json: JsonOpt = False,
) -> None:
    """Archive a model version (it loses its aliases; its package stays for lineage)."""
    with _store() as store:
        record = store.models.archive(ref, note=note)
    if json:
        _emit(_model_row(record))
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

    project = _spec(spec)
    with _store() as store:
        try:
            summary = predict(store, project, data, out, model=model, query=query)
        except ValidationFailed as exc:
            if json:
                _emit({"ok": False, "error": str(exc), **exc.report.to_dict()})
            else:
                _print_validation(exc.report, data, model or "the model's schema")
            raise typer.Exit(1) from exc
    if json:
        _emit(summary)
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

    project = _spec(spec, required=True)
    with _store() as store:
        path = run_report(store, project, run_id, out)
    if json:
        _emit({"report": str(path)})
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

    project = _spec(spec, required=True)
    with _store() as store:
        path = monitor_report(store, project, since=_since(since), out=out)
    if json:
        _emit({"report": str(path)})
        return
    console.print(f"wrote [bold]{path}[/]")


# --- serving -------------------------------------------------------------------------------


@app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to bind.")] = 8000,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Server processes.")] = 1,
    model: Annotated[
        str | None, typer.Option("--model", help="NAME@VERSION (default: the champion).")
    ] = None,
    prediction_token: Annotated[
        str | None,
        typer.Option("--prediction-token", help="Require this bearer token for predictions."),
    ] = None,
    spec: SpecOpt = None,
) -> None:
    """Serve the project's model over HTTP (loopml JSON, MLflow /invocations, KServe V2)."""
    from loopml.registry import load_package
    from loopml.rollout import controller
    from loopml.serving.server import serve
    from loopml.ui.server import SERVING_APP

    project = _spec(spec, required=True)
    with _store() as store:  # fail fast, with a clear message, before binding the port
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
        app=SERVING_APP,
    )


# --- rollouts ------------------------------------------------------------------------------


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

    project = _spec(spec, required=True)
    plan = None
    if steps is not None:
        try:
            plan = [float(x) for x in steps.split(",") if x.strip()]
        except ValueError as exc:
            raise SpecError(
                f"--steps: expected percentages like 5,25,50,100, got {steps!r}"
            ) from exc
    with _store() as store:
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

    project = _spec(spec, required=True)
    with _store() as store:
        _print_rollout(controller.status(store, project, limit=limit), json)


def _rollout_action(name: str, reason: str | None, spec: Path | None, json: bool) -> None:
    from loopml.rollout import controller

    project = _spec(spec, required=True)
    with _store() as store:
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
        _emit(
            {
                "deployment": record.name,
                "stable": record.stable,
                "canary": record.canary,
                "canary_weight": record.canary_weight,
                "shadow": record.shadow,
                "rollout": rollout.to_json() if rollout else None,
                "events": [
                    {k: getattr(e, k) for k in ("at", "action", "weight", "message", "checks")}
                    for e in status.events
                ],
            }
        )
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
            _number(c["measured"]),
            _number(c["threshold"]),
            escape(c["detail"]),
        )
    console.print(checks)


# --- monitoring ----------------------------------------------------------------------------


def _since(value: str | None) -> Any:
    """``--since``: an ISO time, or a duration back from now (``2h``, ``7d``)."""
    from datetime import UTC, datetime

    from loopml.errors import SpecError
    from loopml.spec import parse_duration

    if value is None:
        return None
    try:
        return datetime.now(UTC) - parse_duration(value)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise SpecError(
            f"--since: expected an ISO time or a duration (2h, 7d); got {value!r}"
        ) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


SinceOpt = Annotated[
    str | None, typer.Option("--since", help="ISO time, or a duration back from now (2h, 7d).")
]


@monitor_app.command("run")
def monitor_run(since: SinceOpt = None, spec: SpecOpt = None, json: JsonOpt = False) -> None:
    """Compute the windows of logged predictions, store them, and fire alerts."""
    from loopml.monitoring import monitor
    from loopml.predlog import log_folder

    project = _spec(spec, required=True)
    with _store() as store, console.status("computing monitoring windows…"):
        result = monitor.run(store, project, log_folder(store), since=_since(since))
    if json:
        _emit(
            {
                "windows": len(result.windows),
                "alerts": [_alert_row(a) for a in result.alerts],
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
    project = _spec(spec, required=True)
    with _store() as store:
        windows = store.monitoring.list_windows(project.name, limit=limit)
    if json:
        _emit([{**w.__dict__, "start": w.start, "end": w.end} for w in windows])
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
            _number(m.get(f"quality.{metric}")),
            _number(m.get(f"expected.{metric}")),
            f"{len(drifted)}: {', '.join(drifted)}" if drifted else "—",
        )
    console.print(table)


def _alert_row(a: Any) -> dict[str, Any]:
    return {
        "id": a.id,
        "rule": a.rule,
        "severity": a.severity,
        "metric": a.metric,
        "feature": a.feature,
        "value": a.value,
        "threshold": a.threshold,
        "status": a.status,
        "created_at": a.created_at,
        "evidence": a.evidence,
    }


def _alerts_table(title: str, records: list[Any]) -> Table:
    table = Table(title=title)
    for name in ("id", "severity", "rule", "key", "value", "model", "window", "status"):
        table.add_column(name)
    for a in records:
        table.add_row(
            str(a.id),
            a.severity,
            a.rule,
            str(a.evidence.get("key", a.metric)),
            _number(a.value),
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
    with _store() as store:
        records = store.monitoring.list_alerts(status=None if all_alerts else "open", limit=limit)
    if json:
        _emit([_alert_row(a) for a in records])
        return
    console.print(_alerts_table("alerts", records) if records else "no open alerts")


@alerts_app.command("ack")
def alerts_ack(
    alert_id: Annotated[int, typer.Argument(help="The alert's id (loopml alerts list).")],
    json: JsonOpt = False,
) -> None:
    """Acknowledge an alert."""
    with _store() as store:
        record = store.monitoring.ack_alert(alert_id)
    if json:
        _emit(_alert_row(record))
        return
    console.print(f"acknowledged alert {record.id} ({record.rule})")


# --- maintenance ---------------------------------------------------------------------------


def _audit_row(entry: Any) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": entry.at.isoformat(timespec="seconds"),
        "action": entry.action,
        "model": entry.model_ref,
        "actor": entry.actor,
        "reason": entry.reason,
        "evidence": entry.evidence,
    }


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

    project = _spec(spec, required=True)
    reporter = _TrainProgress()
    with _store() as store:
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
                _emit({"status": "invalid", "error": str(exc), "validation": exc.report.to_dict()})
            else:
                _print_validation(exc.report, "the retrain's training data", "the original schema")
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
        _emit(payload)
        return
    facts = outcome.facts
    console.print(
        f"trained on {outcome.dataset.ref} ({facts['training_rows']:,} rows: "
        f"{facts['base_dataset']} + {facts['fresh_rows']:,} labelled production rows); "
        f"compared on the {facts['comparison_rows']:,} most recent labelled rows"
    )
    table = Table(title=f"gate: {outcome.model} against {facts['serving']}")
    for column in ("check", "value", "threshold", "passed"):
        table.add_column(column)
    for check in decision.checks:
        table.add_row(
            check["check"],
            _number(check["value"]),
            _number(check["threshold"]),
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

    project = _spec(spec, required=True)
    with _store() as store:
        record = approve(store, project, version, actor=os.environ.get("USER", "cli"))
    if json:
        _emit({"canary": record.canary, "weight": record.canary_weight})
        return
    console.print(f"approved: canary rollout of {record.canary} at {record.canary_weight:g}%")


@app.command("loop")
def loop_command(
    interval: Annotated[
        str, typer.Option("--interval", help="Time between passes (10s, 1m).")
    ] = "10s",
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
    from loopml.spec import parse_duration

    project = _spec(spec, required=True)
    every = parse_duration(interval)
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
        console.print(
            f"maintenance loop for '{project.name}': a pass every {interval}{limit} "
            "(SIGTERM or Ctrl-C stops)"
        )
    with _store() as store:
        try:
            passes = run_loop(
                store, project, interval=every, max_passes=max_passes, stop=stop, on_pass=said
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
    project = _spec(spec, required=True)
    with _store() as store:
        entries = store.audit.list(project.name, limit=limit)
    if json:
        _emit([_audit_row(e) for e in entries])
        return
    if not entries:
        console.print("no maintenance decision yet (loopml loop, loopml retrain)")
        return
    table = Table(title=f"audit log of '{project.name}'")
    for column in ("at", "action", "model", "actor", "reason"):
        table.add_column(column)
    for entry in entries:
        row = _audit_row(entry)
        table.add_row(
            row["at"], row["action"], row["model"] or "", row["actor"], escape(row["reason"])
        )
    console.print(table)


@app.command("simulate")
def simulate_command(
    data: Annotated[str, typer.Argument(help="Later, labelled rows: a file path or URL.")],
    window: Annotated[
        str | None,
        typer.Option("--window", help="Window by the time column: 1mo, 2w, 7d (default 1mo)."),
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
    configures it, and an oracle retraining on every window; print quality per window."""
    from rich.progress import Progress

    from loopml.data.io import read_source
    from loopml.loop.simulate import POLICIES, SimulationEvent, WindowStarted, simulate
    from loopml.modeling.metrics import greater_is_better
    from loopml.modeling.progress import StageStarted

    project = _spec(spec, required=True)
    if candidates:
        search = project.model.model_copy(
            update={"candidates": [c.strip() for c in candidates.split(",") if c.strip()]}
        )
        project = type(project).model_validate(
            {**project.model_dump(), "model": search.model_dump()}
        )
    frame = read_source(data)
    with _store() as store, Progress(console=console, transient=True, disable=json) as progress:
        task = progress.add_task("replaying", total=None)

        def step(event: SimulationEvent) -> None:
            if isinstance(event, WindowStarted):
                progress.update(
                    task,
                    total=event.total,
                    completed=event.number - 1,
                    description=f"window {event.number}",
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
            on_event=step,
        )
    if json:
        _emit(result.to_dict())
        return
    metric = result.metric
    table = Table(title=f"{metric} per window: never retrain, the loop, an oracle")
    for column in ("window", "rows", *POLICIES, "loop model"):
        table.add_column(column, justify="left" if column in ("window", "loop model") else "right")
    sign = 1.0 if greater_is_better(metric) else -1.0
    for w in result.windows:
        known = [sign * v for v in w.quality.values() if v is not None]
        best = sign * max(known) if known else None
        cells = [
            f"[bold]{_number(w.quality[p])}[/]" if w.quality[p] == best else _number(w.quality[p])
            for p in POLICIES
        ]
        table.add_row(w.start[:10], f"{w.rows:,}", *cells, w.models["loop"])
    table.add_row("mean", "", *(_number(result.mean(p)) for p in POLICIES), "", style="bold")
    console.print(table)
    for event in result.events:
        detail = event.get("gate") or event.get("detail") or event["reason"]
        console.print(
            f"loop after {event['after_window'][:10]}: {event['outcome']}: {escape(detail)}"
        )


def _slug(label: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in Path(label).name)


# --- dashboard -----------------------------------------------------------------------------


@app.command("ui")
def ui_command(
    host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to bind.")] = 8050,
    spec: SpecOpt = None,
) -> None:
    """Serve the dashboard: deployment, models, runs, datasets, monitoring, alerts, audit log.

    Acknowledging an alert needs LOOPML_ADMIN_TOKEN when it is set, else this machine.
    """
    from loopml.config import ServeSettings
    from loopml.ui.server import is_local, serve_ui

    project = _spec(spec, required=True)
    admin_token = ServeSettings.from_env().admin_token

    def announce(url: str) -> None:
        console.print(f"dashboard of '{project.name}' on {url} (Ctrl+C to stop)")
        if admin_token is None and not is_local(host):
            console.print(
                "[yellow]no LOOPML_ADMIN_TOKEN set: alerts can be acknowledged only from "
                "this machine[/]"
            )

    with _store() as store:
        serve_ui(store, project, host=host, port=port, admin_token=admin_token, announce=announce)


def main() -> None:
    """Console entry point: run the app, turning loopml errors into a clear message and exit 2."""
    try:
        result = app(standalone_mode=False)
    except LoopmlError as exc:
        errors.print(f"[red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except (typer.Abort, KeyboardInterrupt):
        errors.print("aborted")
        sys.exit(130)
    except Exception as exc:  # click usage errors carry their own exit code
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
    sys.exit(result if isinstance(result, int) else 0)
