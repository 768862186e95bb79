"""The checks every repository of the :class:`~loopml.store.Store` applies to what it is given.

Values headed for a JSON column must serialize; dicts must be dicts; text must fit its column;
an unknown name is reported with the known ones and a close match.
"""

from __future__ import annotations

from typing import Any

import orjson

from loopml.errors import NotFoundError, StoreError, did_you_mean


def check_json(value: Any, field: str) -> Any:
    """Return ``value`` if it can be stored in a JSON column, else raise :class:`StoreError`."""
    try:
        orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)
    except TypeError as exc:
        raise StoreError(
            f"{field} must be JSON-serializable (dicts, lists, str, numbers), got: {exc}"
        ) from exc
    return value


def check_dict(value: dict[str, Any] | None, field: str) -> dict[str, Any]:
    """``value`` (``{}`` for ``None``) if it is a JSON-serializable dict, else a StoreError."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise StoreError(f"{field} must be a dict, got {type(value).__name__}: {value!r:.80}")
    return dict(check_json(value, field))


def check_text(value: str | None, field: str, *, max_length: int | None = None) -> str | None:
    """``value`` if it is ``None`` or a string within ``max_length``, else :class:`StoreError`."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise StoreError(f"{field} must be a string, got {type(value).__name__}: {value!r:.80}")
    if max_length is not None and len(value) > max_length:
        raise StoreError(
            f"{field} must be at most {max_length} characters, got {len(value)}: {value[:40]!r}…"
        )
    return value


def unknown_name(kind: str, name: str, names: list[str], first_step: str) -> NotFoundError:
    """A :class:`NotFoundError` for a ``kind`` (dataset, model) called ``name`` that does not
    exist: the known names with a close match, or ``first_step`` when there are none yet."""
    if not names:
        return NotFoundError(f"no {kind} named '{name}': {first_step}")
    shown = ", ".join(names[:20]) + (", …" if len(names) > 20 else "")
    return NotFoundError(
        f"no {kind} named '{name}'{did_you_mean(name, names)} (known {kind}s: {shown})"
    )
