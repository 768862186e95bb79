"""Durations in the spec: ``"200ms"``, ``"30s"``, ``"15m"``, ``"1h"``, ``"1d"``, ``"2w"``, or a
number of seconds, read to :class:`~datetime.timedelta` and written back in the largest whole
unit.

A field that the code cannot run with at zero, or at any value, carries its bounds with
:func:`within`: ``serving.log_flush_interval: 0s`` is refused when the spec is loaded, with the
range and what the field is for, instead of crashing ``loopml serve`` later. The CLI's duration
options (``loopml loop --interval``) read their values with the same :func:`parse_duration` and
:func:`bounded`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, PlainSerializer

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> timedelta:
    """Parse ``"200ms"``, ``"30s"``, ``"15m"``, ``"1h"``, ``"1d"``, ``"2w"``, or seconds."""
    if isinstance(value, timedelta):
        return value
    seconds: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match[1]) * _UNITS[match[2]]
    if seconds is None:
        raise ValueError(f"expected a duration such as '30s', '15m', '1h' or '1d', got {value!r}")
    try:
        return timedelta(seconds=seconds)
    except OverflowError:  # inf, or beyond timedelta's 999,999,999 days
        raise ValueError(
            f"expected a duration of at most {timedelta.max.days:,} days, got {value!r}"
        ) from None


def format_duration(value: timedelta) -> str:
    """The spec's spelling of ``value``: ``"1h"``, ``"90s"``, ``"200ms"``."""
    seconds = value.total_seconds()
    for unit in ("w", "d", "h", "m", "s"):
        if seconds >= _UNITS[unit] and seconds % _UNITS[unit] == 0:
            return f"{int(seconds // _UNITS[unit])}{unit}"
    return f"{seconds * 1000:g}ms"


Duration = Annotated[
    timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration, return_type=str)
]


def bounded(
    low: str, high: str | None = None, *, why: str, whole_seconds: bool = False
) -> Callable[[timedelta], timedelta]:
    """A check of a duration: at least ``low``, at most ``high`` (when given), a whole number of
    seconds when ``whole_seconds``; it returns the value, or raises :class:`ValueError` saying
    the range and ``why`` (what the value is for). The spec's fields use it through
    :func:`within`, the CLI's duration options through :func:`loopml.cli._common.duration`."""
    least, most = parse_duration(low), None if high is None else parse_duration(high)
    if most is None:
        expected = f"a duration of at least {low}"
    else:
        expected = f"a duration from {low} to {high}"
    if whole_seconds:
        expected += " in whole seconds"

    def check(value: timedelta) -> timedelta:
        whole = value.total_seconds() == int(value.total_seconds())
        if value < least or (most is not None and value > most) or (whole_seconds and not whole):
            raise ValueError(f"expected {expected} ({why})")
        return value

    return check


def within(
    low: str, high: str | None = None, *, why: str, whole_seconds: bool = False
) -> AfterValidator:
    """A validator for a :data:`Duration` field: at least ``low``, at most ``high`` (when given),
    a whole number of seconds when ``whole_seconds``. ``why`` says what the field is for."""
    return AfterValidator(bounded(low, high, why=why, whole_seconds=whole_seconds))
