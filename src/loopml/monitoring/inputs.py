"""Input metrics of a window: what arrived, checked against the training schema.

Kept apart from :mod:`loopml.monitoring.windows` so it imports only Polars and the schema
(the monitoring benchmark measures it on its own).
"""

from __future__ import annotations

import math
from typing import Any

import polars as pl

from loopml.data.schema import Schema


def input_metrics(inputs: pl.DataFrame, schema: Schema, features: list[str]) -> dict[str, Any]:
    """Per feature, in one Polars pass: the missing share, the share outside the training
    range (numbers with a range) and the share of categories training never saw."""
    exprs = []
    for name in features:
        rule, column = schema.columns[name], pl.col(name)
        exprs.append(column.is_null().mean().alias(f"missing_fraction.{name}"))
        if rule.kind == "numeric" and (rule.min is not None or rule.max is not None):
            low = -math.inf if rule.min is None else rule.min
            high = math.inf if rule.max is None else rule.max
            outside = ((column < low) | (column > high)).fill_null(False)
            exprs.append(outside.mean().alias(f"out_of_range.{name}"))
        if rule.allowed is not None:
            unseen = column.is_not_null() & ~column.cast(pl.String).is_in(rule.allowed)
            exprs.append(unseen.mean().alias(f"unseen.{name}"))
    if not inputs.height:
        return {}
    return inputs.select(exprs).row(0, named=True)
