"""Rich renderings that more than one verb module draws: a validation report, training progress."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.table import Table

from loopml.cli._common import console

if TYPE_CHECKING:
    from loopml.data.validate import ValidationReport
    from loopml.modeling.progress import ProgressEvent


def print_validation(report: ValidationReport, source: str, against: str) -> None:
    """The rules ``source`` broke (or that it passes them all), one row per violation."""
    if not report.violations:
        console.print(f"[green]✓[/] {source}: {report.n_rows:,} rows pass every rule of {against}")
        return
    table = Table(
        title=f"{source} against {against}: {len(report.errors)} error(s), "
        f"{len(report.warnings)} warning(s), {len(report.tolerated)} tolerated"
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
            style={"error": "red", "warning": "yellow"}.get(v.severity, "dim"),
        )
    console.print(table)
    if not report.ok:
        verdict = "[red]✗ validation failed[/]"
    elif report.warnings:
        verdict = "[green]✓ no errors[/] (warnings only)"
    else:
        verdict = "[green]✓ no errors[/] (breaks within their rules' tolerance, shown as info)"
    console.print(verdict)


class TrainProgress:
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
