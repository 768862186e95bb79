"""loopml: one coherent loop for a tabular model's production life."""

from loopml.errors import DataError, LoopmlError, NotFoundError, SpecError, StoreError

__all__ = [
    "DataError",
    "LoopmlError",
    "NotFoundError",
    "SpecError",
    "StoreError",
]
__version__ = "0.1.0"
