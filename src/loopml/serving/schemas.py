"""Request and response models of every endpoint, success and error: the OpenAPI document.

The routes parse bodies themselves (orjson, then :mod:`loopml.serving.inputs`), which keeps the
single-record path fast and the error messages field-level, and encode responses with orjson;
these Pydantic models describe the very shapes they read and send, so ``/openapi.json`` says what
the server answers. Each route lists its statuses with :func:`responses`; every error, whatever
its status, is an :class:`ErrorResponse` (``{"error": {"type", "message", ...}}``), with the
status and ``type`` taken from :data:`loopml.errors.HTTP_STATUS`. The request models (bodies the
routes read by hand) go into the document through :mod:`loopml.serving.openapi`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from loopml.serving.protocols.v2 import V2_ACCEPTED_DATATYPES, V2_OUTPUTS

#: A feature's value: JSON's scalars (an object or a list is refused, naming the field).
Scalar = str | float | bool | None
#: One record: feature → value.
Record = dict[str, Scalar]


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
        description="invalid_input, bad_request, payload_too_large, unauthorized, forbidden, "
        "not_found, conflict, pinned or model_error"
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


class PredictOne(BaseModel):
    """One record with an entity key (the key makes canary routing sticky)."""

    record: Record
    entity: str | int | None = None


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


class DataframeSplit(_Closed):
    """pandas' ``orient="split"``: column names, then rows of values in that order."""

    columns: list[str]
    data: list[list[Scalar]]
    index: list[Any] | None = Field(None, description="row labels, one per row (ignored)")


def _params() -> Any:
    return Field(None, description="MLflow's inference parameters: accepted and ignored")


_COLUMNS_OR_ROWS = "a list of records, or an object mapping each column to a list of values"


class InvocationsSplit(_Closed):
    dataframe_split: DataframeSplit
    params: dict[str, Any] | None = _params()


class InvocationsRecords(_Closed):
    dataframe_records: list[Record]
    params: dict[str, Any] | None = _params()


class InvocationsInstances(_Closed):
    instances: list[Record] | dict[str, list[Scalar]] = Field(description=_COLUMNS_OR_ROWS)
    params: dict[str, Any] | None = _params()


class InvocationsInputs(_Closed):
    inputs: list[Record] | dict[str, list[Scalar]] = Field(description=_COLUMNS_OR_ROWS)
    params: dict[str, Any] | None = _params()


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


_DATATYPES: list[JsonValue] = [*sorted(V2_ACCEPTED_DATATYPES)]
_OUTPUTS: list[JsonValue] = list(V2_OUTPUTS)


class V2InputTensor(BaseModel):
    """One feature's values: ``name`` is the feature, one value per row."""

    name: str
    datatype: str = Field(json_schema_extra={"enum": _DATATYPES})
    shape: list[int] = Field(
        min_length=1, max_length=2, description="[N] or [N, 1]: N rows, the same in every input"
    )
    data: list[Scalar | list[Scalar]] = Field(description="N values, flat or nested one level")
    parameters: dict[str, Any] | None = Field(
        None, description="binary_data_size: the tensor's bytes in the binary part"
    )


class V2RequestedOutput(BaseModel):
    name: str = Field(json_schema_extra={"enum": _OUTPUTS})
    parameters: dict[str, Any] | None = None


class V2InferRequest(BaseModel):
    """An Open Inference Protocol request: one input tensor per feature."""

    id: str | None = Field(None, description="echoed as the answer's id")
    inputs: list[V2InputTensor] = Field(min_length=1)
    outputs: list[V2RequestedOutput] | None = Field(None, description="all when absent")
    parameters: dict[str, Any] | None = None


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
    label: str | float | bool = Field(
        description="binary and multiclass: one of the model's classes; regression: a finite "
        "number (never an object, a list or null)"
    )


class FeedbackBatch(BaseModel):
    """Several labels (a bare JSON list of items is accepted as well)."""

    feedback: list[FeedbackItem] = Field(min_length=1)


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

    version: str | int
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
