"""Executors: where independent work runs, behind one contract (``_base.Executor``).

- ``_base.py``: the contract (results in the order of the items, the first error raised, nothing
  left running), which ``tests/contract/test_executor.py`` checks for every executor;
- ``local.py``: this machine's cores, one process per task.
"""

from loopml.compute._base import Executor
from loopml.compute.local import LocalExecutor

__all__ = ["Executor", "LocalExecutor"]
