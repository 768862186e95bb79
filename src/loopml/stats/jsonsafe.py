"""JSON-safe floats and the array types the sketches share.

JSON has no NaN or infinity, yet a sketch of ``±inf`` values or a profile's infinite mean must
survive a round trip: non-finite floats are written as the strings ``"nan"``, ``"inf"`` and
``"-inf"`` and read back by :func:`parse_floats` (``float("inf")`` parses them).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def json_float(value: float | None) -> float | str | None:
    """A float as JSON allows it: finite floats as they are, ``inf``/``-inf``/``nan`` as strings."""
    if value is None or math.isfinite(value):
        return value
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


def json_floats(values: npt.NDArray[Any]) -> list[Any]:
    """A float array as a JSON-safe list (non-finite values as strings, see :func:`json_float`)."""
    out: list[Any] = values.tolist()
    for i in np.flatnonzero(~np.isfinite(values)).tolist():
        out[i] = json_float(out[i])
    return out


def parse_floats(values: Sequence[Any]) -> FloatArray:
    """Inverse of :func:`json_floats`."""
    return np.asarray(values, dtype=object).astype(np.float64).reshape(-1)
