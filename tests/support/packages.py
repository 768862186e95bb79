"""Model packages and skops files written by hand, as someone with write access to the store and
the artifact folder could: for the tests that check such packages are refused."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from loopml.registry.meta import FORMAT
from loopml.store import ModelRecord, Store


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def plant(
    store: Store,
    name: str,
    files: dict[str, bytes],
    *,
    listed: dict[str, str] | None = None,
    manifest: bytes | None = None,
) -> ModelRecord:
    """Write ``files`` as a package and register it with a manifest of their checksums (plus
    ``listed`` entries, written to the manifest only), as someone with write access could."""
    if manifest is None:
        checksums = {k: sha(v) for k, v in files.items()} | (listed or {})
        manifest = orjson.dumps({"format": FORMAT, "files": dict(sorted(checksums.items()))})
    prefix = f"models/{name}/{sha(manifest)[:16]}"
    for filename, data in files.items():
        store.artifacts.put_bytes(f"{prefix}/{filename}", data)
    store.artifacts.put_bytes(f"{prefix}/manifest.json", manifest)
    return store.models.register(name=name, package_uri=prefix, sha256=sha(manifest))


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    return buffer.getvalue()


def skops_zip(schema: dict[str, Any], members: dict[str, bytes] | None = None) -> bytes:
    """A skops file (protocol 2) with ``schema`` as its ``schema.json``."""
    return zip_bytes(
        {"schema.json": json.dumps({**schema, "protocol": 2}).encode(), **(members or {})}
    )


def json_node(value: Any) -> dict[str, Any]:
    return {
        "__class__": "str",
        "__module__": "builtins",
        "__loader__": "JsonNode",
        "content": json.dumps(value),
        "is_json": True,
    }


def call_node(module: str, name: str, *args: Any) -> dict[str, Any]:
    """A node skops loads by calling ``module.name(*args)``: the reduce-style constructor."""
    return {
        "__class__": name,
        "__module__": module,
        "__loader__": "ConstructorFromReduceNode",
        "content": {
            "__class__": "tuple",
            "__module__": "builtins",
            "__loader__": "TupleNode",
            "content": [json_node(a) for a in args],
        },
    }


class Payload:
    """Pickles to a call that creates ``marker``: what an unpickled model file could do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        return open, (str(self.marker), "w")
