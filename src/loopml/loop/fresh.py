"""What a retrain learns from and is judged on: the fresh labelled rows, split into the rows
to train on and the comparison window, and the training data the ``retrain.data`` policy makes
of them (see :mod:`loopml.loop.retrain`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from loopml.errors import RetrainError
from loopml.spec import Spec


@dataclass(frozen=True)
class FreshData:
    """Fresh labelled rows split for a retrain: rows to train on, and the comparison window."""

    train: pl.DataFrame
    comparison: pl.DataFrame

    def describe(self, spec: Spec) -> dict[str, Any]:
        described: dict[str, Any] = {
            "fresh_rows": self.train.height,
            "comparison_rows": self.comparison.height,
        }
        time = spec.time_column
        if time and time in self.comparison.columns and self.comparison.height:
            described["comparison_from"] = str(self.comparison[time].min())
            described["comparison_to"] = str(self.comparison[time].max())
        return described


def split_fresh(
    production: pl.DataFrame, base: pl.DataFrame, spec: Spec, *, quarantined: int = 0
) -> FreshData:
    """The production rows ``base`` lacks, each once (by ``id_column`` where a row has one,
    else by value), the most recent of them held out for the comparison (see the module doc).
    ``quarantined``: the labelled rows already left out under input incidents, for the message
    when too few remain."""
    everything = list(base.columns)
    if spec.id_column:
        ids = pl.col(spec.id_column).is_not_null()
        with_id = production.filter(ids).unique(spec.id_column, keep="last", maintain_order=True)
        with_id = with_id.join(base.select(spec.id_column), on=spec.id_column, how="anti")
        without = production.filter(~ids)
        fresh = pl.concat([with_id, _new_values(without, base.filter(~ids), everything)])
    else:
        fresh = _new_values(production, base, everything)
    if spec.time_column:
        fresh = fresh.sort(spec.time_column, maintain_order=True, nulls_last=False)
    held = max(spec.monitoring.min_samples, round(spec.model.test_fraction * fresh.height))
    if fresh.height < held + spec.monitoring.min_samples:
        left_out = (
            f" ({quarantined:,} more are quarantined under input incidents: see loopml incidents)"
            if quarantined
            else ""
        )
        raise RetrainError(
            f"{fresh.height} labelled production rows the serving model did not train on"
            f"{left_out}; a "
            f"retrain needs at least {held + spec.monitoring.min_samples} (the most recent "
            f"{held} to compare the challenger with the serving model, the rest to learn from): "
            "wait for more labels (POST /feedback), or lower monitoring.min_samples"
        )
    comparison = fresh.tail(held)
    if spec.task != "regression" and comparison[spec.target].n_unique() < 2:
        raise RetrainError(
            f"the {held} most recent labelled rows hold one class of '{spec.target}' only: the "
            "challenger and the serving model cannot be compared on them; wait for more labels"
        )
    return FreshData(fresh.head(fresh.height - held), comparison)


def _new_values(rows: pl.DataFrame, base: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """``rows`` not already in ``base`` (every column equal), each once."""
    rows = rows.unique(columns, keep="last", maintain_order=True)
    return rows.join(base.select(columns).unique(), on=columns, how="anti", nulls_equal=True)


def training_frame(base: pl.DataFrame, fresh: pl.DataFrame, spec: Spec) -> pl.DataFrame:
    """The rows to train on under ``retrain.data`` (see the module doc)."""
    rows = pl.concat([base, fresh], how="vertical_relaxed")
    policy = spec.retrain
    if policy.data == "append":
        return rows
    if policy.window is not None:
        if not spec.time_column:
            raise RetrainError(
                "retrain.window needs the spec's time_column to know which rows are recent; "
                "set time_column, or use retrain.window_rows"
            )
        newest = rows[spec.time_column].max()
        rows = rows.filter(pl.col(spec.time_column) > newest - policy.window)  # type: ignore[operator]
    if policy.window_rows is not None:
        if spec.time_column:
            rows = rows.sort(spec.time_column, maintain_order=True, nulls_last=False)
        rows = rows.tail(policy.window_rows)
    if policy.window is None and policy.window_rows is None:
        raise RetrainError("retrain.data: window needs retrain.window or retrain.window_rows")
    return rows
