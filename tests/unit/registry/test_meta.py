"""The typed package metadata: today's meta.json reads back unchanged, a broken one is refused."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from loopml.errors import PackageError
from loopml.registry import PackageMeta

#: meta.json as the registry wrote it before PackageMeta (commit 44d8442), for a tiny binary task
WRITTEN_BEFORE = Path(__file__).parent / "data" / "meta-44d8442.json"


def _written(meta: PackageMeta) -> bytes:
    """The bytes the registry writes for ``meta`` (as ``package_files`` does)."""
    return orjson.dumps(meta.model_dump(), option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_INDENT_2)


def test_a_meta_json_written_before_the_typed_meta_reads_back_and_writes_the_same_bytes() -> None:
    data = WRITTEN_BEFORE.read_bytes()
    meta = PackageMeta.from_json(data, ref="tiny@1")
    assert meta.task == "binary" and meta.candidate == "linear" and meta.classes == [False, True]
    assert meta.lineage.dataset == "tiny@1" and meta.lineage.sizes is not None
    assert meta.gate is not None and meta.gate.blessed and meta.gate.on == "the test split"
    assert meta.metrics["test"]["roc_auc"] == pytest.approx(0.96)
    assert meta.score_profile is not None and "baseline" in meta.baselines
    assert _written(meta) == data  # same layout, so the same package identity when copied


@pytest.mark.parametrize("key", ["lineage", "candidate", "metrics"])
def test_a_meta_json_without_a_required_key_is_refused_naming_the_model(key: str) -> None:
    raw = orjson.loads(WRITTEN_BEFORE.read_bytes())
    del raw[key]
    with pytest.raises(PackageError, match=rf"model tiny@1: meta\.json .*{key}"):
        PackageMeta.from_json(orjson.dumps(raw), ref="tiny@1")


def test_the_keys_pages_treat_as_optional_may_be_absent() -> None:
    raw = orjson.loads(WRITTEN_BEFORE.read_bytes())
    for key in ("baselines", "score_profile", "gate"):
        del raw[key]
    del raw["lineage"]["sizes"], raw["lineage"]["code_version"]
    meta = PackageMeta.from_json(raw, ref="tiny@1")
    assert meta.gate is None and meta.baselines == {} and meta.lineage.code_version is None
