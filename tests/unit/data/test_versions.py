"""Dataset versions: immutable, content-addressed, idempotent; bad input leaves no trace."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from loopml.data.versions import add_dataset, add_frame, content_hash, get_version, load_frame
from loopml.errors import DataError, NotFoundError, SpecError
from loopml.spec import parse_spec
from loopml.store import Store


def test_add_twice_returns_the_same_version(
    store: Store, tmp_path: Path, flights_sample: pl.DataFrame
) -> None:
    path = tmp_path / "q1.parquet"
    flights_sample.write_parquet(path)
    first = add_dataset(store, path, name="flights")
    again = add_dataset(store, path, name="flights")
    assert first.created and not again.created
    assert first.ref == again.ref == "flights@1"
    assert len(store.datasets.list("flights")) == 1
    assert load_frame(store, first).equals(flights_sample)
    stored = get_version(store, "flights@1")
    assert stored.profile.n_rows == flights_sample.height
    assert stored.schema == first.schema


def test_changed_data_is_a_new_version(store: Store, flights_sample: pl.DataFrame) -> None:
    one = add_frame(store, flights_sample, name="f", source="mem")
    two = add_frame(store, flights_sample.head(-1), name="f", source="mem")
    three = add_frame(store, flights_sample.reverse(), name="f", source="mem")
    assert [one.record.version, two.record.version, three.record.version] == [1, 2, 3]
    assert get_version(store, "f").ref == "f@3"


def test_content_hash_sees_values_types_and_names(flights_sample: pl.DataFrame) -> None:
    base = content_hash(flights_sample)
    assert content_hash(flights_sample.clone()) == base
    assert content_hash(flights_sample.with_columns(pl.col("temp") + 0.01)) != base
    assert content_hash(flights_sample.with_columns(pl.col("seats").cast(pl.Float64))) != base
    assert content_hash(flights_sample.rename({"temp": "temperature"})) != base


def test_bad_input_leaves_the_store_untouched(store: Store, tmp_path: Path) -> None:
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b\n1,2\n3\n")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    for source in (ragged, empty, tmp_path / "missing.csv"):
        with pytest.raises(DataError):
            add_dataset(store, source, name="x")
    with pytest.raises(DataError, match="invalid dataset name"):
        add_frame(store, pl.DataFrame({"a": [1]}), name="../etc", source="mem")
    spec = parse_spec(
        "name: p\ntask: binary\ntarget: late\nfeatures: {numeric: [a]}\nmetric: {name: roc_auc}\n"
    )
    with pytest.raises(SpecError, match="column 'late' is not in"):
        add_frame(store, pl.DataFrame({"a": [1, 2]}), name="x", source="mem", spec=spec)
    assert store.datasets.list() == []
    with pytest.raises(NotFoundError):
        get_version(store, "x")
