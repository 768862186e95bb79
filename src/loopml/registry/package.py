"""The package format: a folder of plain files per model version, verified on load, never pickled.

A **package** is a folder under ``models/<name>/<id>/`` in the artifact root:

- ``pipeline.json``: the fitted feature pipeline (JSON);
- ``estimator.lgb.txt`` (LightGBM's own text format) or ``estimator.skops`` (scikit-learn objects
  through skops, loaded only when every type in it is a scikit-learn, NumPy or SciPy type);
- ``meta.json``: the :class:`~loopml.registry.meta.PackageMeta` (task, classes, threshold,
  parameters, metrics per split, lineage, the gate's decision);
- ``schema.json`` and ``profile.json``: the input schema and the training profile, so serving and
  monitoring never need the training data;
- ``manifest.json``: the SHA-256 of every file. The manifest's own SHA-256 is the package's
  identity, kept in the store; loading checks both, so a tampered or truncated package is refused.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import orjson

from loopml.data.profile import Profile
from loopml.data.schema import Schema
from loopml.errors import LoopmlError, PackageError
from loopml.features.pipeline import FeaturePipeline
from loopml.modeling.model import TrainedModel
from loopml.registry.meta import FORMAT, PackageMeta
from loopml.store import ModelRecord, Store

TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.", "builtins.")


@dataclass(frozen=True)
class Package:
    """A loaded, verified model package."""

    record: ModelRecord
    model: TrainedModel
    meta: PackageMeta
    schema: Schema
    profile: Profile


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _json(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_INDENT_2)


def _estimator_file(model: TrainedModel) -> tuple[str, bytes]:
    if model.is_booster:
        return "estimator.lgb.txt", model.estimator.model_to_string().encode()
    import skops.io as sio

    return "estimator.skops", sio.dumps(model.estimator)


def package_files(
    model: TrainedModel, meta: PackageMeta, schema: Schema, profile: Profile
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
    run_id: int | None = None,
    metrics: dict[str, Any] | None = None,
) -> ModelRecord:
    """Write a package's files, then register it as the next version of ``name``."""
    files = package_files(model, meta, schema, profile)
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
    if filename.endswith(".lgb.txt"):
        return lgb.Booster(model_str=data.decode())
    import skops.io as sio

    untrusted = sio.get_untrusted_types(data=data)
    unsafe = [t for t in untrusted if not t.startswith(TRUSTED_PREFIXES)]
    if unsafe:
        raise PackageError(
            f"model {record.ref}: the estimator holds types outside scikit-learn/NumPy/SciPy "
            f"({', '.join(unsafe[:5])}); refusing to load it"
        )
    return sio.loads(data, trusted=untrusted)


def load_package(store: Store, ref: str) -> Package:
    """Load and verify the model ``ref`` (``name@3``, ``name@champion``, ``name``)."""
    record = store.models.get(ref)
    manifest_bytes = _read(store, record, "manifest.json", record.sha256)
    manifest = orjson.loads(manifest_bytes)
    if manifest.get("format") != FORMAT:
        raise PackageError(
            f"model {record.ref}: unknown package format {manifest.get('format')!r} "
            f"(expected {FORMAT}); upgrade loopml"
        )
    files = {name: _read(store, record, name, sha) for name, sha in manifest["files"].items()}
    estimator_name = next(n for n in files if n.startswith("estimator."))
    meta = PackageMeta.from_json(files["meta.json"], ref=record.ref)
    pipeline = FeaturePipeline.from_dict(orjson.loads(files["pipeline.json"]))
    model = TrainedModel(
        task=meta.task,
        candidate=meta.candidate,
        pipeline=pipeline,
        estimator=_load_estimator(estimator_name, files[estimator_name], record),
        classes=meta.classes,
        threshold=meta.threshold,
        params=meta.params,
    )
    return Package(
        record,
        model,
        meta,
        Schema.from_dict(orjson.loads(files["schema.json"])),
        Profile.from_dict(orjson.loads(files["profile.json"])),
    )


def read_document(store: Store, record: ModelRecord, filename: str) -> Any:
    """One JSON file of ``record``'s package (``meta.json``, ``profile.json``, ``schema.json``),
    checked against the manifest like :func:`load_package` does, without loading the estimator.

    For pages and reports that show a model: reading ``meta.json`` costs milliseconds where
    loading a LightGBM package costs far more. Raises :class:`PackageError` like ``load_package``.
    """
    manifest = orjson.loads(_read(store, record, "manifest.json", record.sha256))
    expected = manifest.get("files", {}).get(filename)
    if expected is None:
        raise PackageError(
            f"model {record.ref}: its manifest lists no {filename!r} "
            f"(files: {', '.join(sorted(manifest.get('files', {})))})"
        )
    return orjson.loads(_read(store, record, filename, expected))


def read_meta(store: Store, record: ModelRecord) -> PackageMeta:
    """``record``'s :class:`PackageMeta`, checked against the manifest, without the estimator."""
    return PackageMeta.from_json(read_document(store, record, "meta.json"), ref=record.ref)
