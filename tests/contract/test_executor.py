"""The executor contract (:mod:`loopml.compute`), checked on every executor in :data:`EXECUTORS`:
results in the order of the items, the first failing item's own exception raised, and nothing
left running once ``map`` has returned or raised.

The tasks live in tests/support/tasks.py, so that an executor may run them in another process.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import pytest

from loopml.compute import Executor, LocalExecutor
from tests.support.tasks import fail_on_odd, mark_after, square_after

#: Every executor the contract runs on: a factory of a context manager that yields one, set up
#: on entry and torn down on exit. A new executor (say Ray, with ``marks=`` for its extra) joins
#: by one entry here. The local executor runs twice: in-process (one worker) and in a process
#: pool, its two code paths.
EXECUTORS: list[object] = [
    pytest.param(lambda: nullcontext(LocalExecutor(max_workers=1)), id="local-in-process"),
    pytest.param(lambda: nullcontext(LocalExecutor(max_workers=2)), id="local-processes"),
]


@pytest.fixture(params=EXECUTORS)
def executor(request: pytest.FixtureRequest) -> Iterator[Executor]:
    supplier: Callable[[], AbstractContextManager[Executor]] = request.param
    with supplier() as opened:
        yield opened


def test_results_come_back_in_the_order_of_the_items(executor: Executor) -> None:
    """The first item takes longest, so a pool finishes it last: the order is still the items'."""
    items = [(0, 0.8)] + [(n, 0.0) for n in range(1, 5)]
    assert executor.map(square_after, items) == [0, 1, 4, 9, 16]


def test_no_items_run_no_tasks(executor: Executor) -> None:
    assert executor.map(square_after, []) == []


def test_the_first_failing_items_own_exception_is_raised(executor: Executor) -> None:
    """Items 1 and 3 fail, 3 sooner than 1: the error raised is item 1's, as raised by the task."""
    items = [(0, 0.0), (1, 0.4), (2, 0.0), (3, 0.0)]
    with pytest.raises(ValueError, match=r"^task 1 failed$"):
        executor.map(fail_on_odd, items)


def test_nothing_keeps_running_after_a_failure(executor: Executor, tmp_path: Path) -> None:
    """Item 0 fails at once; the others (half a second each) have stopped or finished by the
    time ``map`` raises: no worker process of ours is left, and no task finishes later."""
    children = set(multiprocessing.active_children())
    items = [(str(tmp_path), 0, -1.0)] + [(str(tmp_path), n, 0.5) for n in range(1, 5)]
    with pytest.raises(RuntimeError, match=r"^task 0 failed$"):
        executor.map(mark_after, items)
    assert set(multiprocessing.active_children()) <= children
    finished = sorted(path.name for path in tmp_path.iterdir())
    time.sleep(1.0)  # twice as long as any task takes
    assert sorted(path.name for path in tmp_path.iterdir()) == finished
