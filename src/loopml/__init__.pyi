# The public API: the one list of public names. `__init__.py` loads each on first use (so the
# CLI and `import loopml.monitoring.drift` do not pay for LightGBM, Optuna and SQLAlchemy), type
# checkers read the names from here, and `tests/unit/test_exported_members.py` pins the set.

__version__: str

from .data.io import read_source as read_source
from .data.profile import Profile as Profile
from .data.profile import merge_profiles as merge_profiles
from .data.profiling import profile_frame as profile_frame
from .data.schema import Schema as Schema
from .data.schema import infer_schema as infer_schema
from .data.scope import propose_spec as propose_spec
from .data.validate import ValidationReport as ValidationReport
from .data.validate import Violation as Violation
from .data.validate import validate as validate
from .data.versions import DatasetVersion as DatasetVersion
from .data.versions import add_dataset as add_dataset
from .data.versions import add_frame as add_frame
from .data.versions import get_version as get_version
from .data.versions import load_frame as load_frame
from .errors import DataError as DataError
from .errors import LoopmlError as LoopmlError
from .errors import NotFoundError as NotFoundError
from .errors import PackageError as PackageError
from .errors import SpecError as SpecError
from .errors import StoreError as StoreError
from .features.pipeline import FeaturePipeline as FeaturePipeline
from .loop.daemon import run_loop as run_loop
from .loop.retrain import retrain as retrain
from .loop.simulate import simulate as simulate
from .modeling.model import TrainedModel as TrainedModel
from .registry import Package as Package
from .registry import load_package as load_package
from .spec import Spec as Spec
from .spec import load_spec as load_spec
from .spec import parse_spec as parse_spec
from .store import ModelRecord as ModelRecord
from .store import RunRecord as RunRecord
from .store import Store as Store
from .ui import create_ui as create_ui
from .workflows import predict as predict
from .workflows import runs as runs
from .workflows import train_model as train_model
