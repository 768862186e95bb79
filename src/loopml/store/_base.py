"""What every part of the :class:`~loopml.store.Store` shares: sessions and the retrying write.

The store is one class assembled from one module per concept (``_store`` for connecting and
datasets, ``_runs``, ``_models``); each part inherits :class:`StoreBase` and writes through
:meth:`StoreBase._write_with_retry`, so every public write is one transaction that a concurrent
writer cannot corrupt. :class:`StoreBase` only declares the attributes ``Store.__init__`` sets.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import orjson
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from loopml.errors import NotFoundError, StoreError, did_you_mean
from loopml.store._engine import mask_url

WRITE_ATTEMPTS = 8
T = TypeVar("T")


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


class StoreBase:
    """Sessions and retrying writes over the engine that ``Store.__init__`` connects."""

    _db_url: str
    _writer: sessionmaker[Session]
    _reader: sessionmaker[Session]

    @contextmanager
    def session(self, *, write: bool = True) -> Iterator[Session]:
        """A session that commits when the block ends cleanly and rolls back on any error.

        ``write=True`` (the default) takes SQLite's write lock at the start of the transaction
        (``BEGIN IMMEDIATE``), which is what makes read-then-write blocks safe across processes;
        pass ``write=False`` for read-only work so it never waits on writers. Do not nest write
        sessions (or call writing store methods inside one): on SQLite the inner one waits for
        the outer one's lock and fails after the 30 s busy timeout.
        """
        factory = self._writer if write else self._reader
        with factory() as session, session.begin():
            yield session

    def _write_with_retry(self, what: str, fn: Callable[[Session], T]) -> T:
        """Run ``fn(session)`` in a write session, retrying when a concurrent writer wins a race.

        ``fn`` must be safe to run again from scratch: it reads what it needs inside the session.
        A race shows up as an :class:`IntegrityError` (a unique constraint caught a duplicate);
        rows that ``fn`` reads then updates should be read ``with_for_update()`` so PostgreSQL
        writers queue on them (SQLite's ``BEGIN IMMEDIATE`` already serializes writers).
        """
        for attempt in range(WRITE_ATTEMPTS):
            try:
                with self.session() as session:
                    return fn(session)
            except OperationalError as exc:
                reason = (str(exc.orig).strip().splitlines() or ["unknown error"])[0]
                raise StoreError(
                    f"could not {what} in {mask_url(self._db_url)!r}: {reason}; another process "
                    "may have held the write lock for over 30 s, or the server went away; retry"
                ) from exc
            except IntegrityError as exc:
                if attempt == WRITE_ATTEMPTS - 1:
                    raise StoreError(
                        f"could not {what} after {WRITE_ATTEMPTS} attempts because other writers "
                        f"kept conflicting: {exc.orig}; retry, or check for a runaway writer"
                    ) from exc
                time.sleep(random.uniform(0.005, 0.05) * (attempt + 1))
        raise AssertionError("unreachable")  # pragma: no cover


def unknown_name(kind: str, name: str, names: list[str], first_step: str) -> NotFoundError:
    """A :class:`NotFoundError` for a ``kind`` (dataset, model) called ``name`` that does not
    exist: the known names with a close match, or ``first_step`` when there are none yet."""
    if not names:
        return NotFoundError(f"no {kind} named '{name}': {first_step}")
    shown = ", ".join(names[:20]) + (", …" if len(names) > 20 else "")
    return NotFoundError(
        f"no {kind} named '{name}'{did_you_mean(name, names)} (known {kind}s: {shown})"
    )
