"""Reading data sources: CSV, Parquet, or a SQL query through a SQLAlchemy URL (read-only:
:mod:`loopml.data.sql`).

Every failure becomes a :class:`~loopml.errors.DataError` that names the source, says what was
expected and what was found, and how to fix it: a missing file suggests close file names, a
ragged CSV names the first bad line, an empty file or a query with no rows says so.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import polars as pl

from loopml.data.sql import masked, read_sql
from loopml.errors import DataError, did_you_mean

_CSV = {".csv", ".tsv", ".txt"}
_PARQUET = {".parquet", ".pq"}
RAGGED_CHECK_BYTES = 64 * 1024 * 1024
_SQL_SCHEMES = ("sqlite:", "postgresql", "postgres:", "mysql", "mssql", "oracle", "duckdb:")


def is_sql_url(source: str) -> bool:
    """Whether ``source`` looks like a SQLAlchemy database URL rather than a file path."""
    return source.lower().startswith(_SQL_SCHEMES)


def is_source(text: str) -> bool:
    """Whether ``text`` names something :func:`read_source` reads rather than a stored dataset
    version (``flights@3``): an existing path, a name with a data file's suffix or a folder in
    it, or a database URL."""
    path = Path(text)
    suffix = path.suffix.lower()
    return path.exists() or suffix in _CSV | _PARQUET or "/" in text or is_sql_url(text)


def read_source(source: str | Path, *, query: str | None = None) -> pl.DataFrame:
    """Read a whole source into a Polars frame.

    ``source`` is a CSV/TSV or Parquet path, or a SQLAlchemy URL; a URL needs ``query`` (a
    ``SELECT`` statement or a bare table name), run read-only (:mod:`loopml.data.sql`). The
    result has at least one row and one column.
    """
    text = str(source)
    frame = read_sql(text, query) if is_sql_url(text) else _read_file(Path(text), query)
    if frame.width == 0:
        raise DataError(
            f"{describe_source(text)} has no columns: expected a header row naming the columns"
        )
    if frame.height == 0:
        raise DataError(
            f"{describe_source(text)} has columns ({', '.join(frame.columns[:8])}) but no rows: "
            "expected at least one row of data"
        )
    return frame


def describe_source(source: str) -> str:
    """The source as shown to users: a database URL with its password masked."""
    return masked(source) if is_sql_url(source) else source


def _read_file(path: Path, query: str | None) -> pl.DataFrame:
    if query is not None:
        raise DataError(f"--query applies to database URLs, not to the file {path}")
    if not path.exists():
        parent = path.parent if str(path.parent) else Path(".")
        nearby = [p.name for p in parent.iterdir()] if parent.is_dir() else []
        raise DataError(
            f"no such file: {path}{did_you_mean(path.name, nearby)} "
            "(expected a CSV or Parquet file, or a database URL such as sqlite:///file.db)"
        )
    if path.is_dir():
        parts = sorted(path.glob("*.parquet"))
        if not parts:
            raise DataError(f"{path} is a folder with no .parquet files in it")
        return _read_parquet(path / "*.parquet")
    if not os.access(path, os.R_OK):
        raise DataError(f"cannot read {path}: permission denied")
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty (0 bytes): expected a CSV or Parquet file with data")
    suffix = path.suffix.lower()
    if suffix in _PARQUET:
        return _read_parquet(path)
    if suffix in _CSV:
        return _read_csv(path, separator="\t" if suffix == ".tsv" else ",")
    with path.open("rb") as handle:
        magic = handle.read(4)
    if magic == b"PAR1":
        return _read_parquet(path)
    raise DataError(
        f"cannot tell the format of {path} from its suffix '{suffix}': "
        "expected .csv, .tsv, .parquet or .pq"
    )


def _read_parquet(path: Path) -> pl.DataFrame:
    try:
        return pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        raise DataError(
            f"cannot read {path} as Parquet ({_first_line(exc)}): the file is not Parquet, "
            "or it is truncated or corrupted; re-export it"
        ) from exc


def _read_csv(path: Path, separator: str) -> pl.DataFrame:
    """Read a CSV; a ragged row is an error naming its line, never silently padded with nulls.

    Polars refuses rows with too many fields but pads short ones; files up to
    ``RAGGED_CHECK_BYTES`` are scanned for short rows too (larger ones rely on validation's
    missing-value rules to catch the padding).
    """
    options = {"separator": separator, "try_parse_dates": True, "infer_schema_length": 10_000}
    try:
        frame = pl.read_csv(path, **options)  # type: ignore[arg-type]
    except pl.exceptions.ComputeError as exc:
        _raise_if_ragged(path, separator, exc)
        if "parse" not in str(exc).lower():
            raise DataError(f"cannot parse {path} as CSV: {_first_line(exc)}") from exc
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {path} as CSV: {_first_line(exc)}") from exc
    else:
        if path.stat().st_size <= RAGGED_CHECK_BYTES:
            _raise_if_ragged(path, separator, None)
        return frame
    # A value late in the file did not fit the type guessed from the first rows: read the
    # whole file to infer types (the column becomes text; validation reports the bad values).
    try:
        return pl.read_csv(
            path, separator=separator, try_parse_dates=True, infer_schema_length=None
        )
    except pl.exceptions.PolarsError as exc:
        raise DataError(f"cannot parse {path} as CSV: {_first_line(exc)}") from exc


def _raise_if_ragged(path: Path, separator: str, cause: BaseException | None) -> None:
    ragged = _first_ragged_line(path, separator)
    if ragged is not None:
        line, expected, got = ragged
        raise DataError(
            f"{path}:{line}: expected {expected} fields (as in the header), got {got}; "
            "fix that row (a stray separator or an unquoted value?)"
        ) from cause


def _first_ragged_line(path: Path, separator: str) -> tuple[int, int, int] | None:
    """(line number, header field count, that line's field count) of the first ragged row."""
    try:
        with path.open(newline="", encoding="utf-8", errors="replace") as handle:
            reader = csv.reader(handle, delimiter=separator)
            header = next(reader, [])
            for row in reader:
                if row and len(row) != len(header):
                    return reader.line_num, len(header), len(row)
    except csv.Error:
        return None
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
