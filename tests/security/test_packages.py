"""Hostile and malformed model packages: loading one never runs code from it, and every refusal
is a PackageError naming the model, the file and what to do (issue 12, item 1).

The hostile packages are written by hand, as an attacker would: a skops zip whose ``schema.json``
names ``builtins.eval``, ``builtins.exec``, ``builtins.__import__`` or ``os.system``, pickles, and
manifests naming paths. Each payload would create a marker file; the tests check it never does.
The allow-list itself is pinned in test_package_allowlist.py.
"""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import polars as pl
import pytest

from loopml.data.versions import add_frame
from loopml.errors import PackageError
from loopml.modeling.train import train
from loopml.registry import load_package, read_meta, register
from loopml.registry.allowlist import check_estimator
from loopml.registry.meta import FORMAT
from loopml.spec import parse_spec
from loopml.store import ModelRecord, Store
from tests.support.packages import Payload, call_node, plant, sha, skops_zip, zip_bytes
from tests.support.projects import FLIGHTS_SPEC, project_store

# ---------------------------------------------------------------------------------------------
# a real package to start from


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory, flights_sample: pl.DataFrame) -> Any:
    """A store with a registered linear model, and its package's files."""
    root = tmp_path_factory.mktemp("packages")
    store = Store(f"sqlite:///{root / 'loopml.db'}", root / "artifacts")
    spec = parse_spec(FLIGHTS_SPEC + "metric: {name: roc_auc}\nmodel: {candidates: [linear]}\n")
    version = add_frame(store, flights_sample.head(3000), name="flights", source="test")
    record, _ = register(store, spec, train(store, spec, version))
    folder = Path(store.artifacts.root) / record.package_uri
    files = {p.name: p.read_bytes() for p in folder.iterdir() if p.name != "manifest.json"}
    assert "estimator.skops" in files
    yield store, files
    store.close()


def documents(files: dict[str, bytes]) -> dict[str, bytes]:
    return {k: v for k, v in files.items() if not k.startswith("estimator.")}


def refusal(store: Store, record: ModelRecord, *fragments: str, marker: Path | None = None) -> str:
    """Load ``record``: it must be refused with a message naming the model and ``fragments``,
    and (checked first) without creating ``marker``, the file its payload would create."""
    try:
        load_package(store, record.ref)
    except PackageError as exc:
        message = str(exc)
    else:
        message = ""
    assert marker is None or not marker.exists(), "loading the package ran its payload"
    assert message, f"{record.ref} was loaded, not refused"
    assert record.ref in message, message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_the_real_package_loads(base: Any) -> None:
    store, files = base
    record = plant(store, "plain", files)
    assert load_package(store, record.ref).model.candidate == "linear"


# ---------------------------------------------------------------------------------------------
# code in the estimator file


def _import_payload(tmp_path: Path, marker: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    module = f"loopml_payload_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{module}.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return module


@pytest.mark.parametrize(
    ("callable_", "payload"),
    [
        ("builtins.eval", lambda marker: f"open({str(marker)!r}, 'w').close()"),
        ("builtins.exec", lambda marker: f"open({str(marker)!r}, 'w').close()"),
        ("builtins.__import__", None),
        ("os.system", lambda marker: f"touch {marker}"),
    ],
)
def test_a_skops_file_that_calls_code_is_refused_before_anything_runs(
    base: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    callable_: str,
    payload: Callable[[Path], str] | None,
) -> None:
    store, files = base
    marker = tmp_path / "pwned"
    argument = payload(marker) if payload else _import_payload(tmp_path, marker, monkeypatch)
    module, name = callable_.rsplit(".", 1)
    estimator = skops_zip(call_node(module, name, argument))
    record = plant(store, "trojan", {**documents(files), "estimator.skops": estimator})
    message = refusal(
        store,
        record,
        f"untrusted type {callable_} in estimator.skops",
        "re-register",
        marker=marker,
    )
    assert "refusing to load" in message
    with pytest.raises(PackageError, match=f"untrusted type {callable_}"):
        check_estimator("x@1", estimator)


def test_a_payload_hidden_inside_a_real_estimator_is_refused(base: Any, tmp_path: Path) -> None:
    store, files = base
    marker = tmp_path / "pwned"
    with zipfile.ZipFile(io.BytesIO(files["estimator.skops"])) as archive:
        members = {n: archive.read(n) for n in archive.namelist() if n != "schema.json"}
        schema = json.loads(archive.read("schema.json"))
    # the pipeline's attributes: one more, built (and so called) while loading them
    attributes = schema["content"]
    attributes["content"]["hook"] = call_node(
        "builtins", "eval", f"open({str(marker)!r}, 'w').close()"
    )
    attributes["key_types"]["content"].append(
        {"__class__": "str", "__module__": "builtins", "__loader__": "TypeNode"}
    )
    estimator = skops_zip(schema, members)
    record = plant(store, "hidden", {**documents(files), "estimator.skops": estimator})
    refusal(store, record, "untrusted type builtins.eval in estimator.skops", marker=marker)


def test_the_cli_refuses_a_trojan_without_running_it_or_a_traceback(
    base: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cli: Any,
    flights_sample: pl.DataFrame,
) -> None:
    _, files = base
    monkeypatch.chdir(tmp_path)
    for name in ("LOOPML_DB_URL", "LOOPML_HOME", "LOOPML_ARTIFACTS"):
        monkeypatch.delenv(name, raising=False)
    marker = tmp_path / "pwned"
    estimator = skops_zip(call_node("builtins", "eval", f"open({str(marker)!r}, 'w').close()"))
    with project_store(tmp_path) as store:
        plant(store, "flights", {**documents(files), "estimator.skops": estimator})
    flights_sample.head(20).write_csv(tmp_path / "rows.csv")
    for args in (
        ("models", "show", "flights@1"),
        ("predict", "rows.csv", "--out", "out.csv", "--model", "flights@1"),
    ):
        code, out, err = cli(*args)
        assert not marker.exists(), f"loopml {' '.join(args)} ran the payload"
        assert code == 2, (out, err)  # a loopml error: the message, no traceback
        assert "untrusted type builtins.eval in estimator.skops" in out + err
        assert "Traceback" not in out + err
    assert not (tmp_path / "out.csv").exists()


def test_an_object_loopml_never_saves_is_refused(base: Any) -> None:
    store, files = base
    node = {"__class__": "Hook", "__module__": "mypackage.hooks", "__loader__": "ObjectNode"}
    record = plant(store, "hook", {**documents(files), "estimator.skops": skops_zip(node)})
    refusal(store, record, "untrusted type mypackage.hooks.Hook in estimator.skops")


def test_an_allowed_type_through_a_loader_loopml_never_uses_is_refused(base: Any) -> None:
    store, files = base
    node = {"__class__": "str", "__module__": "builtins", "__loader__": "FunctionNode"}
    record = plant(store, "loader", {**documents(files), "estimator.skops": skops_zip(node)})
    refusal(
        store, record, "untrusted skops loader FunctionNode (for builtins.str) in estimator.skops"
    )


# ---------------------------------------------------------------------------------------------
# pickles


def test_a_pickled_estimator_is_never_unpickled(base: Any, tmp_path: Path) -> None:
    store, files = base
    marker = tmp_path / "pwned"
    evil = pickle.dumps(Payload(marker))
    record = plant(store, "pickled", {**documents(files), "estimator.pkl": evil})
    refusal(store, record, "'estimator.pkl'", "never loads pickles", marker=marker)
    record = plant(store, "pickled", {**documents(files), "estimator.skops": evil})
    refusal(store, record, "estimator.skops holds a pickle", marker=marker)


def test_a_pickle_beside_the_estimator_is_refused(base: Any, tmp_path: Path) -> None:
    store, files = base
    marker = tmp_path / "pwned"
    record = plant(store, "extra", {**files, "model.pkl": pickle.dumps(Payload(marker))})
    refusal(store, record, "'model.pkl'", "never loads pickles", marker=marker)
    with pytest.raises(PackageError, match="never loads pickles"):
        read_meta(store, record)


def test_a_pickled_array_inside_the_skops_file_is_not_loaded(base: Any, tmp_path: Path) -> None:
    store, files = base
    marker = tmp_path / "pwned"
    array = io.BytesIO()
    np.save(array, np.array([Payload(marker)], dtype=object), allow_pickle=True)
    node = {
        "__class__": "ndarray",
        "__module__": "numpy",
        "__loader__": "NdArrayNode",
        "type": "numpy",
        "file": "array.npy",
    }
    estimator = skops_zip(node, {"array.npy": array.getvalue()})
    record = plant(store, "npy", {**documents(files), "estimator.skops": estimator})
    refusal(store, record, "estimator.skops could not be loaded", "allow_pickle", marker=marker)


# ---------------------------------------------------------------------------------------------
# the manifest


@pytest.mark.parametrize(
    "listed", ["../meta.json", "../../../evil.pkl", "sub/../meta.json", "/etc/passwd", "..\\x"]
)
def test_a_manifest_entry_with_a_path_is_refused_before_it_is_read(base: Any, listed: str) -> None:
    store, files = base
    outside = Path(store.artifacts.root) / "models" / "meta.json"  # what ../meta.json reaches
    outside.write_bytes(files["meta.json"])
    record = plant(store, "escape", files, listed={listed: sha(files["meta.json"])})
    refusal(store, record, repr(listed), "is not a plain file name")
    with pytest.raises(PackageError, match="not a plain file name"):
        read_meta(store, record)


# ---------------------------------------------------------------------------------------------
# malformed packages


def _without(name: str) -> Callable[[dict[str, bytes]], dict[str, bytes]]:
    return lambda files: {k: v for k, v in files.items() if k != name}


def _with(name: str, data: bytes) -> Callable[[dict[str, bytes]], dict[str, bytes]]:
    return lambda files: {**files, name: data}


def _lightgbm(data: bytes) -> Callable[[dict[str, bytes]], dict[str, bytes]]:
    return lambda files: {**documents(files), "estimator.lgb.txt": data}


MALFORMED = {
    "estimator not a zip": (_with("estimator.skops", b"not a zip at all"), "not a zip archive"),
    "skops zip without schema": (
        _with("estimator.skops", zip_bytes({"a.npy": b"x"})),
        "has no schema.json",
    ),
    "schema not JSON": (
        _with("estimator.skops", zip_bytes({"schema.json": b"{nope"})),
        "schema.json",
    ),
    "schema without objects": (_with("estimator.skops", skops_zip({})), "holds no object"),
    "node without a module": (
        _with("estimator.skops", skops_zip({"__class__": "dict", "__loader__": "DictNode"})),
        "no string __module__",
    ),
    "damaged allowed node": (
        _with(
            "estimator.skops",
            skops_zip({"__class__": "dict", "__module__": "builtins", "__loader__": "DictNode"}),
        ),
        "estimator.skops could not be loaded",
    ),
    "no estimator": (_without("estimator.skops"), "no estimator file"),
    "two estimators": (_with("estimator.lgb.txt", b"tree\n"), "two estimator files"),
    "lightgbm garbage": (_lightgbm(b"tree\nversion=v4\n"), "not a LightGBM model"),
    "lightgbm not text": (_lightgbm(b"\xff\xfe\x00"), "not a LightGBM model"),
    "no meta.json": (_without("meta.json"), "no meta.json"),
    "meta.json not JSON": (_with("meta.json", b"{not json"), "meta.json"),
    "pipeline.json not JSON": (_with("pipeline.json", b"\x00"), "pipeline.json"),
    "pipeline.json of another shape": (_with("pipeline.json", b"[1, 2]"), "pipeline.json"),
    "profile.json of another shape": (_with("profile.json", b'{"x": 1}'), "profile.json"),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_a_malformed_package_gets_a_clear_refusal(base: Any, case: str) -> None:
    store, files = base
    damage, fragment = MALFORMED[case]
    record = plant(store, "broken", damage(files))
    message = refusal(store, record, fragment)
    assert "re-register" in message


@pytest.mark.parametrize(
    ("manifest", "fragment"),
    [
        (b"not json", "manifest.json is not JSON"),
        (b"[1, 2]", "unknown package format"),
        (orjson.dumps({"format": FORMAT}), "no 'files' object"),
        (orjson.dumps({"format": FORMAT, "files": {"meta.json": 3}}), "no 'files' object"),
    ],
)
def test_a_malformed_manifest_gets_a_clear_refusal(
    base: Any, manifest: bytes, fragment: str
) -> None:
    store, files = base
    record = plant(store, "manifest", files, manifest=manifest)
    refusal(store, record, fragment)
    with pytest.raises(PackageError, match=fragment):
        read_meta(store, record)


def test_reading_a_meta_json_that_is_not_json_is_a_package_error(base: Any) -> None:
    store, files = base
    record = plant(store, "meta", {**files, "meta.json": b"{not json"})
    with pytest.raises(PackageError, match=r"meta\.json.*re-register"):
        read_meta(store, record)
