"""Model-stage speed: loading a package, and scoring one record or a batch in-process.

Trains the demo model (LightGBM on January–March flights) into a temporary store, then measures in
one run:

- loading the package from the registry (checksums verified), median of 10;
- one record: JSON-like dict → feature row → probability (``TrainedModel.score_records``), p50 and
  p99 over 2,000 calls, against LightGBM's own ``Booster.predict`` on an already-encoded one-row
  NumPy array (the floor);
- 10,000 rows: ``score_frame`` (Polars frame → features → probabilities) per row, against
  ``Booster.predict`` on the already-encoded matrix.

    python benchmarks/bench_model.py
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl
from rich.console import Console
from rich.table import Table

from loopml.data.versions import add_frame
from loopml.datasets import flights
from loopml.modeling.train import train
from loopml.registry import load_package, register
from loopml.spec import parse_spec
from loopml.store import Store

SPEC = """\
name: flights
task: binary
target: late
positive_class: true
id_column: flight_id
time_column: scheduled_departure
features:
  numeric: [distance, hour, minute, day_of_week, day, temp, dewp, humid, wind_dir, wind_speed,
            wind_gust, precip, pressure, visib, plane_year, engines, seats]
  categorical: [carrier, origin, dest, tailnum, plane_type]
metric: {name: roc_auc}
model: {candidates: [lightgbm]}
"""
console = Console()


def timed(fn: object, repeat: int) -> list[float]:
    """Seconds per call of ``fn`` over ``repeat`` calls."""
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()  # type: ignore[operator]
        out.append(time.perf_counter() - started)
    return out


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def main() -> None:
    data = flights()
    q1, april = data.filter(pl.col("month") <= 3), data.filter(pl.col("month") == 4)
    spec = parse_spec(SPEC)
    with (
        tempfile.TemporaryDirectory() as folder,
        Store(f"sqlite:///{Path(folder) / 'loopml.db'}", Path(folder) / "artifacts") as store,
    ):
        with console.status("training the demo model (LightGBM on January–March)…"):
            version = add_frame(store, q1, name="flights", source="bench")
            record, _ = register(store, spec, train(store, spec, version))
        load_times = timed(lambda: load_package(store, record.ref), 10)
        model = load_package(store, record.ref).model
        booster = model.estimator
        records = april.head(2000).to_dicts()
        encoded = model.pipeline.transform(april.head(2000))

        def one_record(i: list[int] = [0]) -> None:  # noqa: B006 (a cheap cycling counter)
            i[0] = (i[0] + 1) % len(records)
            model.score_records([records[i[0]]])

        def floor(i: list[int] = [0]) -> None:  # noqa: B006
            i[0] = (i[0] + 1) % len(encoded)
            booster.predict(encoded[i[0] : i[0] + 1], num_threads=1)

        for fn in (one_record, floor):
            timed(fn, 200)  # warm up
        ours, theirs = timed(one_record, 2000), timed(floor, 2000)
        batch = april.head(10_000)
        batch_X = model.pipeline.transform(batch)
        ours_batch = statistics.median(timed(lambda: model.score_frame(batch), 7)) / batch.height
        floor_batch = (
            statistics.median(timed(lambda: booster.predict(batch_X, num_threads=1), 7))
            / batch.height
        )

    table = Table(
        title=f"model stage: {record.ref} (LightGBM, {len(model.pipeline.feature_names_)} features)"
    )
    for name in ("measure", "loopml", "LightGBM floor", "ratio", "target"):
        table.add_column(name, justify="left" if name == "measure" else "right")
    table.add_row(
        "load package (median)", f"{statistics.median(load_times) * 1e3:.1f} ms", "", "", "< 200 ms"
    )
    table.add_row(
        "one record p50",
        f"{pct(ours, 50) * 1e6:.0f} µs",
        f"{pct(theirs, 50) * 1e6:.0f} µs",
        f"{pct(ours, 50) / pct(theirs, 50):.2f}×",
        "≤ 3×",
    )
    table.add_row(
        "one record p99",
        f"{pct(ours, 99) * 1e6:.0f} µs",
        f"{pct(theirs, 99) * 1e6:.0f} µs",
        f"{pct(ours, 99) / pct(theirs, 99):.2f}×",
        "",
    )
    table.add_row(
        "10,000 rows, per row",
        f"{ours_batch * 1e6:.2f} µs",
        f"{floor_batch * 1e6:.2f} µs",
        f"{ours_batch / floor_batch:.2f}×",
        "≤ 1.5×",
    )
    console.print(table)


if __name__ == "__main__":
    main()
