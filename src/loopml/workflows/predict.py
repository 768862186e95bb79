"""The ``predict`` verb: batch-score a file or query with a registered model.

The input is checked against the model's own input schema first (only the model's columns:
ids, targets and other columns ride along into the output).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from loopml.data.io import describe_source, read_source
from loopml.data.validate import validate
from loopml.errors import LoopmlError, ValidationFailed
from loopml.registry import load_package
from loopml.spec import Spec
from loopml.store import Store


def predict(
    store: Store,
    spec: Spec | None,
    source: str,
    out: Path,
    *,
    model: str | None = None,
    query: str | None = None,
) -> dict[str, Any]:
    """Score ``source`` with a registered model and write ``out`` (CSV or Parquet)."""
    if model is None:
        if spec is None:
            raise LoopmlError("pass --model NAME@VERSION (or run in a project with loopml.yaml)")
        model = f"{spec.name}@champion"
    package = load_package(store, model)
    frame = read_source(source, query=query)
    # only the model's inputs are checked: ids, targets and other columns ride along
    report = validate(
        frame.select(c for c in frame.columns if c in package.schema.columns), package.schema
    )
    if not report.ok:
        raise ValidationFailed(
            f"{describe_source(source)} does not match the input schema of {package.record.ref}: "
            f"{len(report.errors)} error(s); first: {report.errors[0].message}",
            report,
        )
    decisions, output = package.model.score_frame(frame)
    id_column = package.meta.lineage.spec.get("id_column")
    columns: dict[str, Any] = {}
    if id_column and id_column in frame.columns:
        columns[id_column] = frame[id_column]
    else:
        columns["row"] = pl.int_range(1, frame.height + 1, eager=True)
    if package.model.task == "regression":
        columns["prediction"] = output
    else:
        columns["prediction"] = pl.Series(package.model.labels(decisions))
        for i, label in enumerate(package.model.classes):
            shown = str(label).lower() if isinstance(label, bool) else str(label)
            columns[f"probability_{shown}"] = output[:, i]
    result = pl.DataFrame(columns)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() in (".parquet", ".pq"):
        result.write_parquet(out)
    else:
        result.write_csv(out)
    return {
        "model": package.record.ref,
        "rows": result.height,
        "out": str(out),
        "warnings": len(report.warnings),
    }
