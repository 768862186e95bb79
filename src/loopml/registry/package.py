"""The package format: a folder of plain files per model version, verified on load, never pickled.

A **package** is a folder under ``models/<name>/<id>/`` in the artifact root:

- ``pipeline.json``: the fitted feature pipeline (JSON);
- ``estimator.lgb.txt`` (LightGBM's own text format) or ``estimator.skops`` (scikit-learn objects
  through skops, loaded only when every type and loader it names is on the exact allow-list of
  :mod:`loopml.registry.allowlist`: the types loopml's own candidates save);
- ``meta.json``: the :class:`~loopml.registry.meta.PackageMeta` (task, classes, threshold,
  parameters, metrics per split, lineage, the gate's decision);
- ``schema.json`` and ``profile.json``: the input schema and the training profile, so serving and
  monitoring never need the training data;
- ``reference.json``: the profile of the held-out rows (validation and test splits) on the
  model's inputs, drift's reference beside ``meta.json``'s ``score_profile`` of the same rows'
  scores (packages written before it have none: drift then reads ``profile.json``);
- ``manifest.json``: the SHA-256 of every file. The manifest's own SHA-256 is the package's
  identity, kept in the store; loading checks both, so a tampered or truncated package is refused.

Nothing in a package is interpreted before it is checked: the manifest must list exactly these
files (plain names: no paths, no pickles, nothing else), every file must match its checksum, and
the estimator's types must be on the allow-list, before any of it is parsed or loaded. Every
refusal, a malformed file included, is a :class:`PackageError` naming the model and the file.
Writing checks the same allow-list, so loopml never writes a package it would refuse to load.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import lightgbm as lgb
import orjson

from loopml.data.profile import Profile
from loopml.data.schema import Schema
from loopml.errors import LoopmlError, PackageError
from loopml.features.pipeline import FeaturePipeline
from loopml.modeling.model import TrainedModel
from loopml.registry.allowlist import (
    ALLOWED_TYPES,
    check_estimator,
    check_file_names,
    untrusted_contents,
)
from loopml.registry.meta import FORMAT, PackageMeta
from loopml.store import ModelRecord, Store

T = TypeVar("T")


@dataclass(frozen=True)
class Package:
    """A loaded, verified model package."""

    record: ModelRecord
    model: TrainedModel
    meta: PackageMeta
    schema: Schema
    profile: Profile
    reference: Profile | None = None

    @property
    def drift_reference(self) -> Profile:
        """What a window's inputs are compared with: the held-out rows whose scores are the
        predictions' reference, so features and predictions are judged against the same rows
        (the training profile for a package written before it kept them)."""
        return self.reference if self.reference is not None else self.profile


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _json(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_INDENT_2)


def _estimator_file(model: TrainedModel) -> tuple[str, bytes]:
    if model.is_booster:
        return "estimator.lgb.txt", model.estimator.model_to_string().encode()
    import skops.io as sio

    data = sio.dumps(model.estimator)
    untrusted = untrusted_contents(data)
    if untrusted:
        raise PackageError(
            f"cannot save the {model.candidate} model: its estimator.skops holds "
            f"{', '.join(untrusted[:5])}, outside the allow-lists of estimator types and loaders "
            "(loopml.registry.allowlist), so loopml would refuse to load it; no "
            "package was written. A loopml candidate that saves a new type is a bug: report it "
            "(a type is added to the allow-list only once loading it is known to run no code)"
        )
    return "estimator.skops", data


def package_files(
    model: TrainedModel,
    meta: PackageMeta,
    schema: Schema,
    profile: Profile,
    reference: Profile | None = None,
) -> dict[str, bytes]:
    """Every file of a package (the manifest last), as bytes."""
    name, estimator = _estimator_file(model)
    files = {
        "pipeline.json": _json(model.pipeline.to_dict()),
        name: estimator,
        "meta.json": _json(meta.model_dump()),
        "schema.json": _json(schema.to_dict()),
        "profile.json": _json(profile.to_dict()),
    }
    if reference is not None:
        files["reference.json"] = _json(reference.to_dict())
    manifest = {"format": FORMAT, "files": {k: _sha(v) for k, v in sorted(files.items())}}
    files["manifest.json"] = _json(manifest)
    return files


def save_package(
    store: Store,
    name: str,
    model: TrainedModel,
    meta: PackageMeta,
    schema: Schema,
    profile: Profile,
    *,
    reference: Profile | None = None,
    run_id: int | None = None,
    metrics: dict[str, Any] | None = None,
) -> ModelRecord:
    """Write a package's files, then register it as the next version of ``name``."""
    files = package_files(model, meta, schema, profile, reference)
    identity = _sha(files["manifest.json"])
    prefix = f"models/{name}/{identity[:16]}"
    for filename, data in files.items():
        if filename != "manifest.json":
            store.artifacts.put_bytes(f"{prefix}/{filename}", data)
    store.artifacts.put_bytes(f"{prefix}/manifest.json", files["manifest.json"])  # last: complete
    return store.models.register(
        name=name, package_uri=prefix, sha256=identity, run_id=run_id, metrics=metrics or {}
    )


def _read(store: Store, record: ModelRecord, filename: str, expected: str | None) -> bytes:
    key = f"{record.package_uri}/{filename}"
    try:
        data = store.artifacts.get_bytes(key)
    except (OSError, LoopmlError) as exc:
        raise PackageError(
            f"model {record.ref}: {filename} is missing from its package ({key}): {exc}; "
            "the package is incomplete — re-register the model from its run"
        ) from exc
    if expected is not None and _sha(data) != expected:
        raise PackageError(
            f"model {record.ref}: {filename} does not match its checksum (expected sha256 "
            f"{expected[:12]}…, got {_sha(data)[:12]}…): the package was modified or truncated; "
            "refusing to load it"
        )
    return data


def _load_estimator(filename: str, data: bytes, record: ModelRecord) -> Any:
    if filename == "estimator.lgb.txt":
        try:
            return lgb.Booster(model_str=data.decode())
        except (UnicodeDecodeError, lgb.basic.LightGBMError) as exc:
            raise PackageError(
                f"model {record.ref}: {filename} is not a LightGBM model ({exc}); refusing to "
                "load it — re-register the model from its run"
            ) from exc
    import skops.io as sio

    check_estimator(record.ref, data, filename=filename)  # before skops builds anything
    try:
        return sio.loads(data, trusted=sorted(ALLOWED_TYPES))
    except Exception as exc:  # only allowed types are built; any failure means a damaged file
        raise PackageError(
            f"model {record.ref}: {filename} could not be loaded ({type(exc).__name__}: {exc}); "
            "re-register the model from its run"
        ) from exc


def _manifest(store: Store, record: ModelRecord) -> tuple[dict[str, str], str]:
    """The manifest's ``{file: sha256}`` and the estimator's file name, checked (format, file
    names) before any other file of the package is read."""
    data = _read(store, record, "manifest.json", record.sha256)
    try:
        manifest = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise PackageError(
            f"model {record.ref}: manifest.json is not JSON ({exc}); re-register the model"
        ) from exc
    found = manifest.get("format") if isinstance(manifest, dict) else None
    if found != FORMAT:
        raise PackageError(
            f"model {record.ref}: unknown package format {found!r} in manifest.json "
            f"(expected {FORMAT}); upgrade loopml, or re-register the model from its run"
        )
    files = manifest.get("files")
    if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
        raise PackageError(
            f"model {record.ref}: manifest.json has no 'files' object of file name -> sha256 "
            f"(got {type(files).__name__}); re-register the model from its run"
        )
    return files, check_file_names(record.ref, list(files))


def _document(
    record: ModelRecord, files: dict[str, bytes], filename: str, parse: Callable[[Any], T]
) -> T:
    try:
        return parse(orjson.loads(files[filename]))
    except PackageError:
        raise
    except Exception as exc:  # a file that passed its checksum but does not describe its part
        raise PackageError(
            f"model {record.ref}: {filename} does not describe a model package "
            f"({type(exc).__name__}: {exc}); re-register the model from its run"
        ) from exc


def load_package(store: Store, ref: str) -> Package:
    """Load and verify the model ``ref`` (``name@3``, ``name@champion``, ``name``)."""
    record = store.models.get(ref)
    checksums, estimator_name = _manifest(store, record)
    files = {name: _read(store, record, name, sha) for name, sha in checksums.items()}
    estimator = _load_estimator(estimator_name, files[estimator_name], record)
    meta = PackageMeta.from_json(files["meta.json"], ref=record.ref)
    model = TrainedModel(
        task=meta.task,
        candidate=meta.candidate,
        pipeline=_document(record, files, "pipeline.json", FeaturePipeline.from_dict),
        estimator=estimator,
        classes=meta.classes,
        threshold=meta.threshold,
        params=meta.params,
    )
    return Package(
        record,
        model,
        meta,
        _document(record, files, "schema.json", Schema.from_dict),
        _document(record, files, "profile.json", Profile.from_dict),
        _document(record, files, "reference.json", Profile.from_dict)
        if "reference.json" in files
        else None,
    )


def read_document(store: Store, record: ModelRecord, filename: str) -> Any:
    """One JSON file of ``record``'s package (``meta.json``, ``profile.json``, ``schema.json``),
    checked against the manifest like :func:`load_package` does, without loading the estimator.

    For pages and reports that show a model: reading ``meta.json`` costs milliseconds where
    loading a LightGBM package costs far more. Raises :class:`PackageError` like ``load_package``.
    """
    checksums, _ = _manifest(store, record)
    expected = checksums.get(filename)
    if expected is None:
        raise PackageError(
            f"model {record.ref}: its manifest lists no {filename!r} "
            f"(files: {', '.join(sorted(checksums))})"
        )
    data = {filename: _read(store, record, filename, expected)}
    return _document(record, data, filename, lambda document: document)


def read_meta(store: Store, record: ModelRecord) -> PackageMeta:
    """``record``'s :class:`PackageMeta`, checked against the manifest, without the estimator."""
    return PackageMeta.from_json(read_document(store, record, "meta.json"), ref=record.ref)
