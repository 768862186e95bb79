"""The time column understood or refused: raw values read into dates by the spec's ``time_format``.

:func:`infer_time_format` finds the one rule (see :mod:`loopml.spec.time_format`) that reads
every value of a column; ``loopml init`` records it in the spec, and :func:`with_time_column`
applies it wherever a frame enters a project (adding a dataset version, validating, simulating),
so training, validation and ``simulate`` order rows by the same dates.

Inference holds on unseen data because it asks the values, not the column's name:

- a column the source already types as dates or datetimes needs no rule;
- a rule is accepted only when it reads **every** non-missing value (one unreadable value is a
  mixed column, and a guess would order it wrongly);
- integers are read by their digit count, which is unambiguous: 4 digits are years (``%Y``), 6
  are ``YYYYMM``, 8 are ``YYYYMMDD``; 9–10 digits are epoch seconds (1973–2286) and 12–13
  epoch milliseconds (1973–2286);
- text is tried against common forms (ISO, month names such as ``Jan-2018``, ``YYYY-MM``,
  day/month/year in either order); when two forms read every value but give different dates
  (``03/04/2018``), the column is refused as ambiguous rather than guessed;
- anything else (``spring``, period numbers 1…40, a time of day) cannot be ordered as dates and
  is refused, with examples of what was seen and how to fix it (convert the column, name the
  rule with ``--time-format``, or leave the time column out).
"""

from __future__ import annotations

import polars as pl

from loopml.errors import DataError
from loopml.spec import Spec
from loopml.spec.time_format import CLOCK_DIRECTIVES, EPOCH_UNITS, directives

#: text forms tried in order; the first of several that read every value alike wins
TEXT_FORMATS = (
    "%Y-%m-%d",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d",
    "%Y-%m",
    "%Y/%m",
    "%Y",
    "%Y%m",
    "%Y%m%d",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d.%m.%Y",
    "%d-%m-%Y",
    "%m-%d-%Y",
    "%d/%m/%Y %H:%M",
    "%m/%d/%Y %H:%M",
    "%m/%Y",
    "%b-%Y",
    "%b %Y",
    "%B %Y",
    "%B-%Y",
    "%Y-%b",
    "%b-%y",
    "%d %b %Y",
    "%d-%b-%Y",
    "%d-%b-%y",
    "%b %d, %Y",
    "%B %d, %Y",
    "%d %B %Y",
)
#: integer forms by digit count (epochs by range: 1e8 s and 1e11 ms are both 1973-03-03)
DIGIT_FORMATS = {4: "%Y", 6: "%Y%m", 8: "%Y%m%d"}
EPOCH_RANGES = {"epoch_s": (1e8, 1e10), "epoch_ms": (1e11, 1e13)}
#: dates outside these years are taken for a misread, not a date (inference only)
YEARS = (1000, 2999)
EXAMPLES = 5
SAMPLE_VALUES = 5_000
_HOW_TO_FIX = (
    "convert the column to dates (e.g. 2018-01-31) in the source, name its format with "
    "--time-format (a strftime pattern such as '%b-%Y', or epoch_s / epoch_ms), or leave the "
    "time column out (rows are then split in file order)"
)


def _as_text(values: pl.Series) -> pl.Series:
    """Strings to parse: text as is (trimmed), numbers by their decimal digits (2018.0 → 2018)."""
    if values.dtype == pl.String:
        return values.str.strip_chars()
    if values.dtype.is_float():
        whole = values.is_not_null() & (values == values.round(0))
        return pl.select(
            pl.when(whole).then(values.cast(pl.Int64, strict=False).cast(pl.String))
        ).to_series()
    return values.cast(pl.String)


def parse_times(values: pl.Series, time_format: str) -> pl.Series:
    """``values`` read by the rule ``time_format``: a Date series (a pattern without a clock
    part) or Datetime(us); values the rule cannot read are null (see :func:`read_times`)."""
    name = values.name
    if time_format in EPOCH_UNITS:
        if not values.dtype.is_numeric():
            values = values.cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False)
        scale = {"s": 1_000_000, "ms": 1_000}[EPOCH_UNITS[time_format]]
        micros = (values.cast(pl.Float64) * scale).round(0).cast(pl.Int64, strict=False)
        return micros.cast(pl.Datetime("us")).alias(name)
    found = set(directives(time_format))
    text, pattern = _as_text(values), time_format
    if not found & {"d", "e", "j"}:  # no day: the first of the month (of January without one)
        prefix = "01|" if found & {"m", "b", "B"} else "01|01|"
        text, pattern = prefix + text, ("%d|" if prefix == "01|" else "%m|%d|") + pattern
    if found & CLOCK_DIRECTIVES:
        return text.str.to_datetime(pattern, time_unit="us", strict=False).alias(name)
    return text.str.to_date(pattern, strict=False).alias(name)


def read_times(values: pl.Series, time_format: str) -> pl.Series:
    """``values`` read by ``time_format``, every value or a :class:`DataError` naming the ones
    it cannot read."""
    parsed = parse_times(values, time_format)
    bad = values.is_not_null() & parsed.is_null()
    if bad.any():
        rows = pl.int_range(1, values.len() + 1, eager=True).filter(bad).head(EXAMPLES)
        shown = ", ".join(f"row {r}: {values[r - 1]!r}" for r in rows.to_list())
        raise DataError(
            f"time column '{values.name}': time_format {time_format!r} cannot read "
            f"{int(bad.sum()):,} of {values.len() - values.null_count():,} values (e.g. {shown}); "
            "expected every value in that format: fix those values, or set time_format to the "
            "pattern they are written in"
        )
    return parsed


def _seen(values: pl.Series) -> str:
    """What a column holds, for a refusal: its type, distinct count and a few values."""
    nonnull = values.drop_nulls()
    sample = ", ".join(repr(v) for v in nonnull.unique(maintain_order=True).head(EXAMPLES))
    return f"{nonnull.n_unique():,} distinct {values.dtype} values such as {sample}"


def _plausible(parsed: pl.Series) -> bool:
    years = parsed.drop_nulls().dt.year()
    return years.len() > 0 and YEARS[0] <= int(years.min()) and int(years.max()) <= YEARS[1]  # type: ignore[arg-type]


def _number_format(values: pl.Series) -> str | None:
    """The rule for numbers (``values``: distinct, non-null): whole non-negative numbers by their
    digit count (years, YYYYMM, YYYYMMDD), else epoch seconds or milliseconds by their range."""
    whole = not values.dtype.is_float() or bool((values == values.round(0)).all())
    if whole and not bool((values < 0).any()):
        digits = values.cast(pl.Int64, strict=False).cast(pl.String).str.len_chars()
        count = int(digits[0]) if not digits.null_count() and digits.n_unique() == 1 else 0
        if count in DIGIT_FORMATS:
            parsed = parse_times(values, DIGIT_FORMATS[count])
            return DIGIT_FORMATS[count] if not parsed.null_count() and _plausible(parsed) else None
    low, high = float(values.min()), float(values.max())  # type: ignore[arg-type]
    return next((rule for rule, (a, b) in EPOCH_RANGES.items() if a <= low and high < b), None)


def _text_format(values: pl.Series) -> tuple[str | None, str]:
    """(the one text form that reads every value, or None; what the closest form read).

    Every form is tried on a sample of ``SAMPLE_VALUES`` distinct values; only the forms that
    read all of it are tried on every value, so a column of a million timestamps costs a few
    full parses, not one per form."""
    sample = values.sample(SAMPLE_VALUES, seed=0) if values.len() > SAMPLE_VALUES else values
    readers: list[tuple[str, pl.Series]] = []
    closest, most, tried = "", 0.0, 0
    for rule in TEXT_FORMATS:
        parsed = parse_times(sample, rule)
        if not parsed.null_count() and sample is not values:
            parsed = parse_times(values, rule)
        read = parsed.len() - parsed.null_count()
        if read == parsed.len() and _plausible(parsed):
            readers.append((rule, parsed.cast(pl.Datetime("us"))))
        elif read / parsed.len() > most:
            closest, most, tried = rule, read / parsed.len(), parsed.len()
    if not readers:
        read = round(most * tried)
        hint = f" (the closest form, {closest!r}, reads {read:,} of {tried:,} distinct values)"
        hint = hint if most else ""
        return None, hint
    first, dates = readers[0]
    rivals = [rule for rule, other in readers[1:] if not other.equals(dates)]
    if rivals:
        differ = values.filter(readers[0][1] != dict(readers)[rivals[0]])
        raise DataError(
            f"time column '{values.name}' is ambiguous: both {first!r} and {rivals[0]!r} read "
            f"every value, as different dates (e.g. {differ[0]!r}); expected one reading: pass "
            "--time-format with the right one (or set time_format in the spec)"
        )
    return first, ""


def infer_time_format(values: pl.Series) -> str | None:
    """The rule that reads every value of ``values`` as a date (None: already dates or
    datetimes), or a :class:`DataError` saying what was seen and how to fix it."""
    dtype = values.dtype
    if values.drop_nulls().len() == 0:
        raise DataError(
            f"time column '{values.name}' has no values: expected dates or times; {_HOW_TO_FIX}"
        )
    if dtype == pl.Date or isinstance(dtype, pl.Datetime):
        return None
    if dtype.is_temporal():
        raise DataError(
            f"time column '{values.name}' holds {dtype} values, which do not order rows across "
            f"days: expected dates or datetimes; {_HOW_TO_FIX}"
        )
    distinct = values.drop_nulls().unique()  # the order of values does not change the rule
    rule, hint = None, ""
    if dtype.is_numeric():
        rule = _number_format(distinct)
    elif dtype == pl.String:
        rule, hint = _text_format(distinct)
        if rule is None and bool(distinct.str.contains(r"^\s*\d{1,18}\s*$").all()):
            rule = _number_format(distinct.str.strip_chars().cast(pl.Int64))  # epochs as text
    if rule is None:
        raise DataError(
            f"time column '{values.name}' cannot be ordered as dates: got {_seen(values)}{hint}; "
            "expected dates or datetimes, month names (Jan-2018), YYYY-MM, integer years, "
            f"YYYYMMDD or epoch seconds; {_HOW_TO_FIX}"
        )
    return rule


def with_time_column(frame: pl.DataFrame, spec: Spec | None) -> pl.DataFrame:
    """``frame`` with the spec's time column read by its ``time_format`` (unchanged when the
    spec has none, the frame lacks the column, or the column holds dates already)."""
    if spec is None or not spec.time_column or not spec.time_format:
        return frame
    column = spec.time_column
    if column not in frame.columns or frame[column].dtype.is_temporal():
        return frame
    return frame.with_columns(read_times(frame[column], spec.time_format))


def describe_rule(time_format: str | None) -> str:
    """A rule as shown beside the time column in ``loopml init``'s table."""
    if time_format is None:
        return "dates as stored"
    if time_format in EPOCH_UNITS:
        return f"{'seconds' if time_format == 'epoch_s' else 'milliseconds'} since 1970"
    return f"read as dates with {time_format!r}"
