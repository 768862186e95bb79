"""The encoder contract shared by every feature kind, the errors, and helpers for both paths.

An encoder turns one input column into a block of ``width = len(names)`` output columns. It has
two paths that must agree bit for bit:

- **batch** (:meth:`Encoder.transform`): a Polars Series in, a float64 block written in place;
- **record** (:meth:`Encoder.encode`): one raw value (as decoded from JSON) written into a
  Python list at a given offset. This is the serving hot path, so it must not build frames.

Identity is by construction, not by testing alone: wherever Python and Polars could disagree
(parsing numeric or datetime strings, rendering a category as a string) the batch path applies
the very same Python function as the record path to each distinct value of the column
(:func:`map_distinct`), and only exact operations (int → float casts, calendar fields, NaN
replacement by a stored median) run vectorised.

Encoders are internal: :class:`loopml.features.FeaturePipeline` creates them with
:meth:`Encoder.fit` or :meth:`Encoder.from_dict` and calls nothing else.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np
import numpy.typing as npt
import polars as pl

from loopml.errors import FeatureError

FloatBlock = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Options:
    """The pipeline's encoding parameters, as the encoders see them."""

    max_categories: int = 1000
    min_category_count: int = 1
    text_features: int = 256
    missing_indicator_min: float = 0.001


def describe(value: Any) -> str:
    """A short, safe rendering of a bad value for an error message: ``'abc' (str)``."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def median_or_zero(values: FloatBlock) -> float:
    """The median of the finite values, or 0.0 when there are none (an all-missing column)."""
    finite = values[np.isfinite(values)]
    return float(np.median(finite)) if finite.size else 0.0


def wants_indicator(missing: int, rows: int, options: Options) -> bool:
    """Whether a column's training missing fraction is high enough to carry a signal."""
    return rows > 0 and missing / rows >= options.missing_indicator_min


def map_distinct(
    series: pl.Series,
    function: Callable[[Any], Any],
    return_dtype: pl.DataType,
    *,
    null_to: Any = None,
) -> pl.Series:
    """Apply a Python ``function`` to each distinct non-null value of ``series`` and spread back.

    This is how the batch path stays identical to the record path while calling Python only
    once per distinct value. Nulls become ``null_to``. A :class:`FeatureError` from ``function``
    is re-raised naming the first row holding the offending value.
    """
    distinct = series.unique().drop_nulls()
    results = []
    for value in distinct.to_list():
        try:
            results.append(function(value))
        except FeatureError as exc:
            raise FeatureError(f"{exc} (row {_first_row(series, value)})") from exc
    return series.replace_strict(distinct, results, default=null_to, return_dtype=return_dtype)


def _first_row(series: pl.Series, value: Any) -> int | str:
    rows = (series == value).arg_true()
    return int(rows[0]) if rows.len() else "?"


def only_missing(series: pl.Series) -> bool:
    """Whether a column holds nothing but nulls (a Null column) or NaN/nulls (a float column).

    Datetime and text columns accept such columns as all-missing, because a record may carry
    NaN for a missing value of any kind.
    """
    if series.dtype == pl.Null:
        return True
    return series.dtype.is_float() and bool((series.is_null() | series.is_nan()).all())


def wrong_dtype(column: str, expected: str, dtype: pl.DataType) -> FeatureError:
    """The error for a batch column whose type the encoder cannot read."""
    return FeatureError(
        f"feature '{column}': expected a column of {expected}, got a {dtype} column; "
        f"cast it (e.g. pl.col('{column}').cast(...)) or list it under another kind in the spec"
    )


class Encoder(ABC):
    """One input column → ``width`` output columns, learned once, applied in batch or per record.

    Invariants every implementation keeps:

    - ``names`` (and so ``width``) is fixed after ``fit``/``from_dict``;
    - ``transform(series, out)`` writes every cell of ``out`` (shape ``(len(series), width)``);
    - ``encode(value, row, at)`` writes ``row[at:at + width]`` (``row`` starts as zeros) and
      equals ``transform`` of a one-row series holding ``value`` exactly;
    - ``to_dict`` is JSON-safe (finite floats, strings, lists) and ``from_dict`` inverts it.
    """

    kind: ClassVar[str]
    #: whether ``encode`` exists (scalar kinds) or only ``encode_many`` (text, vectorised)
    scalar: ClassVar[bool] = True

    def __init__(self, column: str) -> None:
        self.column = column

    @property
    @abstractmethod
    def names(self) -> list[str]:
        """Output column names, in block order."""

    @property
    def categorical_offsets(self) -> list[int]:
        """Offsets within the block of columns holding integer category codes."""
        return []

    @classmethod
    @abstractmethod
    def fit(cls, column: str, series: pl.Series, options: Options) -> Self:
        """Learn from the training column."""

    @abstractmethod
    def transform(self, series: pl.Series, out: FloatBlock) -> None:
        """Write the block for a batch column into ``out`` (a view of the output matrix)."""

    def encode(self, value: Any, row: list[float], at: int) -> None:
        """Write one record's value into ``row[at:at + width]`` (scalar kinds only)."""
        raise NotImplementedError(f"{type(self).__name__} encodes records with encode_many")

    def encode_many(self, values: Sequence[Any], out: FloatBlock) -> None:
        """Write many records' values, one per row of ``out`` (vector kinds only)."""
        raise NotImplementedError(f"{type(self).__name__} encodes records with encode")

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """The learned state, JSON-safe, with ``kind`` and ``column``."""

    @classmethod
    @abstractmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Inverse of :meth:`to_dict`."""
