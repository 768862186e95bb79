"""Tasks for the executor contract (tests/contract/test_executor.py).

Module-level and light to import, because an executor may run them in a fresh interpreter
(``spawn``) or on another machine: they touch nothing but their arguments and the files they
are told to write.
"""

from __future__ import annotations

import time
from pathlib import Path


def square_after(task: tuple[int, float]) -> int:
    """``n * n`` after sleeping ``delay`` seconds."""
    n, delay = task
    time.sleep(delay)
    return n * n


def fail_on_odd(task: tuple[int, float]) -> int:
    """``n`` after ``delay`` seconds, or :class:`ValueError` naming ``n`` when it is odd."""
    n, delay = task
    time.sleep(delay)
    if n % 2:
        raise ValueError(f"task {n} failed")
    return n


def mark_after(task: tuple[str, int, float]) -> int:
    """Write ``<folder>/<n>.done`` after ``delay`` seconds; a negative delay raises at once."""
    folder, n, delay = task
    if delay < 0:
        raise RuntimeError(f"task {n} failed")
    time.sleep(delay)
    Path(folder, f"{n}.done").touch()
    return n
