"""Categorical features: integer codes by training frequency, for LightGBM's native categoricals.

Levels are ordered by training count, most frequent first (code 0), ties by their string form;
at most ``max_categories`` levels with a count of at least ``min_category_count`` are kept. Every
other value (rare in training, or never seen) shares the code ``len(levels)`` ("other"), and a
missing value (null, ``None``, NaN) has its own code ``len(levels) + 1`` ("missing"). Codes are
small non-negative integers stored exactly as float64.

Values are compared by a canonical string, the same for a batch column and a JSON record:

=================  ===========================================================================
value              canonical form
=================  ===========================================================================
string             itself (no trimming, no case folding)
bool               ``"true"`` / ``"false"`` (as Polars casts them; Python's ``str`` says "True")
int                decimal digits, ``"1545"``
float              an integral float below 2**53 as the int (``1545.0`` → ``"1545"``, so JSON
                   clients may send either); otherwise ``repr`` (``"12.5"``, ``"inf"``); NaN is
                   missing
date / datetime    ``isoformat()``
=================  ===========================================================================

Anything else (lists, objects) raises :class:`FeatureError`. In a batch the canonical function
runs once per distinct value, so thousands of levels (flights ``tailnum``: ~4,000) stay fast.
"""

from __future__ import annotations

import math
import numbers
from datetime import date
from decimal import Decimal
from typing import Any, Self

import numpy as np
import polars as pl

from loopml.errors import FeatureError
from loopml.features._base import Encoder, FloatBlock, Options, describe

_EXACT_INT = 2.0**53


def canonical(column: str, value: Any) -> str | None:
    """The string a category value is compared by, or None when it is missing."""
    kind = type(value)
    if kind is str:
        return value
    if value is None:
        return None
    if kind is bool or isinstance(value, np.bool_):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real | Decimal):
        number = float(value)
        if math.isnan(number):
            return None
        if number.is_integer() and abs(number) < _EXACT_INT:
            return str(int(number))
        return repr(number)
    if isinstance(value, str):  # str subclasses (numpy.str_)
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    raise FeatureError(
        f"feature '{column}': expected a category (a string, number or boolean), got "
        f"{describe(value)}; send the category as a string, or null when it is unknown"
    )


class CategoricalEncoder(Encoder):
    """One column ``name`` holding the level's code (or the "other" / "missing" code)."""

    kind = "categorical"

    def __init__(self, column: str, levels: list[str]) -> None:
        super().__init__(column)
        self.levels = levels
        self._codes = {level: float(code) for code, level in enumerate(levels)}
        self.other_code = float(len(levels))
        self.missing_code = float(len(levels) + 1)

    @property
    def names(self) -> list[str]:
        return [self.column]

    @property
    def categorical_offsets(self) -> list[int]:
        return [0]

    @classmethod
    def fit(cls, column: str, series: pl.Series, options: Options) -> Self:
        counts: dict[str, int] = {}
        table = _readable(column, series).rename("value").value_counts(name="n")
        for value, n in zip(table["value"].to_list(), table["n"].to_list(), strict=True):
            key = canonical(column, value)
            if key is not None:
                counts[key] = counts.get(key, 0) + n
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        kept = [key for key, n in ranked if n >= options.min_category_count]
        return cls(column, kept[: options.max_categories])

    def code(self, value: Any) -> float:
        """The code of one raw value."""
        key = canonical(self.column, value)
        return self.missing_code if key is None else self._codes.get(key, self.other_code)

    def transform(self, series: pl.Series, out: FloatBlock) -> None:
        series = _readable(self.column, series)
        distinct = series.unique().drop_nulls()
        codes = [self.code(value) for value in distinct.to_list()]
        mapped = series.replace_strict(
            distinct, codes, default=self.missing_code, return_dtype=pl.Float64
        )
        out[:, 0] = mapped.to_numpy()

    def encode(self, value: Any, row: list[float], at: int) -> None:
        if type(value) is str:
            row[at] = self._codes.get(value, self.other_code)
        else:
            row[at] = self.code(value)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "column": self.column, "levels": self.levels}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        return cls(str(data["column"]), [str(level) for level in data["levels"]])


def _readable(column: str, series: pl.Series) -> pl.Series:
    """Categorical/Enum columns as strings; nested columns rejected up front."""
    dtype = series.dtype
    if isinstance(dtype, pl.Categorical | pl.Enum):
        return series.cast(pl.String)
    if dtype.is_nested() or dtype == pl.Object:
        raise FeatureError(
            f"feature '{column}': expected a column of categories (strings, numbers or "
            f"booleans), got a {dtype} column; flatten it or drop it from the features"
        )
    return series
