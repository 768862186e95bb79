"""loopml: one coherent loop for a tabular model's production life.

The library API does what the CLI does; each name below is a step a user can call from Python.
"""

from loopml._version import __version__ as __version__
from loopml.data.io import read_source
from loopml.data.profile import Profile, merge_profiles, profile_frame
from loopml.data.schema import Schema, infer_schema
from loopml.data.scope import propose_spec
from loopml.data.validate import ValidationReport, Violation, validate
from loopml.data.versions import DatasetVersion, add_dataset, add_frame, get_version, load_frame
from loopml.errors import DataError, LoopmlError, NotFoundError, SpecError, StoreError
from loopml.features.pipeline import FeaturePipeline
from loopml.modeling.model import TrainedModel
from loopml.registry import Package, PackageError, load_package
from loopml.spec import Spec, load_spec, parse_spec
from loopml.steps import predict, runs, train_model
from loopml.store import ModelRecord, RunRecord, Store

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
    "runs",
    "train_model",
    "validate",
]
