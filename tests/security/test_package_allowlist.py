"""The allow-list of estimator types is exactly what loopml's candidates save, and the checks
that enforce it never crash: whatever the bytes, a file is allowed or refused with a PackageError
(issue 12, item 1; the hostile packages themselves are in test_packages.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
import skops.io as sio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loopml.data.versions import add_frame
from loopml.errors import PackageError
from loopml.modeling.train import train
from loopml.registry import load_package, register, save_package
from loopml.registry.allowlist import (
    ALLOWED_NODES,
    ALLOWED_TYPES,
    check_estimator,
    check_file_names,
    skops_contents,
)
from loopml.spec import parse_spec
from loopml.store import Store
from tests.support.packages import skops_zip
from tests.support.projects import FLIGHTS_SPEC


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200))
def test_any_bytes_as_a_skops_file_are_refused_with_a_package_error(data: bytes) -> None:
    with pytest.raises(PackageError, match=r"^model m@1: "):
        check_estimator("m@1", data)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=20,
)
_NODE_KEYS = st.sampled_from(["__class__", "__module__", "__loader__", "content", "x"])
_NODES = st.recursive(
    st.dictionaries(_NODE_KEYS, st.text(max_size=10) | _JSON, max_size=5),
    lambda inner: st.dictionaries(_NODE_KEYS, inner | st.lists(inner, max_size=3), max_size=5),
    max_leaves=15,
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_NODES)
def test_any_schema_is_read_without_building_anything(schema: dict[str, Any]) -> None:
    data = skops_zip(schema)
    try:
        found = skops_contents(data)
    except PackageError as exc:
        assert "estimator.skops" in str(exc)
        return
    assert found and all(isinstance(t, str) and isinstance(n, str) for t, n in found)


@given(st.lists(st.text(max_size=20), max_size=8))
def test_any_file_names_are_a_package_or_refused(names: list[str]) -> None:
    try:
        estimator = check_file_names("m@1", names)
    except PackageError as exc:
        assert str(exc).startswith("model m@1: ")
        return
    assert set(names) == {"pipeline.json", "meta.json", "schema.json", "profile.json", estimator}


# ---------------------------------------------------------------------------------------------
# the allow-list is exactly what loopml's candidates save

TASKS = {
    "binary": FLIGHTS_SPEC + "metric: {name: roc_auc}\n",
    "multiclass": FLIGHTS_SPEC.replace("task: binary", "task: multiclass")
    .replace("target: late", "target: origin")
    .replace("positive_class: true\n", "")
    .replace("[carrier, origin, dest]", "[carrier, dest]")
    + "metric: {name: log_loss}\n",
    "regression": FLIGHTS_SPEC.replace("task: binary", "task: regression")
    .replace("target: late", "target: temp")
    .replace("positive_class: true\n", "")
    .replace("temp, humid", "humid")
    + "metric: {name: rmse}\n",
}


def test_the_allow_list_is_exactly_what_every_candidate_saves(
    tmp_path: Path, flights_sample: pl.DataFrame
) -> None:
    from loopml.modeling.candidates import CANDIDATES

    store = Store(f"sqlite:///{tmp_path / 'loopml.db'}", tmp_path / "artifacts")
    version = add_frame(store, flights_sample.head(2500), name="flights", source="test")
    everything = [name for name in CANDIDATES if name != "baseline"]
    saved: dict[tuple[str, str], set[tuple[str, str]]] = {}
    boosters = set()
    results = {}
    for task, text in TASKS.items():
        # LightGBM is saved as text for every task; on three classes it takes half a minute here
        candidates = [c for c in everything if task != "multiclass" or c != "lightgbm"]
        spec = parse_spec(text + f"model: {{candidates: [{', '.join(candidates)}]}}\n")
        result = train(store, spec, version)
        assert {r.name for r in result.results} == {"baseline", *candidates}
        results[task] = (spec, result)
        for r in result.results:
            if r.model.is_booster:  # LightGBM's own text format: no skops, no types
                boosters.add(r.name)
            else:
                saved[task, r.name] = skops_contents(sio.dumps(r.model.estimator))
    assert boosters == {"lightgbm"}
    types = {t for found in saved.values() for t, _ in found}
    loaders = {n for found in saved.values() for _, n in found}
    assert types <= ALLOWED_TYPES, (
        f"a candidate now saves types outside ALLOWED_TYPES: {sorted(types - ALLOWED_TYPES)}; "
        "check that loading each runs no code, then add it to loopml.registry.allowlist"
    )
    assert types == ALLOWED_TYPES, (
        f"ALLOWED_TYPES holds types no candidate saves: {sorted(ALLOWED_TYPES - types)}; "
        "remove them from loopml.registry.allowlist"
    )
    assert loaders == ALLOWED_NODES, (
        f"skops loaders saved {sorted(loaders)} differ from ALLOWED_NODES {sorted(ALLOWED_NODES)}"
    )
    # what skops itself calls untrusted is a part of it; and every candidate's package loads
    for task, (spec, result) in results.items():
        record, _ = register(store, spec, result)
        meta = load_package(store, record.ref).meta
        for r in result.results:
            package = save_package(
                store,
                f"{task}-{r.name}",
                r.model,
                meta.model_copy(update={"candidate": r.name}),
                load_package(store, record.ref).schema,
                result.dataset.profile,
            )
            folder = Path(store.artifacts.root) / package.package_uri
            estimator = next(folder.glob("estimator.*"))
            if estimator.name == "estimator.skops":
                assert set(sio.get_untrusted_types(file=estimator)) <= ALLOWED_TYPES
            loaded = load_package(store, package.ref).model
            frame = result.data.frame.head(50)
            original = r.model.output(r.model.pipeline.transform(frame))
            # allclose: a forest sums its trees' outputs on two threads, in either order
            assert np.allclose(loaded.output(loaded.pipeline.transform(frame)), original)
    store.close()
