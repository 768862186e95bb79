"""The model registry: safe packages, versions, aliases, lineage, and the champion gate.

- :mod:`loopml.registry.package`: the package format (plain files and a manifest of checksums,
  nothing pickled), writing it, and loading it;
- :mod:`loopml.registry.allowlist`: what a package may hold: its file names, and the exact
  types (and skops loaders) of its estimator, checked before anything is loaded;
- :mod:`loopml.registry.meta`: :class:`PackageMeta`, the typed ``meta.json`` (the model, its
  metrics, lineage and gate decision);
- :mod:`loopml.registry.gate`: the champion gate, comparing a new version with the champion and
  the baselines on the same rows, beyond their noise; :mod:`loopml.registry.evidence` scores
  them there;
- :mod:`loopml.registry.register`: :func:`register`, packaging a training run's best candidate and
  letting the gate set its alias.

A new version becomes **champion** only when it meets the spec's targets on its test data and
beats the current champion and the baselines on that same data beyond noise (the champion by the
spec's margin); otherwise it is kept as **challenger**, with the reason recorded.
"""

from loopml.registry.gate import (
    Comparison,
    GateDecision,
    encode_like,
    gate,
    score_package,
)
from loopml.registry.meta import FORMAT, GateRecord, Lineage, PackageMeta
from loopml.registry.package import (
    Package,
    load_package,
    package_files,
    read_document,
    read_meta,
    save_package,
)
from loopml.registry.register import register

__all__ = [
    "FORMAT",
    "Comparison",
    "GateDecision",
    "GateRecord",
    "Lineage",
    "Package",
    "PackageMeta",
    "encode_like",
    "gate",
    "load_package",
    "package_files",
    "read_document",
    "read_meta",
    "register",
    "save_package",
    "score_package",
]
