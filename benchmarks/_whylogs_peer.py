"""Time whylogs profiling a Parquet file; print JSON. Runs in `.venv-peers` (needs NumPy 1).

.venv-peers/bin/python benchmarks/_whylogs_peer.py FRAME.parquet
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def _kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def main() -> None:
    import pandas as pd
    import whylogs

    frame = pd.read_parquet(sys.argv[1])
    whylogs.log(frame.head(1000)).view()  # warm up imports and caches outside the timing
    Path("/proc/self/clear_refs").write_text("5")
    before = _kib("VmRSS")
    started = time.perf_counter()
    whylogs.log(frame).view()
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_bytes": max(0, _kib("VmHWM") - before) * 1024,
                "whylogs": whylogs.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
