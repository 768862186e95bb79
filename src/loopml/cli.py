"""The ``loopml`` command: one verb per lifecycle step. Thin: parse, call the library, render.

Exit codes: 0 success; 1 the command ran and found a failure (e.g. validation errors);
2 bad input or an error (the message says what was expected, what was got and how to fix it).
Every command that prints results takes ``--json`` for scripts.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from loopml.config import Settings
from loopml.errors import LoopmlError

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


def _store() -> Any:
    from loopml.store import Store

    return Store.open()


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
    console.print(f"wrote [bold]{out}[/]; review it, then run [bold]loopml data add {data}[/]")


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
    with console.status("reading, hashing and profiling…"), _store() as store:
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
        records = store.list_datasets(name)
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
    from loopml.data.profile import profile_frame
    from loopml.data.versions import get_version

    if Path(source).exists() or is_sql_url(source):
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

    records = store.list_datasets(project.name if project is not None else None)
    if not records and project is not None:
        records = store.list_datasets()
    if not records:
        raise NotFoundError(
            "no dataset version to validate against: add one with 'loopml data add FILE' "
            "or pass --against NAME@VERSION"
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


def _slug(label: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in Path(label).name)


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
