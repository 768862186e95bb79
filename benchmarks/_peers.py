"""Peer tools for the benchmarks live in their own venvs (their pins clash with loopml's)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from rich.console import Console


def venv_ready(
    venv: Path, packages: list[str], probe: str, *, timeout: int, console: Console
) -> str | None:
    """Create ``venv`` with ``packages`` unless ``import probe`` works there already; ``None``,
    or why it failed (the benchmark then reports the peer as missing, not the run as broken)."""
    python = venv / "bin" / "python"
    check = [str(python), "-c", f"import {probe}"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return None
    with console.status(f"installing {', '.join(packages)} into {venv} (once)…"):
        try:
            if not python.exists():
                subprocess.run(
                    [shutil.which("python3") or "python3", "-m", "venv", str(venv)],
                    check=True,
                    capture_output=True,
                    timeout=120,
                )
            subprocess.run(
                [str(python), "-m", "pip", "install", "-q", *packages],
                check=True,
                capture_output=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            return f"pip install did not finish within {timeout} s"
        except subprocess.CalledProcessError as exc:
            return f"install failed: {(exc.stderr or b'').decode(errors='replace')[-300:]}"
    if subprocess.run(check, capture_output=True).returncode != 0:
        return f"'import {probe}' fails in {venv}"
    return None
