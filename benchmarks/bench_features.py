"""Feature-pipeline speed on the flights feature set (~25 features): the serving path and batches.

Fits on January–March (80,789 rows), then times on April rows: ``transform_record`` (one dict
of Python objects, and one decoded from JSON: the serving hot path), ``transform_records``
(1,000 dicts), ``transform`` (a 10,000-row frame), ``fit``, and loading the JSON document. Each
figure is the best of ``--repeat`` timeit runs (the least disturbed by other processes).

    python benchmarks/bench_features.py [--repeat 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import timeit
from collections.abc import Callable
from typing import Any

import orjson
import polars as pl
from rich.console import Console
from rich.table import Table

from loopml.datasets import flights
from loopml.features import FeaturePipeline
from loopml.spec import Features

FEATURES = Features(
    numeric=[
        "distance", "temp", "dewp", "humid", "wind_dir", "wind_speed", "wind_gust", "precip",
        "pressure", "visib", "plane_year", "engines", "seats", "hour", "minute", "day_of_week",
        "month", "day",
    ],
    categorical=["carrier", "origin", "dest", "tailnum", "plane_type"],
    datetime=["scheduled_departure"],
)  # fmt: skip


def best_seconds(step: Callable[[], Any], number: int, repeat: int) -> float:
    """Seconds per call: the best of ``repeat`` runs of ``number`` calls."""
    return min(timeit.repeat(step, number=number, repeat=repeat)) / number


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    table_all = flights(months=[1, 2, 3, 4])
    train = table_all.filter(pl.col("month") <= 3)
    april = table_all.filter(pl.col("month") == 4)
    batch = april.head(10_000)
    records = april.head(1_000).select(FEATURES.all).rows(named=True)
    record = records[0]
    decoded = orjson.loads(orjson.dumps(record))  # as serving sees it: the datetime is a string
    pipeline = FeaturePipeline(FEATURES).fit(train)
    document = orjson.dumps(pipeline.to_dict())

    steps: list[tuple[str, Callable[[], Any], int, int | None]] = [
        ("transform_record (1 dict)", lambda: pipeline.transform_record(record), 20_000, 1),
        (
            "transform_record (1 JSON-decoded dict)",
            lambda: pipeline.transform_record(decoded),
            20_000,
            1,
        ),
        ("transform_records (1,000 dicts)", lambda: pipeline.transform_records(records), 20, 1000),
        ("transform (10,000-row frame)", lambda: pipeline.transform(batch), 20, batch.height),
        (f"fit ({train.height:,} rows)", lambda: FeaturePipeline(FEATURES).fit(train), 3, None),
        (
            "from_dict(orjson.loads(...))",
            lambda: FeaturePipeline.from_dict(orjson.loads(document)),
            200,
            None,
        ),
    ]
    figures = [
        (name, best_seconds(step, number, args.repeat), rows) for name, step, number, rows in steps
    ]
    if args.json:
        seconds = {name: value for name, value, _ in figures}
        print(
            json.dumps(
                {
                    "outputs": pipeline.n_features_out_,
                    "json_bytes": len(document),
                    "seconds": seconds,
                },
                indent=2,
            )
        )
        return
    title = (
        f"feature pipeline: {len(FEATURES.all)} inputs → {pipeline.n_features_out_} outputs, "
        f"{len(document):,} bytes of JSON"
    )
    table = Table(title=title)
    table.add_column("step")
    table.add_column("per call", justify="right")
    table.add_column("per row", justify="right")
    for name, value, rows in figures:
        per_call = f"{value * 1e6:.1f} µs" if value < 1e-3 else f"{value * 1e3:.2f} ms"
        per_row = f"{value / rows * 1e6:.2f} µs" if rows else ""
        table.add_row(name, per_call, per_row)
    Console().print(table)


if __name__ == "__main__":
    main()
