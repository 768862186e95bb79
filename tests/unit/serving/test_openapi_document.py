"""The OpenAPI document itself: valid OpenAPI 3.1, every ``$ref`` resolves, every schema a valid
JSON Schema; the bearer tokens as security schemes, each operation naming those this server's
configuration makes it accept; ``/ping`` and ``/metrics`` declared as the text they send.
(What each answer holds is checked in test_openapi.py and, fuzzed, in tests/e2e/test_fuzz.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema_rs
import polars as pl
import pytest
import schemathesis

from loopml.serving.app import create_app
from loopml.spec import Spec, parse_spec
from loopml.store import Store
from tests.support.asgi import InProcess
from tests.support.projects import FLIGHTS_SPEC, registered_store

SPEC = FLIGHTS_SPEC + "metric: {name: roc_auc}\nmodel: {candidates: [linear]}\n"
GUARDED = {  # operation → the token kind that guards it
    ("post", "/predict"): "prediction",
    ("post", "/invocations"): "prediction",
    ("post", "/v2/models/{name}/infer"): "prediction",
    ("post", "/feedback"): "feedback",
    ("post", "/admin/reload"): "admin",
    ("get", "/admin/rollout"): "admin",
    ("post", "/admin/rollout/start"): "admin",
    ("post", "/admin/rollout/{action}"): "admin",
}


@pytest.fixture(scope="module")
def spec() -> Spec:
    return parse_spec(SPEC)


@pytest.fixture(scope="module")
def empty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """A store with nothing in it: the document depends on the routes, not on the data."""
    root = tmp_path_factory.mktemp("document")
    with Store(f"sqlite:///{root / 'loopml.db'}", root / "artifacts") as store:
        yield store


def document(store: Store, spec: Spec, **tokens: str) -> dict[str, Any]:
    return create_app(store, spec, **tokens).openapi()


def refs(node: Any) -> Iterator[str]:
    """Every ``$ref`` under ``node``."""
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def resolve(root: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"{ref}: expected a reference inside the document"
    node: Any = root
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"{ref} does not resolve (at '{part}')"
        node = node[part]
    return node


CONFIGURATIONS = [
    {},
    {"prediction_token": "p"},
    {"admin_token": "a"},
    {"prediction_token": "p", "admin_token": "a", "feedback_token": "f"},
]


@pytest.mark.parametrize("tokens", CONFIGURATIONS, ids=lambda t: "+".join(t) or "open")
def test_the_document_is_valid_openapi_and_every_ref_resolves(
    empty: Store, spec: Spec, tokens: dict[str, str]
) -> None:
    built = document(empty, spec, **tokens)
    schemathesis.openapi.from_dict(built).validate()  # the OpenAPI 3.1 meta-schema
    found = list(refs(built))
    assert len(found) > 50
    for ref in found:
        assert ref.startswith("#/components/schemas/"), ref
        resolve(built, ref)
    assert "$defs" not in str(built), "a pydantic $defs left inside an operation"
    for name, schema in built["components"]["schemas"].items():
        # each is a JSON Schema (2020-12, OpenAPI 3.1's dialect) whose refs resolve in the document
        jsonschema_rs.meta.validate(schema)
        jsonschema_rs.validator_for({**schema, "components": built["components"]})
        assert name == schema.get("title", name), name
    request = built["paths"]["/v2/models/{name}/infer"]["post"]["requestBody"]
    tensor = resolve(built, request["content"]["application/json"]["schema"]["$ref"])
    assert resolve(built, tensor["properties"]["inputs"]["items"]["$ref"])["required"] == [
        "name",
        "datatype",
        "shape",
        "data",
    ]


def expected_security(kind: str, tokens: dict[str, str]) -> list[dict[str, list[str]]] | None:
    """The security an operation guarded by ``kind`` declares under ``tokens``."""
    if kind == "admin":  # off (403) without the admin token, never open
        return [{"adminToken": []}]
    if kind == "prediction":
        return [{"predictionToken": []}] if "prediction_token" in tokens else None
    writer = "feedback_token" in tokens or "prediction_token" in tokens
    schemes = [{"feedbackToken": []}] if writer else []
    schemes += [{"adminToken": []}] if "admin_token" in tokens else []
    return schemes or None


@pytest.mark.parametrize("tokens", CONFIGURATIONS, ids=lambda t: "+".join(t) or "open")
def test_each_operation_names_the_tokens_it_accepts(
    empty: Store, spec: Spec, tokens: dict[str, str]
) -> None:
    built = document(empty, spec, **tokens)
    schemes = built["components"]["securitySchemes"]
    assert set(schemes) == {"predictionToken", "feedbackToken", "adminToken"}
    assert all(s["type"] == "http" and s["scheme"] == "bearer" for s in schemes.values())
    assert "security" not in built  # no document-wide default: each operation says its own
    for path, operations in built["paths"].items():
        for method, operation in operations.items():
            kind = GUARDED.get((method, path))
            expected = expected_security(kind, tokens) if kind else None
            assert operation.get("security") == expected, (method, path, tokens)
            assert kind is None or "401" in operation["responses"], (method, path)


def test_the_input_contract_errors_are_documented(empty: Store, spec: Spec) -> None:
    """422 on the three prediction protocols (the input contract of issue 12, item 4), and 415
    on the two that take only JSON (and CSV); V2 infer also reads binary tensors, so it has none."""
    paths = document(empty, spec)["paths"]
    for path in ("/predict", "/invocations", "/v2/models/{name}/infer"):
        responses = paths[path]["post"]["responses"]
        assert "422" in responses, path
        assert ("415" in responses) == (path != "/v2/models/{name}/infer"), path


def test_path_parameters_list_their_values(empty: Store, spec: Spec) -> None:
    paths = document(empty, spec)["paths"]
    (name,) = paths["/v2/models/{name}"]["get"]["parameters"]
    assert name["schema"] == {"type": "string", "enum": ["flights"]}
    (action,) = paths["/admin/rollout/{action}"]["post"]["parameters"]
    assert action["schema"]["enum"] == ["promote", "rollback", "pause", "resume"]


@pytest.fixture(scope="module")
def client(
    tmp_path_factory: pytest.TempPathFactory, flights_sample: pl.DataFrame, spec: Spec
) -> Iterator[InProcess]:
    store = registered_store(tmp_path_factory.mktemp("served"), spec, flights_sample)
    with InProcess(create_app(store, spec)) as served:
        yield served


@pytest.mark.parametrize("path", ["/ping", "/metrics"])
def test_ping_and_metrics_send_the_text_they_declare(client: InProcess, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 200
    declared = client.get("/openapi.json").json()["paths"][path]["get"]["responses"]["200"]
    assert list(declared["content"]) == ["text/plain"]
    assert answer.headers["content-type"].split(";")[0] == "text/plain"
