"""How the replay cuts later data into windows, and which window it picks when none is given.

A window must hold enough labelled rows for monitoring to judge it (``monitoring.min_samples``,
the same floor the alert rules use) and the replay must not take forever: every window costs the
oracle a retrain, so at most :data:`MAX_WINDOWS` of them. Without ``--window`` or
``--window-rows``:

- with dates or times in the spec's ``time_column``, calendar months when they fit; else the
  first interval of :data:`LADDER` (shortest first, so the loop can react soonest) whose median
  window holds ``min_samples`` rows and that gives at most :data:`MAX_WINDOWS` windows;
- otherwise (no time column, or one of numbers or text, such as an integer year), windows of
  equal row counts in the column's order, as many as fit ``min_samples`` rows each (at most
  :data:`MAX_WINDOWS`).

Windows with no dates have no time either: they are named by their rows (and the time column's
values), never by made-up dates, and the loop's cooldown and weekly budget, counted in time, are
not applied in them (:attr:`Cuts.timed` is false); the :attr:`Cuts.note` says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import polars as pl

from loopml.errors import DataError
from loopml.spec import Retrain, Spec

DEFAULT = "1mo"
LADDER = ("1h", "1d", "1w", "1mo", "3mo", "6mo", "1y", "2y", "5y", "10y")
MAX_WINDOWS = 24
MIN_WINDOWS = 3  # the first is scored by the starting model; the loop needs later ones to pay
_WORDS = {"1mo": "monthly", "1d": "daily", "1w": "weekly", "1y": "yearly", "1h": "hourly"}


@dataclass(frozen=True)
class Cut:
    """One window: its rows, a label, and its span (``None`` when the data has no times)."""

    label: str
    rows: pl.DataFrame
    start: datetime | None
    end: datetime | None


@dataclass(frozen=True)
class Cuts:
    """The windows, how they were cut (``every`` or ``size`` rows), whether they carry real
    times (``timed``), and why this cut was chosen (``note``)."""

    windows: list[Cut]
    every: str | None
    size: int | None
    timed: bool
    note: str

    def to_dict(self) -> dict[str, Any]:
        return {"every": self.every, "rows": self.size, "timed": self.timed, "note": self.note}


def has_times(data: pl.DataFrame, spec: Spec) -> bool:
    """Whether the spec's time column is in ``data`` as dates or times."""
    time = spec.time_column
    return bool(time) and time in data.columns and data[time].dtype.is_temporal()


def cut(data: pl.DataFrame, spec: Spec, *, every: str | None, rows: int | None) -> Cuts:
    """``data`` in windows of ``every`` (a Polars interval by the time column: ``1mo``, ``2w``),
    of ``rows`` rows, or as the module doc chooses when neither is given."""
    if every is not None and rows is not None:
        raise DataError("the replay's windows: pass an interval or a row count, not both")
    floor = spec.monitoring.min_samples
    if every is not None:
        if not has_times(data, spec):
            raise DataError(
                f"--window needs the spec's time_column ({spec.time_column!r}) in the data as "
                f"dates or times, got {_kind(data, spec)}: pass --window-rows, or leave both out "
                "to let the replay choose windows of rows"
            )
        return Cuts(_calendar(data, spec, every), every, None, True, f"windows of {every} (asked)")
    if rows is not None:
        return _by_rows(data, spec, rows, f"windows of {rows:,} rows (asked)")
    if has_times(data, spec):
        monthly = _sizes(data, spec, DEFAULT)
        if _fits(monthly, floor):
            windows = _calendar(data, spec, DEFAULT)
            return Cuts(windows, DEFAULT, None, True, "monthly windows (the default)")
        for every in LADDER:
            sizes = _sizes(data, spec, every)
            if _fits(sizes, floor):
                word = _WORDS.get(every, f"{every}")
                return Cuts(
                    _calendar(data, spec, every), every, None, True,
                    f"{word} windows: monthly ones would be {_shape(monthly)}, and a window "
                    f"needs {floor:,} labelled rows (monitoring.min_samples) with at most "
                    f"{MAX_WINDOWS} windows; {every} gives {_shape(sizes)}",
                )  # fmt: skip
        why = f"no calendar interval gives {MIN_WINDOWS}–{MAX_WINDOWS} windows of {floor:,} rows"
    else:
        why = f"the time column {spec.time_column!r} holds {_kind(data, spec)}, not dates or times"
        if not spec.time_column:
            why = "the spec has no time_column"
    count = max(min(data.height // max(floor, 1), MAX_WINDOWS), min(MIN_WINDOWS, data.height))
    size = data.height // max(count, 1)  # equal windows, the first ones a row longer
    note = f"{count} windows of {size:,}{'' if data.height % count == 0 else '+'} rows: {why}"
    return _by_rows(data, spec, size, note, count=count)


def _sizes(data: pl.DataFrame, spec: Spec, every: str) -> list[int]:
    """The row counts of ``data``'s windows of ``every``, smallest first (nothing cut yet)."""
    time = spec.time_column
    assert time is not None
    keys = data.select(pl.col(time).dt.truncate(every).alias("_start"))
    counts = keys.group_by("_start").len()["len"].to_list()
    return sorted(int(c) for c in counts)


def _fits(sizes: list[int], floor: int) -> bool:
    """Between :data:`MIN_WINDOWS` and :data:`MAX_WINDOWS` windows, the median holding
    ``floor`` rows."""
    return MIN_WINDOWS <= len(sizes) <= MAX_WINDOWS and sizes[len(sizes) // 2] >= floor


def _shape(sizes: list[int]) -> str:
    if not sizes:
        return "no window"
    return f"{len(sizes)} windows of median {sizes[len(sizes) // 2]:,} rows"


def _kind(data: pl.DataFrame, spec: Spec) -> str:
    time = spec.time_column
    if not time:
        return "no time column"
    if time not in data.columns:
        return f"no column {time!r}"
    return f"values of type {data[time].dtype}"


def _calendar(data: pl.DataFrame, spec: Spec, every: str) -> list[Cut]:
    time = spec.time_column
    assert time is not None
    try:
        keyed = data.sort(time, maintain_order=True).with_columns(
            pl.col(time).dt.truncate(every).alias("_start"),
            pl.col(time).dt.truncate(every).dt.offset_by(every).alias("_end"),
        )
    except pl.exceptions.PolarsError as exc:
        raise DataError(
            f"--window: expected an interval such as 1mo, 2w, 7d or 12h; got {every!r}"
        ) from exc
    windows = []
    for (start, end), part in keyed.group_by("_start", "_end", maintain_order=True):
        begin = _utc(start)
        label = begin.date().isoformat() if begin.time() == datetime.min.time() else str(begin)
        windows.append(Cut(label, part.drop("_start", "_end"), begin, _utc(end)))
    return windows


def _by_rows(
    data: pl.DataFrame, spec: Spec, size: int, note: str, *, count: int | None = None
) -> Cuts:
    """Runs of ``size`` rows in the time column's order (when it has one), or ``count`` runs
    of as equal sizes as the rows allow (no short last one)."""
    time = spec.time_column
    ordered = bool(time) and time in data.columns
    if ordered:
        data = data.sort(time, maintain_order=True, nulls_last=False)
    timed = has_times(data, spec)
    if not timed:
        note += (
            "; no dates, so the cooldown, weekly budget and schedule (counted in time) are not "
            "applied"
        )
    if count is None:
        bounds = [*range(0, data.height, size), data.height]
    else:
        bounds = [i * data.height // count for i in range(count + 1)]
    windows = []
    for offset, stop in pairwise(bounds):
        part = data.slice(offset, stop - offset)
        label = f"rows {offset + 1:,}–{offset + part.height:,}"
        start = end = None
        if timed:
            assert time is not None
            start, end = _utc(part[time].min()), _utc(part[time].max())
            label = start.date().isoformat()
        elif ordered:
            assert time is not None
            first, last = str(part[time].min()), str(part[time].max())
            label += f" ({time} {first})" if first == last else f" ({time} {first}–{last})"
        windows.append(Cut(label, part, start, end))
    return Cuts(windows, None, size, timed, note)


def clock(cut: Cut, number: int) -> tuple[datetime, datetime]:
    """The span the loop's policy and monitoring see for window ``number``: its own, or for
    windows without times a stand-in a second long that is never shown (with the cooldown and
    budget off, see :func:`untimed_policy`, nothing counts in it)."""
    if cut.start is not None and cut.end is not None:
        return cut.start, cut.end
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    return epoch + timedelta(seconds=number - 1), epoch + timedelta(seconds=number)


def _utc(moment: Any) -> datetime:
    if not isinstance(moment, datetime):
        moment = datetime.combine(moment, datetime.min.time())
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def untimed_policy(policy: Retrain) -> Retrain:
    """``policy`` for windows without times: no cooldown and no weekly budget (they count in
    time the data does not have); the labels rule still keeps a rejected retrain from being
    tried again on the same data."""
    return policy.model_copy(update={"cooldown": timedelta(0), "max_per_week": 1 << 30})
