"""The executor contract: run independent tasks, return their results in order.

Invariants every executor keeps:

- ``fn`` is a module-level callable and each item is picklable: tasks may run in other processes
  (or machines), so they share no memory with the caller and must not rely on globals it set.
- Results come back in the order of ``items``; the first task that raises makes ``map`` raise
  that exception after the other tasks have stopped or finished (nothing keeps running).
- Tasks must be idempotent or record their own progress (e.g. in the store), because a retried
  or interrupted ``map`` may run a task again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Executor(Protocol):
    """Runs independent tasks; see the module docstring for the invariants."""

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """``[fn(item) for item in items]``, possibly in parallel."""
        ...
