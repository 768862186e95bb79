"""What loopml adds to the OpenAPI document FastAPI builds from the routes.

The routes read their bodies by hand (:mod:`loopml.serving.schemas` says why), so FastAPI sees no
body, no parameter and no token: each route passes them as ``openapi_extra``, built here.

- Request bodies are :mod:`~loopml.serving.schemas` models, referenced as
  ``#/components/schemas/<Model>``. Their JSON Schemas, nested models included, are generated
  once with every ``$ref`` pointing into ``components/schemas`` and added there by
  :func:`install` (a pydantic ``#/$defs/...`` ref inside an operation resolves nowhere).
- Tokens are three HTTP bearer schemes (:data:`SECURITY_SCHEMES`); an operation lists those it
  accepts as alternatives, as this server is configured: none when its endpoint is open.
- Path parameters list their values (``enum``): the one model name, the rollout actions.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import models_json_schema

from loopml.serving.schemas import (
    FeedbackBatch,
    FeedbackItem,
    InvocationsInputs,
    InvocationsInstances,
    InvocationsRecords,
    InvocationsSplit,
    PredictBatch,
    PredictOne,
    Record,
    RolloutReason,
    RolloutStart,
    V2InferRequest,
)

_REF = "#/components/schemas/{model}"

#: The bearer tokens, by security scheme name: what each one guards and where it is set.
SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "predictionToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "LOOPML_PREDICTION_TOKEN (or serve --prediction-token): /predict, "
        "/invocations and V2 inference",
    },
    "feedbackToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "LOOPML_FEEDBACK_TOKEN (or serve --feedback-token); when unset, the "
        "prediction token: /feedback",
    },
    "adminToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "LOOPML_ADMIN_TOKEN: the admin endpoints (off without it) and /feedback",
    },
}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": _REF.format(model=model.__name__)}


_BODY_MODELS: tuple[type[BaseModel], ...] = (
    PredictOne,
    PredictBatch,
    InvocationsSplit,
    InvocationsRecords,
    InvocationsInstances,
    InvocationsInputs,
    V2InferRequest,
    FeedbackItem,
    FeedbackBatch,
    RolloutStart,
    RolloutReason,
)


def request_schemas() -> dict[str, dict[str, Any]]:
    """Every request body model's JSON Schema by name, the models they nest included, each
    ``$ref`` pointing into ``components/schemas``."""
    _, definitions = models_json_schema(
        [(model, "validation") for model in _BODY_MODELS], ref_template=_REF
    )
    return dict(definitions.get("$defs", {}))


def _body(*schemas: dict[str, Any], required: bool = True) -> dict[str, Any]:
    schema = schemas[0] if len(schemas) == 1 else {"anyOf": list(schemas)}
    return {
        "requestBody": {"required": required, "content": {"application/json": {"schema": schema}}}
    }


_RECORD = TypeAdapter(Record).json_schema(ref_template=_REF) | {"description": "feature → value"}

#: The request bodies, by operation: ``openapi_extra`` for the route.
REQUEST_BODIES: dict[str, dict[str, Any]] = {
    "predict": _body(
        _RECORD, {"type": "array", "items": _RECORD}, _ref(PredictOne), _ref(PredictBatch)
    ),
    "invocations": {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "anyOf": [
                            _ref(model)
                            for model in (
                                InvocationsSplit,
                                InvocationsRecords,
                                InvocationsInstances,
                                InvocationsInputs,
                            )
                        ]
                    }
                },
                "text/csv": {
                    "schema": {"type": "string", "description": "a header row, then rows"}
                },
            },
        }
    },
    "v2_infer": _body(_ref(V2InferRequest)),
    "feedback": _body(
        _ref(FeedbackItem),
        {"type": "array", "items": _ref(FeedbackItem), "minItems": 1},
        _ref(FeedbackBatch),
    ),
    "rollout_start": _body(_ref(RolloutStart)),
    "rollout_action": _body(_ref(RolloutReason), required=False),
}


def security(*schemes: str | None) -> dict[str, Any]:
    """``openapi_extra`` for an operation that accepts any one of ``schemes`` (a scheme of
    :data:`SECURITY_SCHEMES`, or ``None`` for a token this server has not set); nothing when
    none is set: the operation is open."""
    names = [scheme for scheme in schemes if scheme]
    return {"security": [{name: []} for name in names]} if names else {}


def path_parameter(name: str, values: list[str], description: str = "") -> dict[str, Any]:
    """A required path parameter taking one of ``values`` (another is answered 404)."""
    parameter: dict[str, Any] = {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string", "enum": values},
    }
    if description:
        parameter["description"] = description
    return parameter


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` FastAPI's document plus the request bodies' schemas and the
    security schemes (built once, then cached as FastAPI caches its own)."""
    build = app.openapi

    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            built = build()
            components = built.setdefault("components", {})
            schemas = components.setdefault("schemas", {})
            for name, schema in request_schemas().items():
                if schemas.setdefault(name, schema) != schema:
                    raise RuntimeError(
                        f"OpenAPI: two different schemas named {name}; rename one of the models"
                    )
            components["securitySchemes"] = SECURITY_SCHEMES
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = document  # type: ignore[method-assign]
