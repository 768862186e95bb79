"""What a run records about where it ran: code version, package versions, platform.

``code_version`` is the git commit of the working directory's repository with a ``-dirty`` suffix
when tracked files have uncommitted changes (``None`` outside a git repository), so a model can be
traced to the exact code that made it.
"""

from __future__ import annotations

import platform
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

PACKAGES = ("loopml", "polars", "numpy", "scipy", "scikit-learn", "lightgbm", "optuna", "skops")


def _git(path: str | Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=path, capture_output=True, text=True, timeout=5, check=True
    ).stdout.strip()


def code_version(path: str | Path = ".") -> str | None:
    """``<commit>`` or ``<commit>-dirty`` for the git repository at ``path``, else ``None``."""
    try:
        commit = _git(path, "rev-parse", "HEAD")
        dirty = _git(path, "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{commit}-dirty" if dirty else commit


def environment() -> dict[str, Any]:
    """Python, platform and the versions of the packages that shape a model."""
    packages: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            packages[name] = version(name)
        except PackageNotFoundError:
            packages[name] = None
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "packages": packages,
    }
