"""Data-stage speed: profiling and validation on the flights data resampled to 1M and 5M rows.

Peers in one run, on the same frames: whylogs (profiling) and pandera's Polars backend
(validation, the same checks as the inferred schema). Peak memory is measured per step as the
growth of the process's peak RSS over its RSS before the step (``/proc/self/clear_refs`` resets
the peak), against the frame's in-memory size.

    python benchmarks/bench_data.py [--rows 1000000 5000000] [--repeat 3] [--no-peers]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
from rich.console import Console
from rich.table import Table

from loopml.data.profiling import profile_frame
from loopml.data.schema import Schema, infer_schema
from loopml.data.validate import validate
from loopml.datasets import flights

COLUMNS = [
    "carrier",
    "origin",
    "dest",
    "tailnum",
    "distance",
    "hour",
    "temp",
    "dewp",
    "humid",
    "wind_speed",
    "pressure",
    "seats",
]
ROOT = Path(__file__).resolve().parents[1]
console = Console()


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def measure(step: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """(median seconds, peak RSS growth in bytes, last result) over ``repeat`` runs."""
    times, peaks, result = [], [], None
    for _ in range(repeat):
        gc.collect()
        with contextlib.suppress(OSError):
            Path("/proc/self/clear_refs").write_text("5")
        before = _rss_kib("VmRSS")
        started = time.perf_counter()
        result = step()
        times.append(time.perf_counter() - started)
        peaks.append(max(0, _rss_kib("VmHWM") - before) * 1024)
    return statistics.median(times), max(peaks), result


def frame_of(rows: int) -> pl.DataFrame:
    base = flights().select(COLUMNS)
    return base.sample(rows, with_replacement=True, seed=rows).rechunk()


def whylogs_peer(frame: pl.DataFrame) -> tuple[float, float]:
    """whylogs' time and peak memory on ``frame``, in its own environment (it needs NumPy 1)."""
    python = ROOT / ".venv-peers" / "bin" / "python"
    if not python.exists():
        raise SystemExit(f"{python} is missing: run `make bench`, which creates it")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "frame.parquet"
        frame.write_parquet(path)
        out = subprocess.run(
            [str(python), str(ROOT / "benchmarks" / "_whylogs_peer.py"), str(path)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    return result["seconds"], result["peak_bytes"]


def pandera_schema(schema: Schema) -> Any:
    """The same checks as loopml's inferred schema, as a pandera Polars schema."""
    import pandera.polars as pa

    columns = {}
    for rule in schema.columns.values():
        checks = []
        if rule.min is not None and rule.max is not None:
            checks.append(pa.Check.in_range(rule.min, rule.max))
        if rule.allowed is not None:
            checks.append(pa.Check.isin(rule.allowed))
        dtype = pl.Float64 if rule.kind == "numeric" else pl.String
        columns[rule.name] = pa.Column(dtype, checks=checks, nullable=rule.nullable, coerce=True)
    return pa.DataFrameSchema(columns)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-peers", action="store_true", help="skip whylogs and pandera")
    args = parser.parse_args()

    table = Table(title="data stage: flights resampled, 12 columns")
    for name in ("rows", "step", "tool", "seconds", "peak MB", "peak / frame", "vs loopml"):
        table.add_column(name, justify="left" if name in ("step", "tool") else "right")
    for rows in args.rows:
        frame = frame_of(rows)
        size = frame.estimated_size()
        console.print(f"{rows:,} rows: frame {size / 1e6:.0f} MB in memory")

        seconds, peak, profile = measure(lambda f=frame: profile_frame(f), args.repeat)
        table.add_row(
            f"{rows:,}",
            "profile",
            "loopml",
            f"{seconds:.3f}",
            f"{peak / 1e6:.0f}",
            f"{peak / size:.2f}×",
            "",
        )
        base_profile = seconds
        schema = infer_schema(profile)
        seconds, peak, report = measure(lambda f=frame, s=schema: validate(f, s), args.repeat)
        assert report.ok, report.to_dict()
        table.add_row(
            f"{rows:,}",
            "validate",
            "loopml",
            f"{seconds:.3f}",
            f"{peak / 1e6:.0f}",
            f"{peak / size:.2f}×",
            "",
        )
        base_validate = seconds

        if not args.no_peers:
            import pandera.polars  # noqa: F401  (import cost outside the timing)

            checker = pandera_schema(schema)
            seconds, peak, _ = measure(
                lambda f=frame, c=checker: c.validate(f, lazy=True), args.repeat
            )
            table.add_row(
                f"{rows:,}",
                "validate",
                "pandera (polars)",
                f"{seconds:.3f}",
                f"{peak / 1e6:.0f}",
                f"{peak / size:.2f}×",
                f"{seconds / base_validate:.1f}× slower",
            )
            if rows <= 1_000_000:  # whylogs needs ~20 s per million rows here
                seconds, peak = whylogs_peer(frame)
                table.add_row(
                    f"{rows:,}",
                    "profile",
                    "whylogs",
                    f"{seconds:.3f}",
                    f"{peak / 1e6:.0f}",
                    f"{peak / size:.2f}×",
                    f"{seconds / base_profile:.1f}× slower",
                )
        del frame
    console.print(table)


if __name__ == "__main__":
    main()
