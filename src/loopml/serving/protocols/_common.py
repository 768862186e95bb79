"""What the protocol adapters share: JSON reading, content types, row and scalar checks,
describing a value.

JSON is read by orjson. A body orjson refuses is read once more by the standard library with the
tokens ``NaN``, ``Infinity`` and ``-Infinity`` (which pandas' ``to_json`` and MLflow's Python
client write for missing values) as ``null``, and kept only when that is all it needed: the
result must be something orjson could have written (no lone surrogates, no integer beyond 64
bits), else the original parse error stands. A number literal beyond float64 (``1e999``) is read
as infinity there, which the input contract counts as missing like any non-finite number.
"""

from __future__ import annotations

import json
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


def loads(body: bytes) -> Any:
    """``body`` as JSON, with ``NaN``/``Infinity``/``-Infinity`` read as ``null`` (see the module
    doc); raises :class:`orjson.JSONDecodeError` for anything else that is not JSON."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        try:
            document = json.loads(body, parse_constant=lambda _: None)
            orjson.dumps(document)  # only what orjson itself accepts, besides the tokens
        except (ValueError, TypeError, RecursionError):
            raise exc from None
        return document


def _load_json(body: bytes, hint: str = "") -> Any:
    try:
        return loads(body.removeprefix(b"\xef\xbb\xbf"))
    except orjson.JSONDecodeError as exc:
        raise RequestError(f"body: expected valid JSON, got a parse error: {exc}{hint}") from exc


def check_media_type(content_type: str | None, allowed: Sequence[str]) -> str:
    """The media type of a ``Content-Type`` header, if it is one of ``allowed`` with at most a
    ``charset=utf-8`` parameter; else a :class:`RequestError` with status 415."""
    expected = "expected " + " or ".join(allowed)
    fix = f"; send the body with 'Content-Type: {allowed[0]}'"
    if not content_type or not content_type.strip():
        raise RequestError(f"Content-Type: {expected}, got none{fix}", status=415)
    mime, *parameters = (part.strip() for part in content_type.split(";"))
    mime = mime.lower()
    if mime not in allowed:
        raise RequestError(f"Content-Type: {expected}, got '{mime}'{fix}", status=415)
    for parameter in filter(None, parameters):
        key, _, value = parameter.partition("=")
        key, value = key.strip().lower(), value.strip().strip('"').lower()
        if key != "charset":
            raise RequestError(
                f"Content-Type: expected no parameter but charset=utf-8, got '{key}'", status=415
            )
        if value not in ("utf-8", "utf8"):
            raise RequestError(f"Content-Type: expected charset=utf-8, got '{value}'", status=415)
    return mime


def _plain(value: Any) -> Any:
    """A NumPy scalar as the Python value JSON encoders understand; anything else unchanged."""
    return value.item() if isinstance(value, np.generic) else value
