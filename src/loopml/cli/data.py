"""``loopml init`` and ``loopml data …``: scope a project from a sample, and dataset versions
(add, list, show, profile, validate, report)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from loopml.cli._common import JsonOpt, QueryOpt, SpecOpt, console, emit, open_spec, open_store
from loopml.cli._render import print_validation
from loopml.config import Settings
from loopml.reports.tables import dataset_row, number

if TYPE_CHECKING:
    from loopml.data.profile import Profile
    from loopml.spec import Spec
    from loopml.store import Store

app = typer.Typer()
data_app = typer.Typer(
    help="Dataset versions: add, list, show, profile, validate, report.", no_args_is_help=True
)
app.add_typer(data_app, name="data")


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
    time_format: Annotated[
        str | None,
        typer.Option(
            "--time-format",
            help="How the time column is written: a strftime pattern such as '%b-%Y', or "
            "epoch_s / epoch_ms (default: inferred from its values).",
        ),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option("--name", help="Project name (default: the data's name and the target)."),
    ] = None,
    query: QueryOpt = None,
    out: Annotated[Path, typer.Option("--out", help="Where to write the spec.")] = Path(
        "loopml.yaml"
    ),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing spec.")] = False,
    json: JsonOpt = False,
) -> None:
    """Read DATA, infer a spec for predicting TARGET, and write a commented loopml.yaml."""
    from loopml.data.io import describe_source, read_source
    from loopml.data.naming import project_name
    from loopml.data.scope import propose_spec
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
        time_format=time_format,
        name=name or project_name(data, target),
        source=describe_source(data),
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(proposal.text, encoding="utf-8")
    if json:
        emit(
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


@data_app.command("add")
def data_add(
    source: Annotated[str, typer.Argument(help="CSV or Parquet file, or a database URL.")],
    name: Annotated[
        str | None,
        typer.Option("--name", help="Dataset name (default: the project's name, else file stem)."),
    ] = None,
    query: QueryOpt = None,
    spec: SpecOpt = None,
    json: JsonOpt = False,
) -> None:
    """Add SOURCE as an immutable dataset version (the same data twice gives the same version)."""
    from loopml.data.versions import add_dataset

    project = open_spec(spec)
    name = name or (project.name if project is not None else None)  # what validate compares with
    with console.status("reading, hashing and profiling…"), open_store(create=True) as store:
        version = add_dataset(store, source, name=name, query=query, spec=project)
    record = version.record
    if json:
        emit({**dataset_row(record), "created": version.created})
        return
    verb = "added" if version.created else "already stored as"
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
    with open_store() as store:
        records = store.datasets.list(name)
    if json:
        emit([dataset_row(r) for r in records])
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


def _profile_table(profile: Profile, title: str) -> Table:
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

    with open_store() as store:
        version = get_version(store, ref)
    record = version.record
    if json:
        emit({**dataset_row(record), "schema": record.schema, "profile": record.profile})
        return
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
        emit(profile.to_dict())
        return
    console.print(_profile_table(profile, f"profile of {source} ({profile.n_rows:,} rows)"))


def _profile_of(source: str, query: str | None) -> Profile:
    """The profile of a file or database URL, computed; or of a dataset version, stored."""
    from loopml.data.io import is_source, read_source
    from loopml.data.profiling import profile_frame
    from loopml.data.versions import get_version

    if is_source(source):
        return profile_frame(read_source(source, query=query))
    with open_store() as store:
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
    from loopml.data.times import with_time_column
    from loopml.data.validate import validate
    from loopml.data.versions import get_version

    project = open_spec(spec)
    with open_store() as store:
        version = get_version(store, against or _default_reference(store, project))
    schema = version.schema if project is None else infer_schema(version.profile, project)
    frame = with_time_column(read_source(source, query=query), project)
    with console.status(f"validating {frame.height:,} rows against {version.ref}…"):
        report = validate(frame, schema)
    if json:
        emit({"against": version.ref, "source": source, **report.to_dict()})
    else:
        print_validation(report, source, version.ref)
    raise typer.Exit(0 if report.ok else 1)


def _default_reference(store: Store, project: Spec | None) -> str:
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

    with open_store() as store:
        base = get_version(store, ref or _default_reference(store, None))
        profiles = [(base.ref, base.profile)]
        if compare:
            profiles.append((compare, _profile_of(compare, None)))
    slug = "-vs-".join(_slug(label) for label, _ in profiles)
    report = build_data_report(profiles)
    path = write_html(report, out or Settings.from_env().reports_dir / f"data-{slug}.html")
    if json:
        emit(
            {
                "report": str(path),
                "datasets": [label for label, _ in profiles],
                "drift": report.drift,
            }
        )
        return
    if report.drift:
        console.print(_drift_table(report.drift, *report.labels))
    console.print(f"wrote [bold]{path}[/]")


def _drift_table(rows: list[dict[str, Any]], reference: str, current: str) -> Table:
    """The report's per-column drift, as in the HTML page: drifted columns first."""
    drifted = sum(1 for r in rows if r["drifted"])
    table = Table(title=f"drift of {current} against {reference}: {drifted} of {len(rows)} columns")
    for name in ("column", "statistic", "threshold", "drifted", "PSI", "effect"):
        table.add_column(name)
    for r in rows:
        table.add_row(
            r["column"],
            f"{r.get('statistic', '')} {number(r.get('value'), 3)}",
            number(r.get("threshold"), 3),
            "yes" if r["drifted"] else ("no" if r["drifted"] is not None else "—"),
            number(r["psi"], 3),
            str(r["effect"] or ""),
        )
    return table


def _slug(label: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in Path(label).name)
