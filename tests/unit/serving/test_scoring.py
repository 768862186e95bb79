"""The Scorer without HTTP: routing to a canary, the fallback to stable, the shadow copy, the log.

Models are stand-ins with the served model's interface (``score_records``, ``scores``); the log
sink is a list.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from loopml.errors import InputError, ModelFailure
from loopml.predlog import LogEntry
from loopml.serving.inputs import InputStats
from loopml.serving.metrics import ServerMetrics
from loopml.serving.routing import Routing, Served
from loopml.serving.scoring import Scorer

RECORDS = [{"distance": 100.0 * i, "carrier": "UA"} for i in range(1, 4)]


class ListSink:
    def __init__(self) -> None:
        self.entries: list[LogEntry] = []
        self.batches: list[list[LogEntry]] = []  # one per log() call: a flush never splits one

    def log(self, entries: Sequence[LogEntry]) -> None:
        self.entries.extend(entries)
        self.batches.append(list(entries))


class Model:
    """A binary classifier answering ``late`` with probability ``p``, or raising."""

    task = "binary"

    def __init__(self, p: float = 0.8, *, fails: bool = False) -> None:
        self.p, self.fails = p, fails

    def score_records(self, records: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        if self.fails:
            raise RuntimeError("boom")
        output = np.tile([1 - self.p, self.p], (len(records), 1))
        return output.argmax(axis=1), output

    def scores(self, output: np.ndarray) -> np.ndarray:
        return output[:, 1]


class Checker:
    """Refuses records without ``distance``."""

    def check(self, records: list[Any], stats: InputStats) -> list[Any]:
        missing = [i for i, record in enumerate(records) if "distance" not in record]
        if missing:
            raise InputError([{"message": f"record {i}: no distance"} for i in missing])
        return records


def model(version: str, **kwargs: Any) -> Served:
    package = SimpleNamespace(record=SimpleNamespace(ref=version), model=Model(**kwargs))
    return Served(package, Checker(), [False, True])  # type: ignore[arg-type]


def scorer(routing: Routing, sink: ListSink, metrics: ServerMetrics | None = None) -> Scorer:
    return Scorer("flights", lambda: routing, sink, metrics or ServerMetrics())


def test_each_answered_record_is_logged_under_its_request_id() -> None:
    sink = ListSink()
    scored = scorer(Routing(stable=model("flights@1", p=0.25)), sink).score(RECORDS, "/predict")
    assert scored.route == "stable" and scored.served.version == "flights@1"
    assert scored.predictions == [False, False, False]
    ids = [f"{scored.request_id}-{i}" for i in range(3)]
    assert [e.request_id for e in sink.entries] == ids
    assert [e.features for e in sink.entries] == RECORDS
    for entry in sink.entries:
        assert (entry.deployment, entry.model_version, entry.route) == (
            "flights",
            "flights@1",
            "stable",
        )
        assert entry.error is None and entry.score == pytest.approx(0.25)
        assert entry.outputs["prediction"] is False
    one = scorer(Routing(stable=model("flights@1")), sink).score(RECORDS[:1], "/predict")
    assert sink.entries[-1].request_id == one.request_id  # a single record keeps the bare id


def test_a_canary_at_full_weight_answers_and_is_logged_as_canary() -> None:
    sink = ListSink()
    routing = Routing(
        stable=model("flights@1", p=0.25), canary=model("flights@2", p=0.9), weight=100.0
    )
    scored = scorer(routing, sink).score(RECORDS, "/predict")
    assert scored.route == "canary" and scored.served.version == "flights@2"
    assert scored.predictions == [True, True, True]
    assert {(e.model_version, e.route) for e in sink.entries} == {("flights@2", "canary")}
    assert len(sink.entries) == 3


def test_a_failing_canary_falls_back_to_stable_and_its_failure_is_logged() -> None:
    sink, metrics = ListSink(), ServerMetrics()
    routing = Routing(
        stable=model("flights@1", p=0.25), canary=model("flights@2", fails=True), weight=100.0
    )
    scored = scorer(routing, sink, metrics).score(RECORDS, "/predict")
    assert scored.route == "stable" and scored.served.version == "flights@1"
    assert scored.predictions == [False, False, False]
    failed = [e for e in sink.entries if e.route == "canary"]
    answered = [e for e in sink.entries if e.route == "stable"]
    assert len(failed) == 3 and len(answered) == 3
    assert all(e.error.startswith("ModelFailure") and e.outputs == {} for e in failed)  # type: ignore[union-attr]
    assert [e.request_id for e in failed] == [e.request_id for e in answered]
    # logged in one batch: a reader of the log never sees a failure without its answer
    assert [[e.route for e in batch] for batch in sink.batches] == [["canary"] * 3 + ["stable"] * 3]
    assert metrics.fallbacks.labels("flights@2")._value.get() == 1
    assert metrics.model_errors.labels("flights@2", "canary")._value.get() == 1


def test_a_canary_answering_nan_falls_back_to_stable() -> None:
    sink = ListSink()
    routing = Routing(
        stable=model("flights@1", p=0.25), canary=model("flights@2", p=float("nan")), weight=100.0
    )
    assert scorer(routing, sink).score(RECORDS, "/predict").route == "stable"
    assert any(e.route == "canary" and "NaN" in (e.error or "") for e in sink.entries)


def test_a_failing_stable_is_a_model_failure() -> None:
    sink = ListSink()
    with pytest.raises(ModelFailure):
        scorer(Routing(stable=model("flights@1", fails=True)), sink).score(RECORDS, "/predict")
    both = Routing(
        stable=model("flights@1", fails=True), canary=model("flights@2", fails=True), weight=100.0
    )
    with pytest.raises(ModelFailure):
        scorer(both, sink).score(RECORDS, "/predict")
    assert [e.route for e in sink.entries] == ["canary"] * 3  # the canary's failure still logged


def test_records_stable_refuses_are_not_scored_nor_logged() -> None:
    sink = ListSink()
    with pytest.raises(InputError):
        scorer(Routing(stable=model("flights@1")), sink).score([{"carrier": "UA"}], "/predict")
    assert sink.entries == []


def test_a_shadow_gets_a_copy_that_is_logged_but_never_answers() -> None:
    sink = ListSink()
    routing = Routing(stable=model("flights@1", p=0.25), shadow=model("flights@3", p=0.9))
    routing = Routing(**{**routing.__dict__, "shadow_fraction": 1.0})
    scoring = scorer(routing, sink)
    try:
        scored = scoring.score(RECORDS, "/predict")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any(e.route == "shadow" for e in sink.entries):
            time.sleep(0.01)
    finally:
        scoring.close()
    assert scored.route == "stable" and scored.predictions == [False, False, False]
    shadow = [e for e in sink.entries if e.route == "shadow"]
    assert [e.model_version for e in shadow] == ["flights@3"] * 3
    assert all(e.outputs["prediction"] is True for e in shadow)
