"""Datetime features: calendar parts, imputed with training medians when missing.

Output columns ``<name>__year``, ``__month``, ``__day``, ``__day_of_week`` (ISO: Monday = 1 …
Sunday = 7, as Polars' ``dt.weekday()``, Python's ``isoweekday()`` and the flights table's own
``day_of_week``), and ``__hour``, ``__minute`` when the training column has a time of day (a
Datetime or string column with any value off midnight; never for a Date column). Seconds and
below are dropped.

Time zones: an aware value (a zoned Datetime column, a ``datetime`` with ``tzinfo``, or an ISO
string with an offset or ``Z``) is converted to UTC and the zone dropped; a naive value is taken
as it is (it is assumed to be in the same clock as the training data). So a model trained on
naive local times should be served naive local times.

Accepted values: ``datetime``, ``date`` (midnight), ISO-8601 strings as read by Python's
``datetime.fromisoformat`` (``"2013-04-01"``, ``"2013-04-01T10:15"``, ``"2013-04-01 10:15:00Z"``,
``"…+05:00"``), and null / NaN / blank string (missing: every part becomes the training median
of that part, 0.0 if training had none, and ``<name>__missing`` is 1.0 when that indicator was
learned — one indicator per column, by the numeric rule). Epoch numbers are rejected because
their unit (s, ms, µs) is ambiguous. In a batch, a String column is parsed by the same Python
function, so batch and record agree exactly.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from typing import Any, Self

import numpy as np
import polars as pl

from loopml.errors import FeatureError
from loopml.features._base import (
    Encoder,
    FloatBlock,
    Options,
    describe,
    median_or_zero,
    only_missing,
    wants_indicator,
    wrong_dtype,
)

PARTS = ("year", "month", "day", "day_of_week", "hour", "minute")


def to_datetime(column: str, value: Any) -> datetime | None:
    """One raw value as a naive datetime (UTC when it was aware), or None when missing."""
    kind = type(value)
    if kind is str:
        text = value.strip()
        if not text:
            return None
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise FeatureError(
                f"feature '{column}': expected an ISO-8601 date or datetime such as "
                f"'2013-04-01T10:15:00' or '2013-04-01T10:15:00+02:00', got {describe(value)}"
            ) from None
    elif kind is datetime or isinstance(value, datetime):
        moment = value
    elif value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    elif isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        return to_datetime(column, str(value))
    else:
        raise FeatureError(
            f"feature '{column}': expected an ISO-8601 datetime string (or a datetime/date), "
            f"got {describe(value)}; epoch numbers are not accepted because their unit is "
            "ambiguous — send e.g. '2013-04-01T10:15:00Z'"
        )
    if moment.tzinfo is not None and moment.utcoffset() is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.replace(tzinfo=None) if moment.tzinfo is not None else moment


def column_parts(column: str, series: pl.Series) -> FloatBlock:
    """All six parts of a batch column, shape ``(n, 6)``, NaN where missing."""
    dtype = series.dtype
    if only_missing(series):
        return np.full((series.len(), len(PARTS)), np.nan)
    if dtype == pl.String:
        series = pl.Series(
            series.name,
            [to_datetime(column, v) for v in series.to_list()],
            dtype=pl.Datetime("us"),
        )
    elif dtype == pl.Date:
        series = series.cast(pl.Datetime("us"))
    elif isinstance(dtype, pl.Datetime):
        if dtype.time_zone is not None:
            series = series.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    else:
        raise wrong_dtype(column, "datetimes, dates or ISO-8601 strings", dtype)
    dt = series.dt
    parts = [dt.year(), dt.month(), dt.day(), dt.weekday(), dt.hour(), dt.minute()]
    frame = pl.DataFrame([part.alias(name) for part, name in zip(parts, PARTS, strict=True)])
    return frame.cast(pl.Float64).to_numpy(order="c").astype(np.float64, copy=False)


class DatetimeEncoder(Encoder):
    """Calendar parts ``name__<part>`` and, when learned, ``name__missing``."""

    kind = "datetime"

    def __init__(self, column: str, time_of_day: bool, medians: list[float], indicator: bool):
        super().__init__(column)
        self.time_of_day = time_of_day
        self.medians = medians
        self.indicator = indicator
        self._n_parts = len(PARTS) if time_of_day else len(PARTS) - 2
        if len(medians) != self._n_parts:
            raise FeatureError(
                f"feature '{column}': expected {self._n_parts} datetime part medians, "
                f"got {len(medians)}"
            )
        self._missing_row = [*medians, 1.0] if indicator else list(medians)

    @property
    def names(self) -> list[str]:
        parts = [f"{self.column}__{part}" for part in PARTS[: self._n_parts]]
        return [*parts, f"{self.column}__missing"] if self.indicator else parts

    @classmethod
    def fit(cls, column: str, series: pl.Series, options: Options) -> Self:
        parts = column_parts(column, series)
        missing = np.isnan(parts[:, 0])
        seen = parts[~missing]
        time_of_day = series.dtype != pl.Date and bool((seen[:, 4:] != 0).any())
        n_parts = len(PARTS) if time_of_day else len(PARTS) - 2
        medians = [median_or_zero(parts[:, i]) for i in range(n_parts)]
        indicator = wants_indicator(int(missing.sum()), len(parts), options)
        return cls(column, time_of_day, medians, indicator)

    def transform(self, series: pl.Series, out: FloatBlock) -> None:
        parts = column_parts(self.column, series)[:, : self._n_parts]
        missing = np.isnan(parts[:, 0])
        if missing.any():
            parts[missing] = self.medians
        out[:, : self._n_parts] = parts
        if self.indicator:
            out[:, self._n_parts] = missing

    def encode(self, value: Any, row: list[float], at: int) -> None:
        moment = value if type(value) is datetime and value.tzinfo is None else None
        if moment is None:
            moment = to_datetime(self.column, value)
        if moment is None:
            row[at : at + len(self._missing_row)] = self._missing_row
            return
        row[at] = moment.year
        row[at + 1] = moment.month
        row[at + 2] = moment.day
        row[at + 3] = moment.isoweekday()
        if self.time_of_day:
            row[at + 4] = moment.hour
            row[at + 5] = moment.minute

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "column": self.column,
            "time_of_day": self.time_of_day,
            "medians": self.medians,
            "indicator": self.indicator,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        return cls(
            str(data["column"]),
            bool(data["time_of_day"]),
            [float(m) for m in data["medians"]],
            bool(data["indicator"]),
        )
