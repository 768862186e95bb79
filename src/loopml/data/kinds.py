"""What kind of feature a column is, from its values alone (``loopml init``'s column rules).

Each rule is a ratio or a count that means the same on any table, not a name or a threshold
tuned to one dataset:

- **constant** / **all missing**: one value, or none, teaches a model nothing.
- **identifier**: more than 95 % of over 50 values unique, and text (or an integer named like an
  id); unless it is prose (4 words or more on average), which is **text**.
- **text** for a string column whose values a category per value cannot learn but whose words
  can: at least ``RARE_ROWS`` (a quarter) of the rows hold a value seen fewer than
  ``MIN_LEVEL_ROWS`` times (a level's mean from fewer than 10 rows has a standard error over
  30 % of the spread, so a quarter of the predictions would learn nothing from the column),
  and the values share words (fewer distinct words than distinct values), as job titles do
  ("Senior Data Engineer", "Data Engineer"). A high-cardinality code of one word (a tail
  number) has nothing to share and stays categorical; prose (4 words or more, mostly unique)
  is text too.
- **categorical** for an integer code: from 3 to ``MAX_CODE_LEVELS`` (32) distinct values, each
  seen ``MIN_LEVEL_ROWS`` times on average. 32 is the most levels LightGBM's categorical split
  searches (``max_cat_threshold``): up to there a level per value costs the model nothing and
  assumes no order or spacing, which a code (a district, a store group) does not have; with
  two values both encodings make the same split, so 0/1 flags stay numeric. Calendar parts of
  the time column (hour, weekday) keep their order and stay numeric (:func:`calendar_cycles`
  tells them).
- **numeric**, **datetime**: by type, otherwise.
"""

from __future__ import annotations

import re
from typing import Any

import polars as pl

MIN_LEVEL_ROWS = 10
RARE_ROWS = 0.25
MAX_CODE_LEVELS = 32
#: words as the text encoder's tokenizer (scikit-learn's default) sees them
_WORD = r"(?u)\b\w\w+\b"
_ID_NAME = re.compile(r"(^id$|_id$|^id_|uuid|guid)", re.IGNORECASE)


def as_float(value: Any, default: float = 0.0) -> float:
    """A Polars scalar (typed loosely by Polars) as a float."""
    return default if value is None else float(value)


def mean_words(values: pl.Series) -> float:
    """Whitespace-separated words per value, on the first 5,000 values."""
    sample = values.head(5_000).cast(pl.String)
    return as_float(sample.str.count_matches(r"\S+").mean())


def rare_share(values: pl.Series) -> float:
    """The share of (non-null) values seen fewer than ``MIN_LEVEL_ROWS`` times."""
    counts = values.value_counts(name="n").get_column("n")
    return as_float(counts.filter(counts < MIN_LEVEL_ROWS).sum()) / max(values.len(), 1)


def shares_words(values: pl.Series) -> bool:
    """Whether the distinct values share words: fewer distinct words than distinct values."""
    distinct = values.unique()
    words = distinct.str.to_lowercase().str.extract_all(_WORD).explode().drop_nulls()
    return 0 < words.n_unique() < distinct.len()


def is_code(values: pl.Series) -> bool:
    """Whether non-null integer ``values`` look like a code: 3 to ``MAX_CODE_LEVELS`` distinct
    values, ``MIN_LEVEL_ROWS`` rows per value on average."""
    distinct = values.n_unique()
    return (
        values.dtype.is_integer()
        and 3 <= distinct <= MAX_CODE_LEVELS
        and values.len() >= MIN_LEVEL_ROWS * distinct
    )


def column_kind(series: pl.Series) -> tuple[str | None, str]:
    """(feature kind, or None when the column should not be a feature; the reason)."""
    nonnull = series.drop_nulls()
    if nonnull.len() == 0:
        return None, "all missing"
    distinct = nonnull.n_unique()
    if distinct == 1:
        return None, f"constant (a single value: {nonnull[0]!r})"
    dtype = series.dtype
    unique_share = distinct / nonnull.len()
    if dtype.is_temporal():
        return "datetime", ""
    if dtype == pl.Boolean:
        return "categorical", ""
    looks_like_id = _ID_NAME.search(series.name) is not None
    unique = unique_share > 0.95 and distinct > 50
    if unique and (dtype == pl.String or (dtype.is_integer() and looks_like_id)):
        if dtype == pl.String and mean_words(nonnull) >= 4:
            return "text", ""
        return None, f"identifier ({unique_share:.0%} of values unique)"
    if is_code(nonnull):
        return "categorical", f"integer code ({distinct} values)"
    if dtype.is_numeric():
        return "numeric", ""
    if mean_words(nonnull) >= 4 and unique_share > 0.5:
        return "text", ""
    if dtype == pl.String and (rare := rare_share(nonnull)) >= RARE_ROWS and shares_words(nonnull):
        return "text", (
            f"{distinct:,} values, {rare:.0%} of rows with one seen under {MIN_LEVEL_ROWS} times"
        )
    return "categorical", ""


def calendar_cycles(frame: pl.DataFrame, column: str, time_column: str) -> int | None:
    """How many times ``column`` runs through its values along time, if time determines it.

    ``None`` when ``column`` is not a function of ``time_column`` (one value per time).
    Otherwise the number of cycles: 1 plus how often the value falls back along time (a month
    column over one quarter: 1; day of month: 3; hour of day: one per day).
    """
    if not frame[column].dtype.is_numeric() or frame[column].null_count():
        return None
    data = frame.select(time_column, column).drop_nulls(time_column)
    if data.height == 0:
        return None
    per_time = data.group_by(time_column).agg(pl.col(column).n_unique()).get_column(column)
    if as_float(per_time.max()) > 1:
        return None
    ordered = data.unique(time_column).sort(time_column).get_column(column)
    return int(as_float((ordered.diff() < 0).sum())) + 1
