"""Reading the prediction log back: :func:`read_log`, :func:`decode_features`, :func:`log_folder`.

:func:`read_log` takes ``since`` inclusive and ``until`` exclusive (half-open windows tile without
double counting), prunes day folders outside the window, skips (and logs) a segment it cannot
read, and returns rows sorted by ``ts``. Only finished segments (``part-*.parquet``) are read.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from loopml.errors import DataError
from loopml.predlog.entry import _FRAME_SCHEMA, _check_deployment

if TYPE_CHECKING:
    from loopml.store import Store

logger = logging.getLogger(__name__)

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def log_folder(store: Store) -> Path:
    """Where servers of ``store``'s project write the prediction log (unless told otherwise)."""
    return Path(store.artifacts.root) / "predictions"


def read_log(
    folder: str | Path,
    deployment: str | None = None,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> pl.DataFrame:
    """The logged predictions under ``folder`` (of one deployment, or all) with
    ``since <= ts < until``, sorted by ``ts``; an empty frame of the same schema when none.

    Only finished segments are read: temp files of a writer that was killed are ignored, and a
    segment that cannot be read is skipped with an error in the log.
    """
    start, end = _utc(since), _utc(until)
    root = Path(folder)
    if deployment is not None:
        names = [_check_deployment(deployment)]
    else:
        names = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    files: list[Path] = []
    for name in names:
        days = root / name
        if not days.is_dir():
            continue
        for day in sorted(p.name for p in days.iterdir() if _DAY.match(p.name)):
            if (start and day < start.date().isoformat()) or (end and day > end.date().isoformat()):
                continue
            files.extend(
                path
                for path in sorted((days / day).glob("part-*.parquet"))
                if start is None or _written_at(path) >= start
            )
    if not files:
        return _FRAME_SCHEMA.to_frame()
    window = pl.lit(True)
    if start is not None:
        window &= pl.col("ts") >= start
    if end is not None:
        window &= pl.col("ts") < end
    try:
        frame = _scan(files).filter(window).collect()
    except (pl.exceptions.PolarsError, OSError):
        frames = []
        for file in files:  # find and skip the unreadable ones
            try:
                frames.append(_scan([file]).filter(window).collect())
            except (pl.exceptions.PolarsError, OSError) as exc:
                logger.error("skipping unreadable prediction log segment %s: %s", file, exc)
        frame = pl.concat(frames) if frames else _FRAME_SCHEMA.to_frame()
    return frame.sort("ts", maintain_order=True)


def logged_ids(folder: Path, deployment: str, ids: list[str]) -> set[str]:
    """Which of ``ids`` are in ``deployment``'s prediction log under ``folder`` (finished
    segments only; only the ``request_id`` column is read, an unreadable segment is skipped)."""
    files = sorted((folder / deployment).glob("*/part-*.parquet"))
    if not files or not ids:
        return set()

    def scan(paths: list[Path]) -> set[str]:
        frame = (
            pl.scan_parquet(paths, hive_partitioning=False, glob=False)
            .select("request_id")
            .filter(pl.col("request_id").is_in(ids))
            .collect()
        )
        return set(frame.get_column("request_id").to_list())

    try:
        return scan(files)
    except (pl.exceptions.PolarsError, OSError):
        found: set[str] = set()
        for file in files:
            try:
                found |= scan([file])
            except (pl.exceptions.PolarsError, OSError) as exc:
                logger.error("skipping unreadable prediction log segment %s: %s", file, exc)
        return found


def decode_features(
    frame: pl.DataFrame,
    dtypes: Mapping[str, pl.DataType | type[pl.DataType]] | None = None,
    *,
    column: str = "features",
    prefix: str = "",
) -> pl.DataFrame:
    """``frame`` with its JSON ``column`` expanded into one column per key (``prefix`` + key).

    With ``dtypes`` (e.g. the model's input schema) decoding is one Polars ``str.json_decode``
    with those types; without, the types are inferred from every row. A key missing from a row
    is null there. ``column="outputs"`` expands the outputs the same way.
    """
    if column not in frame.columns:
        raise DataError(f"no column '{column}' to decode; the frame has {frame.columns}")
    if dtypes is not None:
        struct = pl.Struct({name: dtype for name, dtype in dtypes.items()})
        decoded = frame.select(pl.col(column).str.json_decode(struct)).unnest(column)
    elif frame.height == 0:
        decoded = pl.DataFrame()
    else:
        lines = frame.get_column(column).fill_null("{}").str.join("\n").item()
        try:
            decoded = pl.read_ndjson(io.BytesIO(lines.encode()), infer_schema_length=None)
        except pl.exceptions.PolarsError as exc:
            raise DataError(
                f"cannot infer one type per key of '{column}' ({exc}); pass dtypes, e.g. "
                "decode_features(frame, {'distance': pl.Float64, 'carrier': pl.String})"
            ) from exc
    decoded = decoded.rename({name: prefix + name for name in decoded.columns})
    if clash := sorted(set(decoded.columns) & (set(frame.columns) - {column})):
        raise DataError(
            f"decoded keys {clash} clash with the log's columns; pass a prefix, e.g. "
            f"decode_features(frame, prefix='{column}.')"
        )
    return frame.drop(column).hstack(decoded)


def _written_at(path: Path) -> datetime:
    """When a segment was written, from its name; every row in it was logged before then, so a
    segment written before a window starts holds none of the window's rows."""
    try:
        return datetime.fromtimestamp(int(path.name.split("-")[1]) / 1e9, UTC)
    except (IndexError, ValueError):
        return datetime.max.replace(tzinfo=UTC)  # not our name: keep it


def _scan(files: list[Path]) -> pl.LazyFrame:
    return pl.scan_parquet(
        files,
        schema=_FRAME_SCHEMA,
        hive_partitioning=False,
        glob=False,
        missing_columns="insert",
        extra_columns="ignore",
    )


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
