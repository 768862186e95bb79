"""The public surface is pinned: growing it is a decision, not an accident."""

from __future__ import annotations

import loopml

EXPECTED = {
    "DataError",
    "DatasetVersion",
    "LoopmlError",
    "NotFoundError",
    "Profile",
    "Schema",
    "Spec",
    "SpecError",
    "Store",
    "StoreError",
    "ValidationReport",
    "Violation",
    "add_dataset",
    "add_frame",
    "create_ui",
    "get_version",
    "infer_schema",
    "load_frame",
    "load_spec",
    "merge_profiles",
    "parse_spec",
    "profile_frame",
    "propose_spec",
    "read_source",
    "validate",
    "FeaturePipeline",
    "ModelRecord",
    "Package",
    "PackageError",
    "RunRecord",
    "TrainedModel",
    "load_package",
    "predict",
    "retrain",
    "run_loop",
    "runs",
    "simulate",
    "train_model",
}


def test_all_is_pinned() -> None:
    assert set(loopml.__all__) == EXPECTED


def test_every_export_exists_and_errors_share_one_root() -> None:
    for name in loopml.__all__:
        assert getattr(loopml, name) is not None
    for name in ("DataError", "NotFoundError", "SpecError", "StoreError"):
        assert issubclass(getattr(loopml, name), loopml.LoopmlError)
