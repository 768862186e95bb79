"""Time Evidently's data-drift report on two Parquet files; print JSON. Runs in its own venv.

    PEER/bin/python benchmarks/_evidently_peer.py REFERENCE.parquet CURRENT.parquet CONFIG.json

CONFIG holds ``numeric`` and ``categorical`` column lists and ``runs``: a list of
``{"label": ..., "kwargs": {...}}`` for ``DataDriftPreset(**kwargs)``. The first run is the one
timed (reading the current file, building both datasets, running the report) with its peak RSS;
the others only give verdicts. The reference frame is read before the timing. Per run and column
the JSON holds the test Evidently used, its threshold, the score and Evidently's own verdict (the
"Value Drift" test failing).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any


def _kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _columns(snapshot: Any) -> dict[str, dict[str, Any]]:
    """Per column: method, threshold, score and verdict, from the report's per-column tests."""
    found: dict[str, dict[str, Any]] = {}
    document = snapshot.dict()
    scores = {
        m["config"]["column"]: m["value"]
        for m in document["metrics"]
        if m["config"].get("type", "").endswith("ValueDrift")
    }
    for test in document.get("tests", []):
        params = test.get("metric_config", {}).get("params", {})
        if not params.get("type", "").endswith("ValueDrift"):
            continue
        column = params["column"]
        found[column] = {
            "method": params.get("method"),
            "threshold": params.get("threshold"),
            "score": scores.get(column),
            "drifted": test["status"] != "SUCCESS",
        }
    return found


def main() -> None:
    os.environ["DO_NOT_TRACK"] = "1"  # Evidently's telemetry opt-out
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    reference_path, current_path, config_path = sys.argv[1:4]
    config = json.loads(Path(config_path).read_text())
    definition = DataDefinition(
        numerical_columns=config["numeric"], categorical_columns=config["categorical"]
    )
    reference = pd.read_parquet(reference_path)

    def report(current: pd.DataFrame, kwargs: dict[str, Any]) -> Any:
        return Report([DataDriftPreset(**kwargs)], include_tests=True).run(
            Dataset.from_pandas(current, data_definition=definition),
            Dataset.from_pandas(reference, data_definition=definition),
        )

    report(pd.read_parquet(current_path).head(2000), {})  # warm up imports and caches
    runs = config["runs"]
    Path("/proc/self/clear_refs").write_text("5")
    before = _kib("VmRSS")
    started = time.perf_counter()
    current = pd.read_parquet(current_path)
    snapshot = report(current, runs[0]["kwargs"])
    seconds = time.perf_counter() - started
    peak = _kib("VmHWM")
    results = {runs[0]["label"]: _columns(snapshot)}
    del snapshot
    for run in runs[1:]:
        results[run["label"]] = _columns(report(current, run["kwargs"]))
    print(
        json.dumps(
            {
                "seconds": seconds,
                "rows": len(current),
                "peak_bytes": peak * 1024,
                "growth_bytes": max(0, peak - before) * 1024,
                "version": __import__("evidently").__version__,
                "runs": results,
            }
        )
    )


if __name__ == "__main__":
    main()
