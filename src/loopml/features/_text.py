"""Text features: hashed TF-IDF, ``text_features`` columns per text field.

Term counts come from scikit-learn's ``HashingVectorizer(n_features=text_features,
alternate_sign=False, norm=None)`` (stateless, so nothing but its parameters is stored); the
inverse document frequencies are learned at fit with scikit-learn's smoothed formula
``ln((1 + n) / (1 + df)) + 1`` and stored as a JSON list; each row is then L2-normalised (an
empty text stays all zeros). Missing text (null, ``None``, NaN) is the empty string. Output
columns are ``<name>__tfidf_<i>``.

Every row is computed on its own (count, weight, then a sequential sum of squares per row in
scikit-learn's ``normalize``), so a text gives the same numbers alone or in a batch. The
tokenisation is scikit-learn's, so a package should be served with the scikit-learn version it
was trained with (the model package records the environment).

Record path cost: one vectoriser call, about 0.1 ms; :meth:`TextEncoder.encode_many` vectorises
a list of records in one call.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Self

import numpy as np
import polars as pl
from scipy import sparse
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.preprocessing import normalize

from loopml.errors import FeatureError
from loopml.features._base import Encoder, FloatBlock, Options, describe, only_missing, wrong_dtype


def to_text(column: str, value: Any) -> str:
    """One raw value as text ("" when missing); raises :class:`FeatureError` for non-strings."""
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    raise FeatureError(
        f"feature '{column}': expected text (a string), got {describe(value)}; "
        "send a string, or null when there is none"
    )


def column_texts(column: str, series: pl.Series) -> list[str]:
    """A batch column as a list of strings, "" where missing."""
    dtype = series.dtype
    if only_missing(series):
        return [""] * series.len()
    if isinstance(dtype, pl.Categorical | pl.Enum):
        series = series.cast(pl.String)
    elif dtype != pl.String:
        raise wrong_dtype(column, "text (strings)", dtype)
    return series.fill_null("").to_list()


class TextEncoder(Encoder):
    """``text_features`` hashed TF-IDF columns ``name__tfidf_<i>``."""

    kind = "text"
    scalar = False

    def __init__(self, column: str, idf: list[float]) -> None:
        super().__init__(column)
        self.idf = idf
        self._idf = np.asarray(idf, dtype=np.float64)
        self._vectorizer = HashingVectorizer(
            n_features=len(idf), alternate_sign=False, norm=None, dtype=np.float64
        )
        digits = len(str(len(idf) - 1))
        self._names = [f"{column}__tfidf_{i:0{digits}d}" for i in range(len(idf))]

    @property
    def names(self) -> list[str]:
        return self._names

    @classmethod
    def fit(cls, column: str, series: pl.Series, options: Options) -> Self:
        texts = column_texts(column, series)
        vectorizer = HashingVectorizer(
            n_features=options.text_features, alternate_sign=False, norm=None
        )
        counts = sparse.csr_matrix(vectorizer.transform(texts))
        counts.sum_duplicates()
        df = np.bincount(counts.indices, minlength=options.text_features)
        idf = np.log((1.0 + len(texts)) / (1.0 + df)) + 1.0
        return cls(column, [float(v) for v in idf])

    def _weights(self, texts: list[str], out: FloatBlock) -> None:
        matrix = sparse.csr_matrix(self._vectorizer.transform(texts), dtype=np.float64)
        matrix.sum_duplicates()
        matrix.data *= self._idf[matrix.indices]
        out[:] = normalize(matrix, norm="l2", copy=False).toarray()

    def transform(self, series: pl.Series, out: FloatBlock) -> None:
        self._weights(column_texts(self.column, series), out)

    def encode_many(self, values: Sequence[Any], out: FloatBlock) -> None:
        self._weights([to_text(self.column, value) for value in values], out)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "column": self.column, "idf": self.idf}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        idf = [float(v) for v in data["idf"]]
        if not idf:
            raise FeatureError(f"feature '{data['column']}': expected IDF weights, got none")
        return cls(str(data["column"]), idf)
