"""The spec's ``time_format``: how the raw values of ``time_column`` are read into dates or times.

One rule, recorded in the spec, so that adding data, training, validation and ``simulate`` read
the time column the same way (:mod:`loopml.data.times` applies it). A rule is one of:

- ``epoch_s`` / ``epoch_ms``: numbers of seconds (milliseconds) since 1970-01-01 UTC, read as
  datetimes;
- a strftime pattern (``%b-%Y`` for ``Jan-2018``, ``%Y-%m``, ``%Y`` for integer years,
  ``%Y%m%d``, ``%d/%m/%Y %H:%M``). Numbers are read by their decimal digits (``2018`` with
  ``%Y``). A pattern without a day reads the first of the month; without a month, January. A
  pattern with no hour, minute or second gives dates, otherwise datetimes.

No ``time_format`` (the default) means the column is read as the source types it: a date or
datetime column already.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

EPOCH_UNITS = {"epoch_s": "s", "epoch_ms": "ms"}
#: strftime directives the parser (chrono, through Polars) reads
DIRECTIVES = frozenset("YymbBdjeHIMSfpzaAT%") | {".f"}
CLOCK_DIRECTIVES = frozenset("HIMSfpT") | {".f"}
_DIRECTIVE = re.compile(r"%(\.f|.)")


def directives(pattern: str) -> list[str]:
    """The directives of a strftime pattern, in order (``%b-%Y`` → ``["b", "Y"]``)."""
    return _DIRECTIVE.findall(pattern)


def check_time_format(value: str) -> str:
    """``value`` when it is a rule :mod:`loopml.data.times` can apply, else a ``ValueError``
    saying what rules look like."""
    if value in EPOCH_UNITS:
        return value
    found = directives(value)
    unknown = [f"%{d}" for d in found if d not in DIRECTIVES]
    if not found or unknown or not {"Y", "y"} & set(found):
        problem = (
            f"unknown directive(s) {', '.join(unknown)}"
            if unknown
            else "no year (%Y or %y) in it"
            if found
            else "no strftime directive in it"
        )
        raise ValueError(
            f"expected epoch_s, epoch_ms or a strftime pattern with a year such as '%b-%Y' "
            f"(Jan-2018), '%Y-%m', '%Y' or '%d/%m/%Y'; got {value!r} ({problem})"
        )
    return value


TimeFormat = Annotated[str, AfterValidator(check_time_format)]
