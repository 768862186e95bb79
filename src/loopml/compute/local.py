"""The default executor: this machine's cores, one process per task (``spawn``, not ``fork``).

``spawn`` starts clean interpreters, so the Polars and LightGBM thread pools of the caller are
never copied mid-flight into a child (a forked thread pool can deadlock). One worker, or one task,
runs in-process with no pool at all.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


class LocalExecutor:
    """Run tasks in up to ``max_workers`` processes (default: the number of cores)."""

    def __init__(self, max_workers: int | None = None) -> None:
        self.max_workers = max_workers

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        workers = min(self.max_workers or os.cpu_count() or 1, len(items))
        if workers <= 1:
            return [fn(item) for item in items]
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = [pool.submit(fn, item) for item in items]
            try:
                return [future.result() for future in futures]
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
