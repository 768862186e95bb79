"""Time NannyML's univariate drift on two Parquet files; print JSON. Runs in its own venv.

    PEER/bin/python benchmarks/_nannyml_peer.py REFERENCE.parquet CURRENT.parquet CONFIG.json

CONFIG holds ``numeric`` and ``categorical`` column lists, ``js_threshold`` and ``ks_threshold``
(constant upper thresholds on the Jensen–Shannon distance and the Kolmogorov–Smirnov D statistic;
NannyML's chi-square alerts on p < 0.05 whatever is configured). One chunk: the whole reference
to fit, the whole current data to calculate. Fitting on the reference is timed apart (loopml's
reference profile is not timed either); the figure is reading the current file plus
``calculate``, with its peak RSS.
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any


def _kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def main() -> None:
    os.environ["NML_DISABLE_USAGE_LOGGING"] = "1"  # no usage reports to NannyML's servers
    import nannyml as nml
    import pandas as pd
    from nannyml.thresholds import ConstantThreshold

    warnings.filterwarnings("ignore")  # "the resulting number of chunks is too low": one on purpose
    reference_path, current_path, config_path = sys.argv[1:4]
    config = json.loads(Path(config_path).read_text())
    columns = config["numeric"] + config["categorical"]

    def calculator() -> Any:
        return nml.UnivariateDriftCalculator(
            column_names=columns,
            treat_as_categorical=config["categorical"],
            continuous_methods=["kolmogorov_smirnov", "jensen_shannon"],
            categorical_methods=["chi2", "jensen_shannon"],
            chunk_number=1,
            thresholds={
                "jensen_shannon": ConstantThreshold(upper=config["js_threshold"]),
                "kolmogorov_smirnov": ConstantThreshold(upper=config["ks_threshold"]),
            },
        )

    reference = pd.read_parquet(reference_path)
    warm = calculator().fit(reference.head(2000))  # warm up imports and caches
    warm.calculate(pd.read_parquet(current_path).head(2000)).to_df()
    started = time.perf_counter()
    fitted = calculator().fit(reference)
    fit_seconds = time.perf_counter() - started

    Path("/proc/self/clear_refs").write_text("5")
    before = _kib("VmRSS")
    started = time.perf_counter()
    current = pd.read_parquet(current_path)
    table = fitted.calculate(current).filter(period="analysis").to_df()
    seconds = time.perf_counter() - started
    peak = _kib("VmHWM")

    results: dict[str, dict[str, Any]] = {}
    for column in columns:
        methods = ["chi2" if column in config["categorical"] else "kolmogorov_smirnov"]
        for method in [*methods, "jensen_shannon"]:
            family = "js" if method == "jensen_shannon" else "test"
            results.setdefault(family, {})[column] = {
                "method": method,
                "threshold": table[(column, method, "upper_threshold")].iloc[0],
                "score": float(table[(column, method, "value")].iloc[0]),
                "drifted": bool(table[(column, method, "alert")].iloc[0]),
            }
    print(
        json.dumps(
            {
                "seconds": seconds,
                "fit_seconds": fit_seconds,
                "rows": len(current),
                "peak_bytes": peak * 1024,
                "growth_bytes": max(0, peak - before) * 1024,
                "version": nml.__version__,
                "runs": results,
            },
            default=lambda value: None if value is None else float(value),
        )
    )


if __name__ == "__main__":
    main()
