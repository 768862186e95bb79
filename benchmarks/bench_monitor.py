"""Monitoring speed: window metrics and drift of 1M and 5M predictions vs the training profile.

Reference: January–March of the flights data (the training window). Current: April–September
rows resampled with replacement (seeded) to ``--rows`` and each ``--also`` size. 15 features:
12 numeric and 3 categorical. Both are written to Parquet once, and every tool reads those files.

- **loopml**, in a fresh process per size: the reference profile is built first and not timed
  (it ships inside the model package). Timed: read the current file with Polars, the window's
  input metrics (missing share, out-of-range and unseen shares: one ``select``), profile the 15
  features, and :func:`loopml.monitoring.drift.profile_drift` with ``decide_by: psi``; then the
  other ``decide_by`` policies, for the verdict comparison. Median of ``--repeat`` runs; peak
  RSS is the process's (``VmHWM`` after ``/proc/self/clear_refs``), largest over the runs.
- **Evidently** (``_evidently_peer.py``): its data-drift report (``DataDriftPreset``, default
  tests) on pandas frames; at the first size also with PSI (0.2) and K-S / chi-square (p 0.01)
  forced, for like-for-like verdicts.
- **NannyML** (``_nannyml_peer.py``): ``UnivariateDriftCalculator`` with K-S and Jensen–Shannon
  (numeric), chi-square and Jensen–Shannon (categorical), one chunk; constant thresholds: JS 0.1,
  K-S D at its critical value for loopml's p 0.01 (NannyML reports D, not a p-value); chi-square
  alerts at p < 0.05 (fixed in NannyML).

Then **estimated quality** (``_estimate_replay.py``): a champion trained on January–March, the
later months replayed in weekly windows with their labels; the mean absolute error of the
label-free estimate against the labelled quality, and the share of windows whose labelled value
falls inside the estimate's 90 % interval (``--estimate-only`` runs just this part).

Peers run in their own virtual environments under /tmp/monitor-peers (created on first use; both
need pandas < 3), each time-boxed; if one cannot be installed or fails, the table says why.

    .venv/bin/python benchmarks/bench_monitor.py [--rows 1000000] [--also 5000000] [--skip-peers]
        [--estimate-only | --skip-estimate] [--estimate-window 1w]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _estimate_replay
import polars as pl
from _peers import venv_ready
from rich.console import Console
from rich.table import Table

from loopml.data.profiling import profile_frame
from loopml.data.schema import infer_schema
from loopml.datasets import flights
from loopml.monitoring.inputs import input_metrics
from loopml.spec import Drift

NUMERIC = ["distance", "hour", "temp", "dewp", "humid", "wind_dir", "wind_speed", "wind_gust"]
NUMERIC += ["precip", "pressure", "visib", "seats"]
CATEGORICAL = ["carrier", "origin", "dest"]
FEATURES = NUMERIC + CATEGORICAL
POLICIES = ["psi", "jensen_shannon", "wasserstein", "ks_pvalue", "chi2_pvalue"]
HERE = Path(__file__).resolve().parent
PEER_ROOT = Path("/tmp/monitor-peers")
PEER_PACKAGES = {
    "Evidently": ["evidently>=0.7.23", "pandas>=2.2,<3", "pyarrow>=16"],
    "NannyML": ["nannyml>=0.13.1", "statsmodels>=0.14", "pandas>=2.2,<3", "pyarrow>=16"],
}
PEER_PROBE = {"Evidently": "evidently.presets", "NannyML": "nannyml"}
PEER_SCRIPT = {"Evidently": "_evidently_peer.py", "NannyML": "_nannyml_peer.py"}
PEER_ENV = {"NML_DISABLE_USAGE_LOGGING": "1", "DO_NOT_TRACK": "1"}  # no telemetry
INSTALL_TIMEOUT = 900
RUN_TIMEOUT = 600
ISSUE_EVIDENTLY_5M_BYTES = 6.3e9  # the issue's figure, used when Evidently is not run at 5M
console = Console(width=max(Console().width, 160))


# --- data --------------------------------------------------------------------------------------


def write_data(folder: Path, sizes: list[int]) -> tuple[Path, dict[int, Path]]:
    """Reference (January–March) and one resampled April–September file per size."""
    data = flights().select("month", *FEATURES)
    reference = folder / "reference.parquet"
    data.filter(pl.col("month") <= 3).drop("month").write_parquet(reference)
    pool = data.filter(pl.col("month").is_between(4, 9)).drop("month")
    current = {}
    for rows in sizes:
        current[rows] = folder / f"current_{rows}.parquet"
        pool.sample(rows, with_replacement=True, seed=rows).write_parquet(current[rows])
    return reference, current


# --- loopml, in its own process ------------------------------------------------------------------


def _kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def loopml_run(reference_path: str, current_path: str, repeat: int) -> dict[str, Any]:
    """Time loopml's window pass on ``current_path`` (in a fresh process: ``--loopml-only``)."""
    from loopml.monitoring.drift import profile_drift

    after_imports = _kib("VmRSS") * 1024
    reference = profile_frame(pl.read_parquet(reference_path))  # ships with the model: untimed
    schema = infer_schema(reference)
    policies = {name: Drift(decide_by=name) for name in POLICIES}
    warm = pl.read_parquet(current_path, n_rows=2000)  # warm up imports and Polars' pool
    input_metrics(warm, schema, FEATURES)
    profile_drift(reference, profile_frame(warm, columns=FEATURES), FEATURES, policies["psi"])
    del warm

    steps: dict[str, list[float]] = {}
    peaks, growths, rows = [], [], 0
    drifts: dict[str, Any] = {}
    for _ in range(repeat):
        drifts.clear()
        gc.collect()
        with contextlib.suppress(OSError):
            Path("/proc/self/clear_refs").write_text("5")
        before = _kib("VmRSS")
        clock = time.perf_counter()
        frame = pl.read_parquet(current_path, columns=FEATURES)
        timings = {"read": time.perf_counter() - clock}
        clock = time.perf_counter()
        input_metrics(frame, schema, FEATURES)
        timings["input metrics"] = time.perf_counter() - clock
        clock = time.perf_counter()
        current = profile_frame(frame, columns=FEATURES)
        timings["profile"] = time.perf_counter() - clock
        clock = time.perf_counter()
        drifts["psi"] = profile_drift(reference, current, FEATURES, policies["psi"])
        timings["drift"] = time.perf_counter() - clock
        timings["total"] = sum(timings.values())
        peak = _kib("VmHWM")
        peaks.append(peak * 1024)
        growths.append(max(0, peak - before) * 1024)
        clock = time.perf_counter()
        for name in POLICIES[1:]:
            drifts[name] = profile_drift(reference, current, FEATURES, policies[name])
        timings["drift, 4 other policies"] = time.perf_counter() - clock
        for step, seconds in timings.items():
            steps.setdefault(step, []).append(seconds)
        rows = frame.height
        del frame, current

    def verdicts(found: list[Any]) -> dict[str, Any]:
        names = ("kind", "decided_by", "value", "threshold", "drifted")
        return {d.feature: {n: getattr(d, n) for n in names} for d in found}

    return {
        "rows": rows,
        "reference_rows": reference.n_rows,
        "seconds": statistics.median(steps["total"]),
        "steps": {step: statistics.median(values) for step, values in steps.items()},
        "peak_bytes": max(peaks),
        "growth_bytes": max(growths),
        "after_imports_bytes": after_imports,
        "runs": {name: verdicts(found) for name, found in drifts.items()},
    }


def measure_loopml(reference: Path, current: Path, repeat: int) -> dict[str, Any]:
    argv = [sys.executable, __file__, "--loopml-only", str(reference), str(current)]
    argv += ["--repeat", str(repeat)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    if done.returncode != 0:
        last = done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"]
        raise RuntimeError(f"failed (exit {done.returncode}): {last[0][-300:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


# --- peers -------------------------------------------------------------------------------------


def ks_critical(alpha: float, n: int, m: int) -> float:
    """The two-sample K-S D above which p < ``alpha`` (asymptotic, for NannyML's D statistic)."""
    return math.sqrt(-math.log(alpha / 2) / 2) * math.sqrt((n + m) / (n * m))


def peer_config(rows: int, reference_rows: int, *, full: bool) -> dict[str, Any]:
    """What the peer scripts run: at the compared size also the forced-test Evidently reports."""
    alpha = Drift().p_value
    runs = [{"label": "default", "kwargs": {}}]
    if full:
        runs += [
            {"label": "psi", "kwargs": {"method": "psi", "threshold": Drift().psi}},
            {
                "label": "tests",
                "kwargs": {"num_method": "ks", "cat_method": "chisquare", "threshold": alpha},
            },
        ]
    return {
        "numeric": NUMERIC,
        "categorical": CATEGORICAL,
        "runs": runs,
        "js_threshold": Drift().jensen_shannon,
        "ks_threshold": ks_critical(alpha, reference_rows, rows),
    }


def run_peer(name: str, reference: Path, current: Path, config: dict[str, Any]) -> dict[str, Any]:
    """The peer's JSON result; raises RuntimeError (with the reason) if it fails."""
    python = PEER_ROOT / name.lower() / "bin" / "python"
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(config, handle)
    argv = [str(python), str(HERE / PEER_SCRIPT[name]), str(reference), str(current), handle.name]
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            env={**os.environ, **PEER_ENV},
        )
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"did not finish within {RUN_TIMEOUT} s") from None
    finally:
        Path(handle.name).unlink()
    if done.returncode != 0:
        last = done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"]
        raise RuntimeError(f"failed (exit {done.returncode}): {last[0][-300:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


# --- report ------------------------------------------------------------------------------------


@dataclass
class Row:
    tool: str
    rows: int
    result: dict[str, Any] | None = None
    why: str = ""
    notes: list[str] = field(default_factory=list)


def mb(value: float) -> str:
    return f"{value / 1e6:,.0f}"


def render_figures(rows: list[Row]) -> None:
    evidently = {r.rows: r.result for r in rows if r.tool == "Evidently" and r.result}
    table = Table(title="Window metrics + drift, 15 features vs the January–March profile")
    for name in ("tool", "rows", "seconds", "peak RSS MB", "Δ peak MB", "speed-up vs Evidently"):
        table.add_column(name, justify="left" if name == "tool" else "right")
    table.add_column("memory vs Evidently", justify="right")
    table.add_column("notes")
    for row in rows:
        if row.result is None:
            table.add_row(row.tool, f"{row.rows:,}", "—", "—", "—", "—", "—", row.why)
            continue
        found, peer = row.result, evidently.get(row.rows)
        speed = f"{peer['seconds'] / found['seconds']:.1f}×" if peer else "—"
        memory = f"{found['peak_bytes'] / peer['peak_bytes']:.2f}" if peer else "—"
        table.add_row(
            row.tool,
            f"{row.rows:,}",
            f"{found['seconds']:.2f}",
            mb(found["peak_bytes"]),
            mb(found["growth_bytes"]),
            speed,
            memory,
            "; ".join(row.notes),
        )
    console.print(table)


def cell(found: dict[str, Any] | None) -> str:
    if not found or found.get("score", found.get("value")) is None:
        return "—"
    score = found.get("score", found.get("value"))
    mark = "[red]drift[/]" if found["drifted"] else "[green]ok[/]"
    return f"{mark} {score:.3g}"


@dataclass
class Family:
    """One like-for-like comparison: loopml's policy per kind against a peer's run."""

    title: str
    loopml: dict[str, str]  # kind -> decide_by
    peer: str
    peer_run: str
    caveat: str  # how the two sides' statistics still differ


FAMILIES = [
    Family(
        "PSI > 0.2",
        {"numeric": "psi", "categorical": "psi"},
        "Evidently",
        "psi",
        "bins differ: loopml 10 reference deciles (categories: the reference's + 'other'), "
        "Evidently Sturges equal-width bins over both samples (every category seen)",
    ),
    Family(
        "K-S / χ² p < 0.01",
        {"numeric": "ks_pvalue", "categorical": "chi2_pvalue"},
        "Evidently",
        "tests",
        "Evidently's χ² is goodness of fit against the reference's shares, loopml's (and "
        "NannyML's) homogeneity on the 2×K table, so Evidently's p-values are smaller",
    ),
    Family(
        "K-S / χ² (NannyML: D > crit. / p < 0.05)",
        {"numeric": "ks_pvalue", "categorical": "chi2_pvalue"},
        "NannyML",
        "test",
        "NannyML reports K-S D (alert above the p 0.01 critical D here) and alerts on χ² p < 0.05",
    ),
    Family(
        "JS > 0.1",
        {"numeric": "jensen_shannon", "categorical": "jensen_shannon"},
        "NannyML",
        "js",
        "both base 2; numeric bins differ: loopml 10 reference deciles, NannyML Doane's rule",
    ),
    Family(
        "Evidently's default (W₁/σ 0.1, JS 0.1)",
        {"numeric": "wasserstein", "categorical": "jensen_shannon"},
        "Evidently",
        "default",
        "Evidently's JS uses the natural log: its distance is 0.83× the base-2 one loopml reports",
    ),
]


@dataclass
class Agreement:
    family: Family
    agreed: int = 0
    compared: int = 0
    differing: list[str] = field(default_factory=list)


def render_verdicts(mine: dict[str, Any], peers: dict[str, dict[str, Any]]) -> list[Agreement]:
    """The per-feature comparison table, and how often loopml and the peer agree per family."""
    table = Table(title=f"Per-feature verdicts at {mine['rows']:,} rows (loopml | peer)")
    table.add_column("feature")
    for family in FAMILIES:
        table.add_column(f"{family.title}\nloopml", justify="right")
        table.add_column(f"\n{family.peer}", justify="right")
    agreement = [Agreement(family) for family in FAMILIES]
    for feature in FEATURES:
        kind = "categorical" if feature in CATEGORICAL else "numeric"
        cells = [feature]
        for tally in agreement:
            family = tally.family
            ours = mine["runs"][family.loopml[kind]].get(feature)
            theirs = peers.get(family.peer, {}).get(family.peer_run, {}).get(feature)
            cells += [cell(ours), cell(theirs)]
            if ours and theirs and ours["value"] is not None:
                tally.compared += 1
                if bool(ours["drifted"]) == bool(theirs["drifted"]):
                    tally.agreed += 1
                else:
                    tally.differing.append(feature)
        table.add_row(*cells)
    console.print(table)
    return agreement


def methods_used(peer: dict[str, Any], run: str) -> str:
    found = peer.get(run, {})
    used: dict[str, list[str]] = {}
    for feature, item in found.items():
        used.setdefault(f"{item['method']} ({item['threshold']})", []).append(feature)
    return "; ".join(f"{method}: {', '.join(names)}" for method, names in used.items())


def targets(rows: list[Row], first: int, agreement: list[Agreement]) -> None:
    def get(tool: str, size: int) -> dict[str, Any] | None:
        return next((r.result for r in rows if r.tool == tool and r.rows == size), None)

    lines = []
    mine, theirs = get("loopml", first), get("Evidently", first)
    if mine:
        lines.append((f"≤ 2 s at {first:,} rows", f"{mine['seconds']:.2f} s", mine["seconds"] <= 2))
    if mine and theirs:
        times = theirs["seconds"] / mine["seconds"]
        lines.append((f"≥ 20× faster than Evidently at {first:,}", f"{times:.1f}×", times >= 20))
        share = mine["peak_bytes"] / theirs["peak_bytes"]
        got = f"{mb(mine['peak_bytes'])} MB vs {mb(theirs['peak_bytes'])} MB = {share:.2f}"
        growth = mine["growth_bytes"] / theirs["growth_bytes"]
        got += f" [dim](growth during the step: {growth:.2f}; loopml's RSS after imports "
        got += f"{mb(mine['after_imports_bytes'])} MB)[/]"
        lines.append((f"peak RSS ≤ ⅓ of Evidently's at {first:,}", got, share <= 1 / 3))
    for size in sorted({r.rows for r in rows if r.rows != first}):
        big = get("loopml", size)
        if not big:
            continue
        peer = get("Evidently", size)
        limit = (peer["peak_bytes"] if peer else ISSUE_EVIDENTLY_5M_BYTES) / 3
        source = "Evidently's here" if peer else "the issue's 6.3 GB for Evidently"
        got = f"{mb(big['peak_bytes'])} MB peak, {big['seconds']:.2f} s (limit {mb(limit)} MB)"
        lines.append((f"{size:,} rows fit: peak ≤ ⅓ of {source}", got, big["peak_bytes"] <= limit))
    for tally in agreement:
        if tally.compared:
            got = f"{tally.agreed}/{tally.compared}"
            if tally.differing:
                got += f" (differ: {', '.join(tally.differing)})"
            name = f"same verdicts, {tally.family.title} vs {tally.family.peer}"
            if tally.differing:
                got += f" [dim]({tally.family.caveat})[/]"
            lines.append((name, got, tally.agreed == tally.compared))
    for name, got, ok in lines:
        console.print(f"  {'[green]met[/]' if ok else '[red]missed[/]'}  {name}: {got}")


# --- main --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="the size compared in full")
    parser.add_argument("--also", type=int, nargs="*", default=[5_000_000], help="more sizes")
    parser.add_argument("--repeat", type=int, default=3, help="loopml runs per size (median)")
    parser.add_argument("--skip-peers", action="store_true", help="loopml only")
    parser.add_argument("--peers-first-only", action="store_true", help="peers at --rows only")
    parser.add_argument("--loopml-only", nargs=2, metavar=("REFERENCE", "CURRENT"), help="internal")
    parser.add_argument("--estimate-only", action="store_true", help="estimated quality only")
    parser.add_argument("--skip-estimate", action="store_true", help="no estimated quality")
    parser.add_argument("--estimate-window", default="1w", help="replay windows: 1w, 1mo, 1d")
    args = parser.parse_args()
    if args.estimate_only:
        _estimate_replay.run(console, args.estimate_window)
        return
    if args.loopml_only:
        reference, current = args.loopml_only
        print(json.dumps(loopml_run(reference, current, args.repeat)))
        return

    sizes = [args.rows, *[size for size in args.also if size != args.rows]]
    notes = [f"CPUs: {os.cpu_count()}; load average at start {os.getloadavg()[0]:.2f}"]
    peers_ready: dict[str, str | None] = {}
    if not args.skip_peers:
        for name in PEER_PACKAGES:
            peers_ready[name] = venv_ready(
                PEER_ROOT / name.lower(), PEER_PACKAGES[name], PEER_PROBE[name],
                timeout=INSTALL_TIMEOUT, console=console,
            )  # fmt: skip
    results: list[Row] = []
    verdict_runs: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as folder:
        with console.status("writing reference and current Parquet files…"):
            reference, current = write_data(Path(folder), sizes)
        reference_rows = pl.scan_parquet(reference).select(pl.len()).collect().item()
        notes.append(f"reference: {reference_rows:,} rows (January–March)")
        for size in sizes:
            row = Row("loopml", size)
            load = os.getloadavg()[0]
            with console.status(f"loopml at {size:,} rows…"):
                try:
                    row.result = measure_loopml(reference, current[size], args.repeat)
                except (RuntimeError, subprocess.TimeoutExpired) as exc:
                    row.why = str(exc)[-300:]
            if row.result:
                steps = row.result["steps"]
                parts = ("read", "input metrics", "profile", "drift")
                row.notes.append(" + ".join(f"{k} {steps[k]:.3f}" for k in parts) + " s")
                row.notes.append(f"4 other policies {steps['drift, 4 other policies']:.3f} s")
                after = mb(row.result["after_imports_bytes"])
                row.notes.append(f"{after} MB after imports; load {load:.2f}")
            results.append(row)
            if args.skip_peers or (args.peers_first_only and size != args.rows):
                continue
            for name, why in peers_ready.items():
                row = Row(name, size, why=why or "")
                if why is None:
                    config = peer_config(size, reference_rows, full=size == args.rows)
                    load = os.getloadavg()[0]
                    with console.status(f"{name} at {size:,} rows (up to {RUN_TIMEOUT} s)…"):
                        try:
                            row.result = run_peer(name, reference, current[size], config)
                        except RuntimeError as exc:
                            row.why = f"not measured: {exc}"
                    if row.result:
                        row.notes.append(f"{name} {row.result['version']}, load {load:.2f}")
                        if "fit_seconds" in row.result:
                            row.notes.append(f"fit on reference {row.result['fit_seconds']:.2f} s")
                        if size == args.rows:
                            verdict_runs[name] = row.result["runs"]
                else:
                    row.why = f"not measured: {why}"
                results.append(row)
    render_figures(results)
    for note in notes:
        console.print(note)
    first = next((r.result for r in results if r.tool == "loopml" and r.rows == args.rows), None)
    agreement: list[Agreement] = []
    if first:
        agreement = render_verdicts(first, verdict_runs)
        if "Evidently" in verdict_runs:
            console.print(
                f"Evidently's default tests: {methods_used(verdict_runs['Evidently'], 'default')}"
            )
    targets(results, args.rows, agreement)
    if not args.skip_estimate:
        _estimate_replay.run(console, args.estimate_window)


if __name__ == "__main__":
    main()
