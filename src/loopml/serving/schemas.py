"""Request and response schemas, for the OpenAPI document.

The endpoints parse bodies themselves (orjson, then :mod:`loopml.serving.inputs`), which keeps
the single-record path fast and the error messages field-level; these Pydantic models describe
the same shapes so ``/openapi.json`` documents every endpoint.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

Record = dict[str, Any]


class PredictBatch(BaseModel):
    """Several records, optionally with an entity key (sticky canary routing)."""

    records: list[Record]
    entity: str | int | None = None


class PredictResponse(BaseModel):
    request_id: str
    model_version: str
    route: str = Field(description="stable or canary: which model answered")
    prediction: Any
    probabilities: dict[str, float] | None = None


class FeedbackItem(BaseModel):
    request_id: str
    label: Any


class FeedbackBatch(BaseModel):
    feedback: list[FeedbackItem]


class RolloutStart(BaseModel):
    """Start rolling a registered version out (``3``, ``flights@3`` or ``flights@challenger``)."""

    version: str
    steps: list[float] | None = Field(None, description="canary percentages, e.g. [5, 25, 50, 100]")
    shadow: bool = Field(False, description="run as a shadow first, then as a canary")


class ErrorBody(BaseModel):
    type: str
    message: str
    problems: list[dict[str, Any]] | None = None
    error_id: str | None = None


def _body(
    *schemas: type[BaseModel] | dict[str, Any], media: str = "application/json"
) -> dict[str, Any]:
    options = [s if isinstance(s, dict) else s.model_json_schema() for s in schemas]
    schema = options[0] if len(options) == 1 else {"oneOf": options}
    return {"requestBody": {"required": True, "content": {media: {"schema": schema}}}}


_RECORD = {"type": "object", "additionalProperties": True, "description": "feature → value"}

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
    "feedback": _body(FeedbackItem, FeedbackBatch),
    "rollout_start": _body(RolloutStart),
}
