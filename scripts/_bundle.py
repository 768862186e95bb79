"""Writing a bundled dataset: the one place the build scripts share (where the file goes, how it
is compressed, what is printed)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

DATASETS = Path(__file__).resolve().parents[1] / "src" / "loopml" / "datasets"


def write(frame: pl.DataFrame, name: str) -> Path:
    """Write ``frame`` as ``src/loopml/datasets/<name>.parquet`` (zstd, level 19, with
    statistics) and say how big it came out."""
    out = DATASETS / f"{name}.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(out, compression="zstd", compression_level=19, statistics=True)
    size = out.stat().st_size
    print(f"wrote {out} ({size / 1e3:,.0f} kB, {frame.height:,} rows x {frame.width} columns)")
    return out
