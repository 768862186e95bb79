"""Numeric features: the value as float64, missing values imputed with the training median.

Missing means null, ``None``, NaN, ±inf, or a blank string. Infinities count as missing so the
output is always finite and every scikit-learn estimator accepts it. When the training column's
missing fraction reaches ``missing_indicator_min`` an extra column ``<name>__missing`` (1.0/0.0)
keeps the fact that a value was missing, since missingness often carries signal. A column that is
entirely missing in training imputes 0.0 (there is no median to take).

Accepted values: numbers (ints are converted to float64 by round-to-nearest in both paths),
booleans (1.0/0.0), strings that Python's ``float()`` parses (``"12.5"``, ``" 3 "``, ``"1e3"``)
and ``"true"``/``"false"`` in any case (1.0/0.0, as a boolean column read from text gives). Any
other string raises :class:`FeatureError` naming the field. In a batch, a String
column is parsed the same way, once per distinct value.
"""

from __future__ import annotations

import math
import numbers
from decimal import Decimal
from typing import Any, Self

import numpy as np
import polars as pl

from loopml.errors import FeatureError
from loopml.features._base import (
    Encoder,
    FloatBlock,
    Options,
    describe,
    map_distinct,
    median_or_zero,
    wants_indicator,
    wrong_dtype,
)

_NAN = math.nan
_FLAGS = {"true": 1.0, "false": 0.0}


def to_float(column: str, value: Any) -> float:
    """One raw value as a float (NaN when missing); raises :class:`FeatureError` if not a number.

    Non-finite results are returned as they are; the caller treats them as missing.
    """
    kind = type(value)
    if kind is float:
        return value
    if kind is int:
        try:
            return float(value)
        except OverflowError:
            raise FeatureError(
                f"feature '{column}': expected a number within float64 range, got an integer "
                f"of {value.bit_length()} bits"
            ) from None
    if value is None:
        return _NAN
    if kind is bool or isinstance(value, np.bool_):
        return 1.0 if value else 0.0
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return _NAN
        try:
            return float(text)
        except ValueError:
            flag = _FLAGS.get(text.lower())
            if flag is not None:
                return flag
            raise FeatureError(
                f"feature '{column}': expected a number (or a numeric string such as '12.5'), "
                f"got {describe(value)}; send a number, or null when it is unknown"
            ) from None
    if isinstance(value, numbers.Real | Decimal):  # numpy scalars, fractions, SQL NUMERIC
        return float(value)
    raise FeatureError(
        f"feature '{column}': expected a number, got {describe(value)}; "
        "send a number, or null when it is unknown"
    )


def column_floats(column: str, series: pl.Series) -> FloatBlock:
    """A batch column as float64 with NaN where missing (null), parsed like :func:`to_float`."""
    dtype = series.dtype
    if dtype == pl.Null:
        return np.full(series.len(), np.nan)
    if dtype == pl.String or isinstance(dtype, pl.Decimal):  # parsed/rounded as Python does
        series = map_distinct(series, lambda v: to_float(column, v), pl.Float64())
    elif dtype == pl.Boolean or dtype.is_numeric():
        series = series.cast(pl.Float64)
    else:
        raise wrong_dtype(column, "numbers", dtype)
    return series.to_numpy(allow_copy=True).astype(np.float64, copy=True)


class NumericEncoder(Encoder):
    """``name`` (the value, median-imputed) and, when learned, ``name__missing``."""

    kind = "numeric"

    def __init__(self, column: str, median: float, indicator: bool) -> None:
        super().__init__(column)
        self.median = median
        self.indicator = indicator

    @property
    def names(self) -> list[str]:
        return [self.column, f"{self.column}__missing"] if self.indicator else [self.column]

    @classmethod
    def fit(cls, column: str, series: pl.Series, options: Options) -> Self:
        values = column_floats(column, series)
        missing = int((~np.isfinite(values)).sum())
        return cls(column, median_or_zero(values), wants_indicator(missing, len(values), options))

    def transform(self, series: pl.Series, out: FloatBlock) -> None:
        values = column_floats(self.column, series)
        missing = ~np.isfinite(values)
        values[missing] = self.median
        out[:, 0] = values
        if self.indicator:
            out[:, 1] = missing

    def encode(self, value: Any, row: list[float], at: int) -> None:
        x = value if type(value) is float else to_float(self.column, value)
        if x - x == 0.0:  # finite (NaN and ±inf give NaN)
            row[at] = x
        else:
            row[at] = self.median
            if self.indicator:
                row[at + 1] = 1.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "column": self.column,
            "median": self.median,
            "indicator": self.indicator,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        return cls(str(data["column"]), float(data["median"]), bool(data["indicator"]))
