"""The errors loopml raises: one root, a few domain subclasses.

Every message says what failed, what was expected, what was got and how to fix it. The CLI prints
the message and exits non-zero; library users catch :class:`LoopmlError`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class LoopmlError(Exception):
    """Root of every error loopml raises on purpose."""


class SpecError(LoopmlError):
    """The project spec (``loopml.yaml``) is missing, malformed or inconsistent with the data."""


class DataError(LoopmlError):
    """A data source cannot be read, is empty, or does not have the expected shape or columns."""


class StoreError(LoopmlError):
    """The metadata database or the artifact folder cannot be reached or holds no such record."""


class NotFoundError(StoreError):
    """A named record (dataset version, run, model) does not exist in the store."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return ``"; did you mean 'x'?"`` for the closest choice, or ``""`` when none is close."""
    matches = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{matches[0]}'?" if matches else ""


def unknown_column(name: str, columns: Iterable[str], *, where: str = "the data") -> DataError:
    """A :class:`DataError` for a column that is not in ``columns``, with a close-match hint."""
    columns = list(columns)
    shown = ", ".join(columns[:12]) + (", …" if len(columns) > 12 else "")
    return DataError(
        f"unknown column '{name}' in {where}{did_you_mean(name, columns)} (columns: {shown})"
    )
