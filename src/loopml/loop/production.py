"""Labelled production data: what the deployment answered, joined with the labels fed back.

The prediction log keeps each request's record as sent; the store keeps the labels that arrived
later by request id. Joined, they are new training rows in the shape of the training dataset:
the same columns and types, the target filled in from the label. The time column comes from the
record when the client sent it, else from the time the request was answered, so a sliding
window and the comparison window (the most recent labelled rows) order rows by when they
happened.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from loopml.errors import DataError
from loopml.monitoring.windows import SERVED
from loopml.serving.log import decode_features, read_log
from loopml.spec import Spec
from loopml.store import Store


def labelled_rows(
    store: Store,
    spec: Spec,
    log_folder: str | Path,
    like: pl.Schema,
    *,
    since: datetime | None = None,
) -> pl.DataFrame:
    """The served, answered and labelled requests of ``spec``'s deployment, shaped like
    ``like`` (the training dataset's schema), oldest first."""
    log = read_log(log_folder, spec.name, since=since)
    log = log.filter(pl.col("route").is_in(SERVED) & pl.col("error").is_null())
    log = log.unique("request_id", keep="first", maintain_order=True)
    ids = log.get_column("request_id").to_list()
    labels = store.get_labels(ids) if ids else {}
    log = log.filter(pl.col("request_id").is_in(list(labels)))
    return to_training_frame(log, [labels[i] for i in log.get_column("request_id")], spec, like)


def to_training_frame(
    log: pl.DataFrame, labels: list[Any], spec: Spec, like: pl.Schema
) -> pl.DataFrame:
    """Logged requests (``features`` JSON, ``ts``) and their labels as rows of schema ``like``."""
    wanted = {name: dtype for name, dtype in like.items() if name != spec.target}
    as_sent = {
        name: pl.String() if dtype.is_temporal() else dtype for name, dtype in wanted.items()
    }
    frame = decode_features(log.select("ts", "features"), as_sent).drop("ts")
    casts = [
        pl.col(name).str.to_datetime(time_unit=getattr(dtype, "time_unit", "us"), strict=False)
        if dtype.is_temporal()
        else pl.col(name)
        for name, dtype in wanted.items()
    ]
    frame = frame.with_columns(casts)
    time = spec.time_column
    if time is not None and time in wanted:
        frame = frame.with_columns(
            pl.coalesce(pl.col(time), _as(log.get_column("ts"), wanted[time]))
        )
    target = like.get(spec.target)
    try:
        label = pl.Series(spec.target, labels, dtype=target, strict=False)
    except (TypeError, pl.exceptions.PolarsError) as exc:
        raise DataError(
            f"labels fed back for '{spec.target}' do not convert to its training type {target} "
            f"({exc}); send labels of the training data's kind"
        ) from exc
    if label.null_count() > sum(value is None for value in labels):
        raise DataError(
            f"{label.null_count()} labels fed back for '{spec.target}' are not {target} values; "
            "send labels of the training data's kind"
        )
    return frame.with_columns(label).select(list(like.keys()))


def _as(ts: pl.Series, dtype: pl.DataType) -> pl.Series:
    """Answer times in the time column's type (the same zone, or naive UTC)."""
    zone = getattr(dtype, "time_zone", None)
    values = ts.dt.convert_time_zone(zone) if zone else ts.dt.replace_time_zone(None)
    return values.cast(dtype)
