"""loopml: one coherent loop for a tabular model's production life.

The library API does what the CLI does; each public name is a step a user can call from Python.
The names are listed once, in ``__init__.pyi``: type checkers read them there, and
``lazy_loader`` imports each on first use (PEP 562), so that ``import loopml.monitoring.drift``
or the CLI does not pay for LightGBM, Optuna and SQLAlchemy when it does not need them.
"""

import lazy_loader

from loopml._version import __version__ as __version__

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
