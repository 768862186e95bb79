"""A long string is cut in the prediction log, never in what the model sees (issue 12, item 3):
one 20 MB string value made a 15.7 MB log file. A logged string (a value or a key, at any
depth) over ``MAX_LOGGED_STRING`` characters keeps its first ``MAX_LOGGED_STRING`` and a
marker saying how long it was.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from loopml.predlog import LogEntry, PredictionLog, read_log
from loopml.predlog.entry import MAX_LOGGED_STRING, cap_strings
from loopml.serving.app import create_app
from loopml.spec import parse_spec
from tests.support.asgi import InProcess
from tests.support.projects import FLIGHTS_SPEC, registered_store

HUGE = 20_000_000
CUT = f"…[truncated from {HUGE:,} characters]"
SPEC = (
    FLIGHTS_SPEC
    + "metric: {name: roc_auc}\nmodel: {candidates: [linear]}\nserving: {max_body: 30MB}\n"
)


def segments_size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*.parquet"))


def entry(features: dict[str, Any], outputs: dict[str, Any] | None = None) -> LogEntry:
    return LogEntry(
        ts=datetime.now(UTC),
        request_id="r1",
        deployment="flights",
        model_version="flights@1",
        route="stable",
        features=features,
        outputs=outputs or {"prediction": True},
        latency_ms=1.0,
    )


def test_a_20mb_string_makes_a_small_log_row_and_the_entry_keeps_it(tmp_path: Path) -> None:
    value = "U" * HUGE
    features = {"carrier": value, "k" * 5000: 1, "tags": ["x" * 3000, "ok"], "hour": 9}
    logged = entry(features, {"prediction": "y" * 2000})
    with PredictionLog(tmp_path, "flights") as log:
        log.log([logged])
    assert log.written == 1
    assert segments_size(tmp_path) < 50_000
    row = read_log(tmp_path, "flights").row(0, named=True)
    stored = orjson.loads(row["features"])
    assert stored["carrier"] == "U" * MAX_LOGGED_STRING + CUT
    assert stored["k" * MAX_LOGGED_STRING + "…[truncated from 5,000 characters]"] == 1
    assert stored["tags"] == ["x" * MAX_LOGGED_STRING + "…[truncated from 3,000 characters]", "ok"]
    assert stored["hour"] == 9
    assert orjson.loads(row["outputs"])["prediction"].startswith("y" * MAX_LOGGED_STRING + "…")
    assert logged.features["carrier"] is value and len(features) == 4  # the entry is unchanged


def test_strings_up_to_the_cap_are_logged_as_they_are(tmp_path: Path) -> None:
    features = {"carrier": "U" * MAX_LOGGED_STRING, "origin": "JFK"}
    with PredictionLog(tmp_path, "flights") as log:
        log.log([entry(features)])
    assert orjson.loads(read_log(tmp_path, "flights")["features"][0]) == features


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=40), inner),
    max_leaves=12,
)


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [*strings(k), *strings(v)]]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


@given(JSON, st.integers(1, 30))
def test_cap_strings_bounds_every_string_and_changes_nothing_else(value: Any, limit: int) -> None:
    before = orjson.dumps(value)
    capped = cap_strings(value, limit)
    assert orjson.dumps(value) == before  # never modified in place
    marker = "…[truncated from "
    for text in strings(capped):
        head, _, tail = text.partition(marker)
        assert len(head) <= limit and (not tail or tail.endswith(" characters]"))
    if all(len(s) <= limit for s in strings(value)):
        assert capped is value


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, flights_sample: pl.DataFrame) -> Any:
    spec = parse_spec(SPEC)
    store = registered_store(tmp_path_factory.mktemp("logged"), spec, flights_sample)
    return store, spec, tmp_path_factory.mktemp("predictions")


def test_a_20mb_string_value_sent_to_the_server_makes_a_small_log(served: Any) -> None:
    store, spec, folder = served
    record = {"distance": 500.0, "hour": 9, "carrier": "U" * HUGE, "origin": "JFK", "dest": "LAX"}
    with InProcess(create_app(store, spec, log_folder=folder)) as server:
        response = server.post("/predict", json=record)
        assert response.status_code == 200, response.text[:500]
    assert segments_size(folder) < 50_000  # closing the app flushed the log
    features = orjson.loads(read_log(folder, "flights")["features"][0])
    assert features["carrier"] == "U" * MAX_LOGGED_STRING + CUT
