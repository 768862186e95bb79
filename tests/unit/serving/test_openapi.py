"""The OpenAPI document says what the server sends: every documented error of every route is
triggered in-process (no network) and its real body validated against the documented schema;
and the one bug of issue 11 (a malformed JSON body to a rollout action answered 500)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest

from loopml.modeling.model import TrainedModel
from loopml.predlog import read_log
from loopml.serving.app import create_app
from loopml.spec import Spec, parse_spec
from loopml.store import Store
from tests.support.asgi import InProcess
from tests.support.projects import FLIGHTS_SPEC, registered_store

SPEC = (
    FLIGHTS_SPEC
    + """\
metric: {name: roc_auc}
model: {candidates: [linear]}
serving: {max_batch: 5, max_body: 2048}
"""
)
RECORD = {"distance": 500.0, "hour": 9, "carrier": "UA", "origin": "JFK", "dest": "LAX"}
PREDICTION, ADMIN = "p-token", "a-token"
AS_PREDICTOR = {"authorization": f"Bearer {PREDICTION}"}
AS_ADMIN = {"authorization": f"Bearer {ADMIN}"}
JSON = {"content-type": "application/json"}
HUGE = b" " * 3000  # over the spec's max_body
V2_RECORD = {
    name: ("BYTES" if isinstance(value, str) else "FP64", [value]) for name, value in RECORD.items()
}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, flights_sample: pl.DataFrame) -> Store:
    return registered_store(tmp_path_factory.mktemp("openapi"), parse_spec(SPEC), flights_sample)


@pytest.fixture(scope="module")
def spec() -> Spec:
    return parse_spec(SPEC)


@pytest.fixture(scope="module")
def clients(project: Store, spec: Spec) -> Iterator[dict[str, InProcess]]:
    """Three servers: with both tokens, without an admin token, pinned to one version."""
    apps = {
        "tokens": create_app(project, spec, prediction_token=PREDICTION, admin_token=ADMIN),
        "open": create_app(project, spec),
        "pinned": create_app(project, spec, model="flights@1", admin_token=ADMIN),
    }
    with (
        InProcess(apps["tokens"]) as tokens,
        InProcess(apps["open"]) as open_,
        InProcess(apps["pinned"]) as pinned,
    ):
        yield {"tokens": tokens, "open": open_, "pinned": pinned}


def v2_body(tensors: dict[str, tuple[str, list[Any]]]) -> bytes:
    inputs = [
        {"name": name, "datatype": datatype, "shape": [len(data)], "data": data}
        for name, (datatype, data) in tensors.items()
    ]
    return orjson.dumps({"inputs": inputs})


# (server, method, route as documented, path sent, headers, body, expected status)
CASES: list[tuple[str, str, str, str, dict[str, str], bytes | None, int]] = [
    ("open", "POST", "/predict", "/predict", JSON, orjson.dumps(RECORD), 200),
    ("open", "POST", "/predict", "/predict", JSON, orjson.dumps([RECORD] * 2), 200),
    ("open", "POST", "/predict", "/predict", JSON, b"{not json", 400),
    ("tokens", "POST", "/predict", "/predict", JSON, orjson.dumps(RECORD), 401),
    ("open", "POST", "/predict", "/predict", JSON, b'{"distance": "far"}', 422),
    ("open", "POST", "/predict", "/predict", JSON, HUGE, 413),
    ("open", "POST", "/predict", "/predict", {"content-type": "text/plain"},
     orjson.dumps(RECORD), 415),
    ("open", "POST", "/predict", "/predict", JSON, b"MODEL-FAILS", 500),
    ("open", "POST", "/invocations", "/invocations", JSON,
     orjson.dumps({"dataframe_records": [RECORD]}), 200),
    ("open", "POST", "/invocations", "/invocations", JSON, b'{"nope": 1}', 400),
    ("tokens", "POST", "/invocations", "/invocations", JSON, b"{}", 401),
    ("open", "POST", "/invocations", "/invocations", JSON,
     orjson.dumps({"dataframe_records": [RECORD] * 6}), 413),
    ("open", "POST", "/invocations", "/invocations", {"content-type": "image/png"}, b"x", 415),
    ("open", "POST", "/invocations", "/invocations", JSON,
     orjson.dumps({"dataframe_records": [{"distance": "far"}]}), 422),
    ("open", "POST", "/invocations", "/invocations", JSON, b"MODEL-FAILS", 500),
    ("open", "GET", "/version", "/version", {}, None, 200),
    ("open", "GET", "/healthz", "/healthz", {}, None, 200),
    ("open", "GET", "/readyz", "/readyz", {}, None, 200),
    ("open", "GET", "/v2", "/v2", {}, None, 200),
    ("open", "GET", "/v2/health/live", "/v2/health/live", {}, None, 200),
    ("open", "GET", "/v2/health/ready", "/v2/health/ready", {}, None, 200),
    ("open", "GET", "/v2/models/{name}", "/v2/models/flights", {}, None, 200),
    ("open", "GET", "/v2/models/{name}", "/v2/models/nope", {}, None, 404),
    ("open", "GET", "/v2/models/{name}/ready", "/v2/models/flights/ready", {}, None, 200),
    ("open", "GET", "/v2/models/{name}/ready", "/v2/models/nope/ready", {}, None, 404),
    ("open", "POST", "/v2/models/{name}/infer", "/v2/models/flights/infer", JSON,
     v2_body(V2_RECORD), 200),
    ("open", "POST", "/v2/models/{name}/infer", "/v2/models/flights/infer", JSON, b"[]", 400),
    ("tokens", "POST", "/v2/models/{name}/infer", "/v2/models/flights/infer", JSON, b"{}", 401),
    ("open", "POST", "/v2/models/{name}/infer", "/v2/models/nope/infer", JSON, b"{}", 404),
    ("open", "POST", "/v2/models/{name}/infer", "/v2/models/flights/infer", JSON,
     v2_body({"distance": ("FP64", [1.0] * 6)}), 413),
    ("open", "POST", "/v2/models/{name}/infer", "/v2/models/flights/infer", JSON,
     v2_body({"distance": ("BYTES", ["far"])}), 422),
    ("open", "POST", "/v2/models/{name}/infer", "/v2/models/flights/infer", JSON,
     b"MODEL-FAILS", 500),
    ("open", "POST", "/feedback", "/feedback", JSON,
     orjson.dumps({"request_id": "r-1", "label": True}), 200),
    ("open", "POST", "/feedback", "/feedback", JSON, b'{"feedback": [{"label": 1}]}', 400),
    ("open", "POST", "/feedback", "/feedback", JSON,
     orjson.dumps([{"request_id": "r-1", "label": {"late": True}}]), 422),
    ("tokens", "POST", "/feedback", "/feedback", JSON, b"{}", 401),
    ("open", "POST", "/feedback", "/feedback", JSON, HUGE, 413),
    ("tokens", "POST", "/admin/reload", "/admin/reload", AS_ADMIN, None, 200),
    ("tokens", "POST", "/admin/reload", "/admin/reload", {}, None, 401),
    ("open", "POST", "/admin/reload", "/admin/reload", {}, None, 403),
    ("tokens", "GET", "/admin/rollout", "/admin/rollout", AS_ADMIN, None, 200),
    ("tokens", "GET", "/admin/rollout", "/admin/rollout", {}, None, 401),
    ("open", "GET", "/admin/rollout", "/admin/rollout", {}, None, 403),
    ("pinned", "GET", "/admin/rollout", "/admin/rollout", AS_ADMIN, None, 409),
    ("tokens", "POST", "/admin/rollout/start", "/admin/rollout/start", AS_ADMIN, b"[]", 400),
    ("tokens", "POST", "/admin/rollout/start", "/admin/rollout/start", {}, b"{}", 401),
    ("open", "POST", "/admin/rollout/start", "/admin/rollout/start", {}, b"{}", 403),
    ("tokens", "POST", "/admin/rollout/start", "/admin/rollout/start", AS_ADMIN,
     b'{"version": "9"}', 404),
    ("pinned", "POST", "/admin/rollout/start", "/admin/rollout/start", AS_ADMIN, b"{}", 409),
    ("tokens", "POST", "/admin/rollout/start", "/admin/rollout/start", AS_ADMIN, HUGE, 413),
    ("tokens", "POST", "/admin/rollout/{action}", "/admin/rollout/pause", AS_ADMIN, None, 409),
    ("tokens", "POST", "/admin/rollout/{action}", "/admin/rollout/promote", AS_ADMIN,
     b"{not json", 400),
    ("tokens", "POST", "/admin/rollout/{action}", "/admin/rollout/promote", {}, None, 401),
    ("open", "POST", "/admin/rollout/{action}", "/admin/rollout/promote", {}, None, 403),
    ("tokens", "POST", "/admin/rollout/{action}", "/admin/rollout/nope", AS_ADMIN, None, 404),
    ("tokens", "POST", "/admin/rollout/{action}", "/admin/rollout/promote", AS_ADMIN, HUGE, 413),
]  # fmt: skip


def _check(value: Any, schema: dict[str, Any], root: dict[str, Any], where: str) -> None:
    """Validate ``value`` against the JSON Schema subset OpenAPI documents here (a failure
    names the place)."""
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        return _check(value, root["components"]["schemas"][name], root, where)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            errors = []
            for option in schema[key]:
                try:
                    _check(value, option, root, where)
                except AssertionError as exc:
                    errors.append(str(exc))
            assert len(errors) < len(schema[key]), f"{where}: no option fits: {errors}"
    kinds = {
        "object": dict,
        "array": list,
        "string": str,
        "boolean": bool,
        "null": type(None),
        "integer": int,
        "number": (int, float),
    }
    kind = schema.get("type")
    if kind is not None:
        assert isinstance(value, kinds[kind]), f"{where}: expected {kind}, got {value!r}"
        assert kind in ("boolean", "object") or not isinstance(value, bool), f"{where}: {value!r}"
    if isinstance(value, dict):
        for name in schema.get("required", []):
            assert name in value, f"{where}: '{name}' is required, got {sorted(value)}"
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            if name in properties:
                _check(item, properties[name], root, f"{where}.{name}")
            else:
                assert extra is not False, f"{where}: '{name}' is not documented"
                if isinstance(extra, dict):
                    _check(item, extra, root, f"{where}.{name}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            _check(item, schema["items"], root, f"{where}[{i}]")
    return None


@pytest.fixture(scope="module")
def document(clients: dict[str, InProcess]) -> dict[str, Any]:
    return clients["open"].get("/openapi.json").json()


@pytest.mark.parametrize(
    ("server", "method", "route", "path", "headers", "body", "status"),
    CASES,
    ids=[f"{c[1]} {c[3]} {c[6]}" for c in CASES],
)
def test_every_answer_matches_its_documented_schema(
    clients: dict[str, InProcess],
    document: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    server: str,
    method: str,
    route: str,
    path: str,
    headers: dict[str, str],
    body: bytes | None,
    status: int,
) -> None:
    if body == b"MODEL-FAILS":  # a valid request the model raises on

        def fail(self: TrainedModel, records: list[dict[str, Any]]) -> Any:
            raise RuntimeError("boom")

        monkeypatch.setattr(TrainedModel, "score_records", fail)
        body = (
            v2_body(V2_RECORD)
            if "/v2/" in path
            else orjson.dumps({"dataframe_records": [RECORD]})
            if path == "/invocations"
            else orjson.dumps(RECORD)
        )
    response = clients[server].request(method, path, headers=headers, content=body)
    assert response.status_code == status, response.text
    documented = document["paths"][route][method.lower()]["responses"]
    assert str(status) in documented, f"{method} {route} answers {status}, not documented"
    schema = documented[str(status)]["content"]["application/json"]["schema"]
    _check(response.json(), schema, document, f"{method} {path} {status}")


#: Documented ahead of the input contract (issue 12, item 4), which answers them: a case joins
#: CASES, and leaves this set, once the server does.
def test_every_documented_error_is_exercised(document: dict[str, Any]) -> None:
    """An error documented without a case above is a promise nothing checks."""
    exercised = {(method.lower(), route, str(status)) for _, method, route, *_, status in CASES}
    error = {"$ref": "#/components/schemas/ErrorResponse"}
    documented = 0
    for route, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, answer in operation["responses"].items():
                schemas = [m.get("schema") for m in answer.get("content", {}).values()]
                if status.startswith(("4", "5")) and schemas != [error]:
                    assert schemas == [] or status == "503", f"{method} {route} {status}: {schemas}"
                elif schemas == [error]:
                    documented += 1
                    assert (method, route, status) in exercised, f"{method} {route} {status}"
    assert documented >= 30


def test_a_rollout_action_with_a_malformed_json_body_is_a_400(
    clients: dict[str, InProcess],
) -> None:
    for action in ("promote", "rollback"):
        response = clients["tokens"].post(
            f"/admin/rollout/{action}", content=b'{"reason": ', headers=AS_ADMIN
        )
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["type"] == "bad_request" and "not valid JSON" in error["message"]


def test_errors_use_the_one_status_table(clients: dict[str, InProcess]) -> None:
    pinned = clients["pinned"].post("/admin/rollout/promote", headers=AS_ADMIN)
    assert pinned.status_code == 409 and pinned.json()["error"]["type"] == "pinned"
    off = clients["open"].post("/admin/reload")
    assert off.status_code == 403 and off.json()["error"]["type"] == "forbidden"
    nothing = clients["tokens"].post("/admin/rollout/promote", headers=AS_ADMIN)
    assert nothing.status_code == 409 and nothing.json()["error"]["type"] == "conflict"


def test_problems_name_the_field(clients: dict[str, InProcess]) -> None:
    response = clients["open"].post("/predict", json={**RECORD, "distance": "far"})
    problem = response.json()["error"]["problems"][0]
    assert problem["field"] == "distance" and problem["index"] == 0


def test_an_app_serves_again_after_it_stopped(project: Store, spec: Spec, tmp_path: Path) -> None:
    """A second run of one app (its lifespan entered again) answers and logs like the first."""
    app = create_app(project, spec, log_folder=tmp_path)
    for run in range(2):
        with InProcess(app) as client:
            answer = client.post("/predict", content=orjson.dumps(RECORD), headers=JSON)
            assert answer.status_code == 200, (run, answer.text)
        logged = read_log(tmp_path, spec.name)
        assert answer.json()["request_id"] in logged["request_id"].to_list()
