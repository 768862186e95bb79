"""loopml: one coherent loop for a tabular model's production life.

The library API does what the CLI does; each name below is a step a user can call from Python.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from loopml._version import __version__ as __version__

if TYPE_CHECKING:
    from loopml.data.io import read_source
    from loopml.data.profile import Profile, merge_profiles, profile_frame
    from loopml.data.schema import Schema, infer_schema
    from loopml.data.scope import propose_spec
    from loopml.data.validate import ValidationReport, Violation, validate
    from loopml.errors import DataError, LoopmlError, NotFoundError, SpecError, StoreError
    from loopml.features.pipeline import FeaturePipeline
    from loopml.loop.daemon import run_loop
    from loopml.loop.retrain import retrain
    from loopml.loop.simulate import simulate
    from loopml.modeling.model import TrainedModel
    from loopml.registry import Package, PackageError, load_package
    from loopml.spec import Spec, load_spec, parse_spec
    from loopml.steps import predict, runs, train_model
    from loopml.store import ModelRecord, RunRecord, Store
    from loopml.ui import create_ui

#: public name -> the module that defines it. Imported on first use (PEP 562), so that
#: ``import loopml.monitoring.drift`` or the CLI does not pay for LightGBM, Optuna and SQLAlchemy
#: when it does not need them (about 200 MB and a second).
_WHERE = {
    "DataError": "loopml.errors",
    "DatasetVersion": "loopml.data.versions",
    "FeaturePipeline": "loopml.features.pipeline",
    "LoopmlError": "loopml.errors",
    "ModelRecord": "loopml.store",
    "NotFoundError": "loopml.errors",
    "Package": "loopml.registry",
    "PackageError": "loopml.registry",
    "Profile": "loopml.data.profile",
    "RunRecord": "loopml.store",
    "Schema": "loopml.data.schema",
    "Spec": "loopml.spec",
    "SpecError": "loopml.errors",
    "Store": "loopml.store",
    "StoreError": "loopml.errors",
    "TrainedModel": "loopml.modeling.model",
    "ValidationReport": "loopml.data.validate",
    "Violation": "loopml.data.validate",
    "add_dataset": "loopml.data.versions",
    "add_frame": "loopml.data.versions",
    "create_ui": "loopml.ui",
    "get_version": "loopml.data.versions",
    "infer_schema": "loopml.data.schema",
    "load_frame": "loopml.data.versions",
    "load_package": "loopml.registry",
    "load_spec": "loopml.spec",
    "merge_profiles": "loopml.data.profile",
    "parse_spec": "loopml.spec",
    "predict": "loopml.steps",
    "profile_frame": "loopml.data.profile",
    "propose_spec": "loopml.data.scope",
    "read_source": "loopml.data.io",
    "retrain": "loopml.loop.retrain",
    "run_loop": "loopml.loop.daemon",
    "runs": "loopml.steps",
    "simulate": "loopml.loop.simulate",
    "train_model": "loopml.steps",
    "validate": "loopml.data.validate",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(import_module(_WHERE[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'loopml' has no attribute {name!r}")


__all__ = [
    "DataError",
    "DatasetVersion",
    "FeaturePipeline",
    "LoopmlError",
    "ModelRecord",
    "NotFoundError",
    "Package",
    "PackageError",
    "Profile",
    "RunRecord",
    "Schema",
    "Spec",
    "SpecError",
    "Store",
    "StoreError",
    "TrainedModel",
    "ValidationReport",
    "Violation",
    "add_dataset",
    "add_frame",
    "create_ui",
    "get_version",
    "infer_schema",
    "load_frame",
    "load_package",
    "load_spec",
    "merge_profiles",
    "parse_spec",
    "predict",
    "profile_frame",
    "propose_spec",
    "read_source",
    "retrain",
    "run_loop",
    "runs",
    "simulate",
    "train_model",
    "validate",
]
