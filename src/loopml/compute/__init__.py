"""Executors: where independent work runs (local processes now; Ray behind the same contract)."""

from loopml.compute._base import Executor
from loopml.compute.local import LocalExecutor

__all__ = ["Executor", "LocalExecutor"]
