"""What the protocol adapters share: JSON reading, row and scalar checks, describing a value."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson

from loopml.errors import RequestError

_SCALARS = (str, int, float, bool, type(None))
_MISSING: Any = object()


def _what(value: Any) -> str:
    """Describe a JSON value the way an error message should: its JSON type, strings shown."""
    if value is _MISSING:
        return "nothing"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return f"a string ({value if len(value) <= 40 else value[:37] + '...'!r})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(f"'{name}'" for name in names)


def _check_scalar(value: Any, where: str) -> None:
    if not isinstance(value, _SCALARS):
        raise RequestError(
            f"{where}: expected a scalar (number, string, boolean or null), got {_what(value)}"
        )


def _check_rows(count: int, max_rows: int, where: str) -> None:
    if count == 0:
        raise RequestError(f"{where}: expected at least one row, got none")
    if count > max_rows:
        raise RequestError(
            f"{where}: expected at most {max_rows} rows per request, got {count}; "
            "split the request into smaller batches",
            status=413,
        )


def _check_unique(names: list[str], where: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise RequestError(f"{where}: expected unique column names, got '{name}' twice")
        seen.add(name)


def _load_json(body: bytes, hint: str = "") -> Any:
    try:
        return orjson.loads(body.removeprefix(b"\xef\xbb\xbf"))
    except orjson.JSONDecodeError as exc:
        raise RequestError(f"body: expected valid JSON, got a parse error: {exc}{hint}") from exc


def _plain(value: Any) -> Any:
    """A NumPy scalar as the Python value JSON encoders understand; anything else unchanged."""
    return value.item() if isinstance(value, np.generic) else value
