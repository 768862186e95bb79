"""Request and response models of every endpoint, success and error: the OpenAPI document.

The routes parse bodies themselves (orjson, then :mod:`loopml.serving.inputs`), which keeps the
single-record path fast and the error messages field-level, and encode responses with orjson;
these Pydantic models describe the very shapes they read and send, so ``/openapi.json`` says what
the server answers. Each route lists its statuses with :func:`responses`; every error, whatever
its status, is an :class:`ErrorResponse` (``{"error": {"type", "message", ...}}``), with the
status and ``type`` taken from :data:`loopml.errors.HTTP_STATUS`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

Record = dict[str, Any]


class _Closed(BaseModel):
    """A body with exactly these fields (``additionalProperties: false`` in the document)."""

    model_config = ConfigDict(extra="forbid")


# -- errors ---------------------------------------------------------------------------------------


class Problem(_Closed):
    """One reason a record was refused."""

    index: int | None = Field(description="the record's position in the request, if one")
    field: str | None = Field(description="the feature, if one")
    expected: str
    got: Any
    message: str


class ErrorDetail(_Closed):
    type: str = Field(
        description="invalid_input, bad_request, unauthorized, forbidden, not_found, conflict, "
        "pinned or model_error"
    )
    message: str = Field(description="what failed, what was expected and what was got")
    problems: list[Problem] | None = Field(None, description="invalid_input: every problem found")
    error_id: str | None = Field(None, description="model_error: the id of the logged traceback")


class ErrorResponse(_Closed):
    """Every error answer, whatever its status."""

    error: ErrorDetail


_ERRORS = {
    400: "The body or a header cannot be read",
    401: "No or a wrong bearer token",
    403: "Admin endpoints are off (no LOOPML_ADMIN_TOKEN)",
    404: "No such model, action or record",
    409: "The action does not fit the deployment's state, or the server is pinned to one model",
    413: "The body is over serving.max_body, or has too many rows (serving.max_batch)",
    415: "An unsupported Content-Type",
    422: "Records the model cannot read, or labels the task cannot learn from (each problem named)",
    500: "The model failed on a valid request (the error id points at the logged traceback)",
}


def responses(ok: type[BaseModel] | Any, *errors: int) -> dict[int | str, dict[str, Any]]:
    """A route's documented answers: ``ok`` for 200, an :class:`ErrorResponse` for each error."""
    documented: dict[int | str, dict[str, Any]] = {200: {"model": ok}}
    for status in errors:
        documented[status] = {"model": ErrorResponse, "description": _ERRORS[status]}
    return documented


# -- loopml's own JSON ----------------------------------------------------------------------------


class PredictBatch(BaseModel):
    """Several records, optionally with an entity key (sticky canary routing)."""

    records: list[Record]
    entity: str | int | None = None


class PredictRow(_Closed):
    request_id: str
    prediction: Any
    probabilities: dict[str, float] | None = Field(None, description="classifiers only")


class PredictResponse(_Closed):
    """The answer to one record."""

    request_id: str
    model_version: str
    route: str = Field(description="stable or canary: which model answered")
    prediction: Any
    probabilities: dict[str, float] | None = Field(None, description="classifiers only")


class PredictBatchResponse(_Closed):
    """The answer to a batch: one row per record, ids ``<request_id>-<i>``."""

    request_id: str
    model_version: str
    route: str = Field(description="stable or canary: which model answered")
    predictions: list[PredictRow]


class InvocationsResponse(_Closed):
    predictions: list[Any]


class VersionResponse(_Closed):
    loopml: str
    model: str
    canary: str | None
    canary_weight: float
    shadow: str | None
    deployment: str


# -- Open Inference Protocol (V2) -----------------------------------------------------------------


class V2ServerMetadata(_Closed):
    name: str
    version: str
    extensions: list[str]


class V2Live(_Closed):
    live: bool


class V2Ready(_Closed):
    ready: bool


class V2TensorMetadata(_Closed):
    name: str
    datatype: str
    shape: list[int]


class V2ModelMetadata(_Closed):
    name: str
    versions: list[str]
    platform: str
    inputs: list[V2TensorMetadata]
    outputs: list[V2TensorMetadata]


class V2ModelReady(_Closed):
    name: str
    ready: bool


class V2OutputTensor(_Closed):
    name: str
    datatype: str
    shape: list[int]
    data: list[Any]
    parameters: dict[str, Any] | None = None


class V2InferResponse(_Closed):
    model_name: str
    model_version: str
    id: str
    outputs: list[V2OutputTensor]


# -- feedback, health, admin ----------------------------------------------------------------------


class FeedbackItem(BaseModel):
    """One label: ``request_id`` as the prediction's answer gave it."""

    request_id: str = Field(description="an id the server issued (with a prediction)")
    label: Any = Field(
        description="binary and multiclass: one of the model's classes; regression: a finite "
        "number (never an object, a list or null)"
    )


class FeedbackConflict(_Closed):
    """A label sent for an id already labelled differently: the stored one is kept."""

    request_id: str
    stored: Any = Field(description="the label kept")
    sent: Any = Field(description="the label refused")


class FeedbackResponse(_Closed):
    """What became of each item (a 200 even when some were not stored: look at the counts)."""

    received: int = Field(description="items in the request")
    stored: int = Field(description="new labels stored")
    duplicates: int = Field(
        description="ids already labelled with the same label: idempotent, nothing written"
    )
    unknown: int = Field(description="items whose id the server never issued: not stored")
    conflicting: int = Field(
        description="items whose id is already labelled differently: not stored, the first "
        "label is kept"
    )
    unknown_ids: list[str] = Field(description="the first 100 unknown ids")
    conflicts: list[FeedbackConflict] = Field(description="the first 100 conflicts")


class Health(_Closed):
    status: str


class Readiness(_Closed):
    ready: bool
    model: str | None


class ReloadResponse(_Closed):
    model: str
    revision: int


class RolloutStart(BaseModel):
    """Start rolling a registered version out (``3``, ``flights@3`` or ``flights@challenger``)."""

    version: str
    steps: list[float] | None = Field(None, description="canary percentages, e.g. [5, 25, 50, 100]")
    shadow: bool = Field(False, description="run as a shadow first, then as a canary")


class RolloutReason(BaseModel):
    """An optional reason, recorded with the decision (promote and rollback)."""

    reason: str = ""


class RolloutEvent(_Closed):
    at: str
    action: str
    weight: float
    message: str
    checks: list[dict[str, Any]]
    actor: str


class RolloutStatus(_Closed):
    deployment: str
    stable: str | None
    canary: str | None
    canary_weight: float
    shadow: str | None
    revision: int
    rollout: dict[str, Any] | None
    events: list[RolloutEvent]


# -- request bodies (parsed by hand, documented here) ---------------------------------------------


def _body(
    *schemas: type[BaseModel] | dict[str, Any],
    media: str = "application/json",
    required: bool = True,
) -> dict[str, Any]:
    options = [s if isinstance(s, dict) else s.model_json_schema() for s in schemas]
    schema = options[0] if len(options) == 1 else {"oneOf": options}
    return {"requestBody": {"required": required, "content": {media: {"schema": schema}}}}


_RECORD = {"type": "object", "additionalProperties": True, "description": "feature → value"}
# inlined (no $ref): a body schema's $defs would not resolve inside the OpenAPI document
_FEEDBACK_ITEM = FeedbackItem.model_json_schema()

OPENAPI_BODIES: dict[str, dict[str, Any]] = {
    "predict": _body(_RECORD, {"type": "array", "items": _RECORD}, PredictBatch),
    "invocations": {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "description": "dataframe_split, dataframe_records, instances or inputs",
                    }
                },
                "text/csv": {"schema": {"type": "string"}},
            },
        }
    },
    "v2_infer": _body(
        {
            "type": "object",
            "description": "Open Inference Protocol request: "
            "one named input tensor of shape [N] per feature",
        }
    ),
    "feedback": _body(
        _FEEDBACK_ITEM,
        {"type": "array", "items": _FEEDBACK_ITEM, "minItems": 1},
        {
            "type": "object",
            "required": ["feedback"],
            "properties": {"feedback": {"type": "array", "items": _FEEDBACK_ITEM, "minItems": 1}},
        },
    ),
    "rollout_start": _body(RolloutStart),
    "rollout_action": _body(RolloutReason, required=False),
}
