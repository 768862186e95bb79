"""Target leaks `loopml init` flags: a column that predicts the target too well, by its values or
by where it is missing.

- :func:`leak_score`: a one-feature score on a sample. The column is cut into up to 100
  equal-count bins (categories as they are), and the score is the share of the baseline's error
  removed by predicting the majority class (or mean) per bin. :data:`LEAK_SCORE` (0.9) or more
  marks a column computed from the outcome; ordinary strong features score far lower.
- :func:`missing_leak`: the same idea on the rows where the column is missing. Such rows are
  often few (1 % of flights have no tail number: they were cancelled, and count as late), so the
  column's overall score stays low and the AUC of its missing indicator is near 0.5 — yet a model
  learns "missing means late" and answers 0.99 to every client that omits the field. The rows'
  own error must be, even at its upper 95 % bound, under a tenth of the baseline's: where the
  column is missing, the target is settled.
"""

from __future__ import annotations

import math
from typing import Any

import polars as pl

from loopml.spec import Task
from loopml.stats.significance import wilson_lower

LEAK_SCORE = 0.9
LEAK_BINS = 100
MIN_MISSING_ROWS = 30  # fewer rows than this settle nothing
_Z95 = 1.6448536269514722  # one-sided 95 %


def _number(value: Any) -> float:
    """A Polars scalar (typed loosely by Polars) as a float; ``None`` as 0."""
    return 0.0 if value is None else float(value)


def leak_score(frame: pl.DataFrame, column: str, target: str, task: Task) -> float | None:
    """Share of the baseline's error one column removes on its own (1.0 = predicts perfectly)."""
    series = frame[column]
    if series.dtype.is_numeric() and series.dtype != pl.Boolean:
        values = series.cast(pl.Float64)
        # equal-count bins by rank (ties share a bin), at least 100 rows each
        n_bins = max(2, min(LEAK_BINS, values.count() // 100))
        bins = (values.rank("min") - 1) * n_bins // max(1, values.count())
        key = bins.cast(pl.Int64).cast(pl.String)
    elif series.n_unique() <= max(2, frame.height // 20):
        key = series.cast(pl.String)
    else:
        return None
    data = pl.DataFrame({"key": key.fill_null("__missing__"), "y": frame[target]}).drop_nulls("y")
    if data.height == 0:
        return None
    if task == "regression":
        y = data["y"].cast(pl.Float64)
        total = _number(((y - _number(y.mean())) ** 2).sum())
        within = (
            data.with_columns(pl.col("y").cast(pl.Float64))
            .select(((pl.col("y") - pl.col("y").mean().over("key")) ** 2).sum())
            .item()
        )
        return 1 - _number(within) / total if total > 0 else None
    base_error = 1 - _number(data["y"].value_counts()["count"].max()) / data.height
    if base_error <= 0:
        return None
    hits = data.group_by("key", "y").len().group_by("key").agg(pl.col("len").max())["len"].sum()
    return 1 - (1 - _number(hits) / data.height) / base_error


def missing_leak(frame: pl.DataFrame, column: str, target: str, task: Task) -> str | None:
    """Why ``column``'s missingness leaks the target (see the module doc), or ``None``."""
    data = frame.select(missing=pl.col(column).is_null(), y=pl.col(target)).drop_nulls("y")
    gone = data.filter(pl.col("missing"))
    if gone.height < MIN_MISSING_ROWS or gone.height == data.height:
        return None
    share = gone.height / data.height
    if task == "regression":
        y, y_gone = data["y"].cast(pl.Float64), gone["y"].cast(pl.Float64)
        total = _number(y.var())
        # the upper bound of the missing rows' variance (chi-square, n − 1 degrees of freedom)
        n = gone.height
        upper = _number(y_gone.var()) * (n - 1) / max(n - 1 - _Z95 * math.sqrt(2 * (n - 1)), 1)
        if total <= 0 or upper > (1 - LEAK_SCORE) * total:
            return None
        return (
            f"missingness leak: where it is missing ({share:.1%} of rows), {target} is "
            f"{_number(y_gone.mean()):.4g} ± {math.sqrt(_number(y_gone.var())):.2g} against "
            f"{_number(y.mean()):.4g} ± {math.sqrt(total):.2g} overall; a model would answer that "
            "to any request without it: drop those rows or leave the column out"
        )
    counts = gone["y"].value_counts(sort=True)
    settled, hits = counts[0, 0], int(counts[0, 1])
    base = _number((data["y"] == settled).mean())
    base_error = 1 - _number(data["y"].value_counts()["count"].max()) / data.height
    error_upper = 1 - wilson_lower(hits, gone.height, 0.05)  # the missing rows' error, at most
    if base_error <= 0 or error_upper > (1 - LEAK_SCORE) * base_error:
        return None
    indicator = data["missing"].cast(pl.Float64)
    is_settled = (data["y"] == settled).cast(pl.Float64)
    # a binary indicator's AUC: 0.5 plus half the gap in how often each class is missing
    auc = 0.5 + 0.5 * abs(
        _number((indicator * is_settled).sum()) / max(_number(is_settled.sum()), 1)
        - _number((indicator * (1 - is_settled)).sum()) / max(_number((1 - is_settled).sum()), 1)
    )
    return (
        f"missingness leak: where it is missing ({share:.1%} of rows), {target} is {settled!r} in "
        f"{hits / gone.height:.0%} of them against {base:.0%} overall (AUC of its missing "
        f"indicator {auc:.2f}); a model would answer that to any request without it: drop those "
        "rows or leave the column out"
    )
