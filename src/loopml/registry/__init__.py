"""The model registry: safe packages, versions, aliases, lineage, and the champion gate.

A **package** is a folder of plain files under ``models/<name>/<id>/`` in the artifact root:

- ``pipeline.json``: the fitted feature pipeline (JSON);
- ``estimator.lgb.txt`` (LightGBM's own text format) or ``estimator.skops`` (scikit-learn objects
  through skops, loaded only when every type in it is a scikit-learn, NumPy or SciPy type);
- ``meta.json``: task, classes, threshold, parameters, metrics per split and lineage (run, dataset
  version and content hash, code version, spec);
- ``schema.json`` and ``profile.json``: the input schema and the training profile, so serving and
  monitoring never need the training data;
- ``manifest.json``: the SHA-256 of every file. The manifest's own SHA-256 is the package's
  identity, kept in the store; loading checks both, so a tampered or truncated package is refused.

Nothing is pickled. A new version becomes **champion** only when it meets the spec's targets on
its test data and beats the current champion on that same data by the spec's margin; otherwise it
is kept as **challenger**, with the reason recorded.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import orjson
import polars as pl

from loopml.data.profile import Profile
from loopml.data.schema import Schema
from loopml.errors import LoopmlError, NotFoundError, PackageError
from loopml.features.pipeline import FeaturePipeline
from loopml.modeling import metrics as M
from loopml.modeling.model import TrainedModel
from loopml.modeling.train import TrainResult
from loopml.spec import Spec
from loopml.stats.sketch import QuantileSketch
from loopml.store import ModelRecord, Store

FORMAT = "loopml.model/1"
TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.", "builtins.")


@dataclass(frozen=True)
class Package:
    """A loaded, verified model package."""

    record: ModelRecord
    model: TrainedModel
    meta: dict[str, Any]
    schema: Schema
    profile: Profile


@dataclass(frozen=True)
class GateDecision:
    """Whether a new version may become champion, with every check's value and threshold."""

    blessed: bool
    checks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def reason(self) -> str:
        failed = [c["message"] for c in self.checks if not c["passed"]]
        if failed:
            return "; ".join(failed)
        if any(c["check"] == "beats champion" for c in self.checks):
            return "meets every target and beats the champion"
        return "meets every target (no champion before it)"


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
    model: TrainedModel, meta: dict[str, Any], schema: Schema, profile: Profile
) -> dict[str, bytes]:
    """Every file of a package (the manifest last), as bytes."""
    name, estimator = _estimator_file(model)
    files = {
        "pipeline.json": _json(model.pipeline.to_dict()),
        name: estimator,
        "meta.json": _json(meta),
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
    meta: dict[str, Any],
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
    meta = orjson.loads(files["meta.json"])
    pipeline = FeaturePipeline.from_dict(orjson.loads(files["pipeline.json"]))
    model = TrainedModel(
        task=meta["task"],
        candidate=meta["candidate"],
        pipeline=pipeline,
        estimator=_load_estimator(estimator_name, files[estimator_name], record),
        classes=meta["classes"],
        threshold=meta["threshold"],
        params=meta["params"],
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


# --- the gate ----------------------------------------------------------------------------------


def _meets(name: str, value: float | None, target: float) -> bool:
    if value is None:
        return False
    return value >= target if M.greater_is_better(name) else value <= target


def _shown(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def gate(
    spec: Spec,
    metrics: dict[str, float],
    champion: dict[str, float] | None,
    *,
    on: str = "the test split",
    relative: bool = False,
) -> GateDecision:
    """Check a new version's metrics against the spec's targets and the champion's, both
    measured ``on`` the same data. With ``relative`` (a comparison window of recent production
    data, not a test split), a target the champion misses there too (a hard month, not a worse
    model) holds the new version to the champion's value instead."""
    checks: list[dict[str, Any]] = []
    primary = spec.metric.name

    def check(
        name: str, value: float | None, threshold: float | None, passed: bool, message: str
    ) -> None:
        checks.append(
            {
                "check": name,
                "value": value,
                "threshold": threshold,
                "passed": passed,
                "message": message,
            }
        )

    targets = dict(spec.targets.metrics)
    if spec.metric.target is not None:
        targets = {primary: spec.metric.target, **targets}
    for name, target in targets.items():
        got = metrics.get(name)
        ok = _meets(name, got, target)
        message = f"{name} {_shown(got)} {'meets' if ok else 'misses'} the target {target}"
        incumbent = (champion or {}).get(name)
        if (
            relative
            and not ok
            and got is not None
            and incumbent is not None
            and not _meets(name, incumbent, target)
        ):  # a bar the serving model misses on this data too: held to the serving model's
            ok = _meets(name, got, incumbent)
            message += (
                f" on {on}, as does the champion ({incumbent:.4f}): "
                f"{'no worse' if ok else 'worse'} than the champion there"
            )
        check(f"{name} target", got, target, ok, message)
    value = metrics.get(primary)
    if champion is not None and champion.get(primary) is not None and value is not None:
        champ = champion[primary]
        gain = value - champ if M.greater_is_better(primary) else champ - value
        margin = spec.metric.margin
        ok = gain >= margin if margin > 0 else gain > 0
        check(
            "beats champion",
            value,
            champ + (margin if M.greater_is_better(primary) else -margin),
            ok,
            f"{primary} {value:.4f} vs champion {champ:.4f} on {on} "
            f"(gain {gain:+.4f}, margin {margin})",
        )
    return GateDecision(all(c["passed"] for c in checks), checks)


def score_package(
    model: TrainedModel, frame: pl.DataFrame, y: np.ndarray, spec: Spec
) -> dict[str, float]:
    """A model's metrics on ``frame`` (same encoded target ``y``), with its own threshold."""
    output = model.output(model.pipeline.transform(frame))
    return M.compute(spec.task, y, output, threshold=model.threshold)


@dataclass(frozen=True)
class Comparison:
    """Where the gate compares a new version with the champion, when not on its own test split:
    labelled rows that neither trained on (the maintenance loop's most recent labelled window).
    ``label`` says what they are, for the record."""

    frame: pl.DataFrame
    label: str


def encode_like(series: pl.Series, classes: list[Any], spec: Spec) -> tuple[np.ndarray, np.ndarray]:
    """``(y, keep)``: ``series`` encoded in a trained model's class order (``classes``); rows
    without a target, or of a class the model never saw, are not kept."""
    if spec.task == "regression":
        values = series.cast(pl.Float64, strict=False)
        keep = values.is_not_null().to_numpy() & np.isfinite(values.fill_null(0.0).to_numpy())
        return values.filter(pl.Series(keep)).to_numpy(), keep
    codes = {M.label_text(c): i for i, c in enumerate(classes)}
    texts = [None if v is None else M.label_text(v) for v in series.to_list()]
    keep = np.array([t in codes for t in texts], dtype=bool)
    return np.array([codes[t] for t in texts if t in codes], dtype=int), keep


def _labelled(
    frame: pl.DataFrame, classes: list[Any], spec: Spec, label: str
) -> tuple[pl.DataFrame, np.ndarray]:
    """The rows of ``frame`` with a target a model of ``classes`` knows, and their codes."""
    y, keep = encode_like(frame[spec.target], classes, spec)
    kept = frame.filter(pl.Series(keep))
    if kept.height < 2 or (spec.task != "regression" and len(np.unique(y)) < 2):
        raise LoopmlError(
            f"{label}: {kept.height} usable labelled rows, of one class or none: the models "
            "cannot be compared there; wait for more labels"
        )
    return kept, y


def register(
    store: Store,
    spec: Spec,
    result: TrainResult,
    *,
    comparison: Comparison | None = None,
    champion: str | None = None,
    blessed_alias: str = "champion",
) -> tuple[ModelRecord, GateDecision]:
    """Package the best candidate of ``result``, register it, and let the gate set its alias.

    The gate compares with ``champion`` (default: the ``champion`` alias) on the test split, or
    on ``comparison`` when given. A blessed version gets ``blessed_alias`` (the maintenance loop
    uses ``challenger`` and lets the rollout make it champion), the others ``challenger``.
    """
    best = result.best
    test_rows = result.data.split.test
    if comparison is not None:
        frame_cmp, y_cmp = _labelled(comparison.frame, result.classes, spec, comparison.label)
        metrics = score_package(best.model, frame_cmp, y_cmp, spec)
        where = comparison.label
    else:
        frame_cmp, y_cmp = result.data.frame[test_rows], result.data.y[test_rows]
        metrics, where = best.metrics["test"], "the test split"
    champion_metrics = None
    champion_ref = None
    problem = None
    try:
        incumbent = load_package(store, champion or f"{spec.name}@champion")
    except NotFoundError:
        incumbent = None
    except LoopmlError as exc:  # a damaged champion package
        incumbent, problem = None, f"could not load the champion: {exc}"
    if incumbent is not None:
        champion_ref = incumbent.record.ref
        try:
            if comparison is not None:  # in its own class order (a new class may have come)
                frame_inc, y_inc = _labelled(frame_cmp, incumbent.model.classes, spec, where)
            else:
                frame_inc, y_inc = frame_cmp, y_cmp
            champion_metrics = score_package(incumbent.model, frame_inc, y_inc, spec)
        except Exception as exc:  # e.g. the spec's features changed since it was trained
            problem = f"could not score the champion {champion_ref} on the same data: {exc}"
    decision = gate(spec, metrics, champion_metrics, on=where, relative=comparison is not None)
    if problem is not None:  # never replace a champion that could not be compared
        decision = GateDecision(
            False,
            [
                *decision.checks,
                {
                    "check": "beats champion",
                    "value": None,
                    "threshold": None,
                    "passed": False,
                    "message": f"{problem}; promote by hand: loopml models alias REF champion",
                },
            ],
        )
    profile = result.dataset.profile
    test_output = best.model.output(best.model.pipeline.transform(result.data.frame[test_rows]))
    schema = Schema(
        {
            name: rule
            for name, rule in result.dataset.schema.columns.items()
            if name in set(best.model.pipeline.input_columns_)
        }
    )
    meta = {
        "format": FORMAT,
        "task": spec.task,
        "candidate": best.name,
        "classes": result.classes,
        "threshold": best.model.threshold,
        "params": best.params,
        "metrics": best.metrics,
        "feature_names": best.model.pipeline.feature_names_,
        "input_columns": best.model.pipeline.input_columns_,
        "baselines": {r.name: r.metrics for r in result.results if r.baseline},
        # the scores' distribution on the test split: monitoring's reference for prediction drift
        "score_profile": QuantileSketch.from_values(best.model.scores(test_output)).to_dict(),
        "lineage": {
            "run_id": result.run_id,
            "candidate_run_id": best.run_id,
            "dataset": result.dataset.ref,
            "dataset_hash": result.dataset.record.content_hash,
            "split": result.data.split.method,
            "sizes": result.data.split.sizes(),
            "code_version": store.runs.get(result.run_id).code_version,
            "spec": spec.model_dump(mode="json"),
        },
        "gate": {
            "blessed": decision.blessed,
            "on": where,
            "checks": decision.checks,
            "metrics": metrics,
            "champion": champion_ref,
            "champion_metrics": champion_metrics,
        },
    }
    record = save_package(
        store,
        spec.name,
        best.model,
        meta,
        schema,
        profile,
        run_id=best.run_id,
        metrics=best.metrics["test"],
    )
    alias = blessed_alias if decision.blessed else "challenger"
    store.models.set_alias(spec.name, alias, record.version)
    record = store.models.set_note(record.ref, decision.reason)
    return record, decision


def gate_to_dict(decision: GateDecision) -> dict[str, Any]:
    return {**asdict(decision), "reason": decision.reason}
