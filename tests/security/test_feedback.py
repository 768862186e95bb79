"""Feedback is training data (issue 12, item 2): who may post it, what a label may be, which ids
it may name, and what a second label for an id does; and ``loopml serve`` refusing to listen
beyond loopback with no token.

The apps run in-process (httpx's ASGI transport, their lifespan on a private event loop), over
one store with a trained flights model.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loopml.config import ServeSettings
from loopml.errors import InputError, LoopmlError, RequestError
from loopml.loop.production import _labels
from loopml.modeling.metrics import label_text
from loopml.serving import server
from loopml.serving.app import create_app
from loopml.serving.labels import LabelRule, check_labels, parse_items
from loopml.spec import Spec, parse_spec
from loopml.store import Store
from tests.support import asgi
from tests.support.projects import FLIGHTS_SPEC, registered_store

SPEC = FLIGHTS_SPEC + "metric: {name: roc_auc}\nmodel: {candidates: [linear]}\n"
RECORD = {"distance": 500.0, "hour": 9, "carrier": "UA", "origin": "JFK", "dest": "LAX"}
ADMIN, PREDICTION, FEEDBACK, WRONG = "admin-t", "predict-t", "feedback-t", "wrong-t"


class InProcess(asgi.InProcess):
    """The app in-process, able to issue request ids by predicting."""

    def issued(self, token: str | None = None, n: int = 1) -> list[str]:
        """``n`` request ids this server issued (one prediction each)."""
        ids = []
        for _ in range(n):
            response = self.post("/predict", token, json=RECORD)
            assert response.status_code == 200, response.text
            ids.append(response.json()["request_id"])
        return ids


@pytest.fixture(scope="module")
def spec() -> Spec:
    return parse_spec(SPEC)


@pytest.fixture(scope="module")
def store(
    tmp_path_factory: pytest.TempPathFactory, flights_sample: pl.DataFrame, spec: Spec
) -> Store:
    return registered_store(tmp_path_factory.mktemp("feedback"), spec, flights_sample)


@pytest.fixture(scope="module")
def open_server(store: Store, spec: Spec) -> Iterator[InProcess]:
    with InProcess(create_app(store, spec)) as running:
        yield running


# -- who may post feedback ------------------------------------------------------------------------

CONFIGS: dict[str, dict[str, str]] = {
    "no tokens": {},
    "admin only": {"admin_token": ADMIN},
    "prediction only": {"prediction_token": PREDICTION},
    "feedback only": {"feedback_token": FEEDBACK},
    "all": {"admin_token": ADMIN, "prediction_token": PREDICTION, "feedback_token": FEEDBACK},
}
SENT = {"no token": None, "wrong": WRONG, "admin": ADMIN, "prediction": PREDICTION}
SENT["feedback"] = FEEDBACK
# which tokens /feedback accepts: the feedback token, else the prediction one; the admin one
ACCEPTED = {
    "no tokens": set(SENT),
    "admin only": {"admin"},
    "prediction only": {"prediction"},
    "feedback only": {"feedback"},
    "all": {"feedback", "admin"},
}


def test_feedback_needs_a_token_whenever_any_is_configured(store: Store, spec: Spec) -> None:
    wrong: list[str] = []
    for config, tokens in CONFIGS.items():
        with InProcess(create_app(store, spec, **tokens)) as running:
            (request_id,) = running.issued(tokens.get("prediction_token"))
            for sent, token in SENT.items():
                item = {"request_id": request_id, "label": True}
                response = running.post("/feedback", token, json=item)
                expected = 200 if sent in ACCEPTED[config] else 401
                if response.status_code != expected:
                    wrong.append(f"{config}, {sent}: {response.status_code}, not {expected}")
                elif expected == 401:
                    error = response.json()["error"]
                    assert error["type"] == "unauthorized"
                    assert "LOOPML_FEEDBACK_TOKEN" in error["message"], error
                    assert response.headers["www-authenticate"].startswith("Bearer")
    assert not wrong, "\n".join(wrong)


def test_with_only_an_admin_token_anonymous_labels_are_not_stored(store: Store, spec: Spec) -> None:
    with InProcess(create_app(store, spec, admin_token=ADMIN)) as running:
        ids = running.issued(n=3)
        refused = running.post("/feedback", json=[{"request_id": i, "label": False} for i in ids])
        assert refused.status_code == 401
        assert store.feedback.labels(ids) == {}


# -- what a label may be --------------------------------------------------------------------------

HUGE = "x" * 1_000_000


@pytest.mark.parametrize(
    ("label", "got"),
    [
        ({"late": True}, "an object (1 key)"),
        ([True], "a list (1 item)"),
        (None, "null"),
        (HUGE, "a string of 1,000,000 characters"),
        ("true", '"true"'),  # retraining reads a Boolean target's "true" as nothing
        (2, "2"),
        (0.5, "0.5"),
    ],
    ids=["object", "list", "null", "1 MB string", "string true", "2", "0.5"],
)
def test_a_label_that_is_not_a_class_is_refused_naming_the_item(
    open_server: InProcess, store: Store, label: Any, got: str
) -> None:
    good, bad = open_server.issued(n=2)
    body = {"feedback": [{"request_id": good, "label": True}, {"request_id": bad, "label": label}]}
    response = open_server.post("/feedback", json=body)
    assert response.status_code == 422, response.text
    assert len(response.content) < 2_000, "a refused value is described, not echoed"
    error = response.json()["error"]
    assert error["type"] == "invalid_input"
    (problem,) = error["problems"]
    assert problem["index"] == 1 and problem["field"] == "label"
    assert problem["expected"] == "one of the classes false, true (or 0 and 1)"
    assert problem["got"].startswith(got)
    assert error["message"].startswith("feedback[1].label: expected one of the classes")
    assert store.feedback.labels([good, bad]) == {}, "a body with a bad label stores nothing"


def test_labels_in_the_forms_retraining_reads_are_stored_as_the_class(
    open_server: InProcess, store: Store
) -> None:
    ids = open_server.issued(n=4)
    sent = [True, 0, 1.0, False]
    response = open_server.post(
        "/feedback", json=[{"request_id": i, "label": v} for i, v in zip(ids, sent, strict=True)]
    )
    assert response.status_code == 200, response.text
    assert response.json()["stored"] == 4
    stored = store.feedback.labels(ids)
    assert [stored[i] for i in ids] == [True, False, True, False]
    assert all(isinstance(stored[i], bool) for i in ids)


# -- which ids, and a second label ----------------------------------------------------------------


def test_a_bare_list_is_accepted(open_server: InProcess, store: Store) -> None:
    ids = open_server.issued(n=2)
    response = open_server.post("/feedback", json=[{"request_id": i, "label": True} for i in ids])
    assert response.status_code == 200, response.text
    assert response.json()["stored"] == 2
    assert store.feedback.labels(ids) == dict.fromkeys(ids, True)


def test_ids_the_server_never_issued_are_counted_and_reported_not_stored(
    open_server: InProcess, store: Store
) -> None:
    (issued,) = open_server.issued()
    never = ["never-issued", "0" * 32, "y" * 5_000]
    items = [{"request_id": i, "label": True} for i in [issued, *never]]
    answer = open_server.post("/feedback", json=items).json()
    assert answer["received"] == 4 and answer["stored"] == 1
    assert answer["unknown"] == 3
    assert answer["unknown_ids"] == ["never-issued", "0" * 32, "y" * 64]  # listed, cut short
    assert store.feedback.labels(never[:2]) == {}
    assert store.feedback.labels([issued]) == {issued: True}


def test_a_different_second_label_is_a_conflict_and_the_same_one_is_idempotent(
    open_server: InProcess, store: Store
) -> None:
    (request_id,) = open_server.issued()
    first = open_server.post("/feedback", json={"request_id": request_id, "label": True}).json()
    assert first["stored"] == 1
    again = open_server.post("/feedback", json={"request_id": request_id, "label": 1}).json()
    assert (again["stored"], again["duplicates"], again["conflicting"]) == (0, 1, 0)
    other = open_server.post("/feedback", json={"request_id": request_id, "label": False}).json()
    assert (other["stored"], other["duplicates"], other["conflicting"]) == (0, 0, 1)
    assert other["conflicts"] == [{"request_id": request_id, "stored": True, "sent": False}]
    assert store.feedback.labels([request_id]) == {request_id: True}, "never overwritten"


def test_a_conflict_inside_one_batch_keeps_the_first_label(
    open_server: InProcess, store: Store
) -> None:
    (request_id,) = open_server.issued()
    items = [{"request_id": request_id, "label": label} for label in (False, False, True)]
    answer = open_server.post("/feedback", json={"feedback": items}).json()
    assert (answer["stored"], answer["duplicates"], answer["conflicting"]) == (1, 1, 1)
    assert store.feedback.labels([request_id]) == {request_id: False}


def test_ids_in_the_prediction_log_count_as_issued_after_a_restart(
    store: Store, spec: Spec, tmp_path: Path
) -> None:
    """Labels arrive late: an id another worker (or this one before a restart) answered is in
    the prediction log, not in this process's memory."""
    with InProcess(create_app(store, spec, log_folder=tmp_path)) as before:
        ids = before.issued(n=2)  # the graceful stop flushes the log
    with InProcess(create_app(store, spec, log_folder=tmp_path)) as after:
        answer = after.post("/feedback", json=[{"request_id": i, "label": True} for i in ids])
    assert answer.json()["stored"] == 2 and answer.json()["unknown"] == 0
    assert store.feedback.labels(ids) == dict.fromkeys(ids, True)


# -- intake agrees with retraining's read-back ----------------------------------------------------

RULES = {
    "Boolean": (LabelRule("binary", (False, True)), pl.Boolean),
    "Int64": (LabelRule("multiclass", (1, 2, 4)), pl.Int64),
    "String": (LabelRule("multiclass", ("a", "b", "true", "2")), pl.String),
    "regression Float64": (LabelRule("regression", (), "Float64"), pl.Float64),
    "regression Int64": (LabelRule("regression", (), "Int64"), pl.Int64),
}
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["a", "b", "true", "false", "True", "1", "2", "4", "2.0", " 2", "NaN", "1e3"]),
    st.text(max_size=8),
)


@pytest.mark.parametrize("name", list(RULES))
@settings(max_examples=300, deadline=None)
@given(value=SCALARS)
def test_what_intake_accepts_retraining_reads_back_as_the_same_label(name: str, value: Any) -> None:
    rule, dtype = RULES[name]
    try:
        label = rule.read(value)
    except ValueError:
        return  # refused: never stored, so never read back
    assert _labels([label], "t", dtype).to_list() == [label], "the stored form reads back as is"
    back = _labels([value], "t", dtype).to_list()[0]
    assert back is not None, f"{value!r} is accepted, but retraining would drop it"
    if rule.task == "regression":
        assert math.isfinite(back) and back == label
    else:
        assert label_text(back) == label_text(label) and label in rule.classes


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("regression Float64", True),
        ("regression Float64", "1.5"),
        ("regression Float64", math.inf),
        ("regression Float64", math.nan),
        ("regression Float64", 10**400),
        ("regression Int64", 1.5),
        ("regression Int64", 2**63),
        ("Int64", 3),
        ("String", "c"),
    ],
)
def test_regression_takes_finite_numbers_and_multiclass_its_known_classes(
    name: str, value: Any
) -> None:
    rule, _ = RULES[name]
    with pytest.raises(ValueError, match=r"finite number|integer from|one of the classes"):
        rule.read(value)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(body=JSON | st.lists(st.fixed_dictionaries({"request_id": st.text(), "label": JSON})))
def test_any_json_body_is_parsed_or_refused_with_a_4xx(body: Any) -> None:
    try:
        items = parse_items(body)
    except RequestError as exc:
        assert exc.status == 400 and "expected" in str(exc)
        return
    for name, (rule, _) in RULES.items():
        try:
            check_labels(items, rule)
        except InputError as exc:
            assert all(p["field"] == "label" for p in exc.problems), name


# -- serve beyond loopback ------------------------------------------------------------------------


@pytest.fixture()
def no_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LOOPML_ADMIN_TOKEN", "LOOPML_PREDICTION_TOKEN", "LOOPML_FEEDBACK_TOKEN"):
        monkeypatch.delenv(name, raising=False)


def test_serve_on_a_public_address_with_no_token_refuses_to_start(
    cli: Any, no_tokens: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no project: past the check, the missing spec stops it
    code, out, err = cli("serve", "--host", "0.0.0.0", "--port", "8000")
    assert code == 2
    message = " ".join((out + err).split())
    for name in ("LOOPML_FEEDBACK_TOKEN", "LOOPML_ADMIN_TOKEN", "--insecure", "'0.0.0.0'"):
        assert name in message, message
    code, out, err = cli("serve", "--host", "0.0.0.0", "--port", "8000", "--insecure")
    assert code == 2 and "--insecure" not in out + err, "past the check, stopped by the spec"


@pytest.mark.parametrize("host", ["0.0.0.0", "::", ""])
def test_the_exposure_check(host: str, no_tokens: None) -> None:
    bare = ServeSettings.from_env()
    with pytest.raises(LoopmlError, match="--insecure"):
        server.check_exposure(host, bare)
    server.check_exposure(host, bare, insecure=True)
    server.check_exposure(host, ServeSettings.from_env(feedback_token=FEEDBACK))
    admin_only = ServeSettings(bare.spec, None, ADMIN, None)
    server.check_exposure(host, admin_only)  # feedback needs the admin token then
    for loopback in ("127.0.0.1", "localhost", "::1"):
        server.check_exposure(loopback, bare)
