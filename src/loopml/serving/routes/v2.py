"""The Open Inference Protocol (KServe V2, REST): server and model metadata, readiness, inference.

The model's name is in the path: routes read it from ``request.path_params`` and document it with
``openapi_extra`` (its one value, the deployment's name; another is a 404), so that the document
does not promise a validation error (422) the server never sends.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from loopml._version import __version__
from loopml.errors import NotFoundError, RequestError
from loopml.serving.openapi import REQUEST_BODIES, path_parameter, security
from loopml.serving.protocols.v2 import (
    V2_DATATYPES,
    parse_v2_infer,
    v2_infer_response,
    v2_model_metadata,
    v2_server_metadata,
)
from loopml.serving.routes._common import Service, authorize, json_response, read_body
from loopml.serving.routing import Served
from loopml.serving.schemas import (
    V2InferResponse,
    V2Live,
    V2ModelMetadata,
    V2ModelReady,
    V2Ready,
    V2ServerMetadata,
    responses,
)

_HEADER_LENGTH = {
    "name": "Inference-Header-Content-Length",
    "in": "header",
    "required": False,
    "schema": {"type": "integer", "minimum": 0},
    "description": "the JSON part's bytes, when binary tensor data follows it",
}


def _header_length(request: Request) -> int | None:
    """The JSON part's length of a V2 request carrying binary tensors, if the client sent it."""
    value = request.headers.get("inference-header-content-length")
    if value is None:
        return None
    if not value.strip().isdigit():
        raise RequestError(
            f"Inference-Header-Content-Length: expected a byte count, got {value!r}", status=400
        )
    return int(value)


def router(service: Service) -> APIRouter:
    routes = APIRouter(tags=["Open Inference Protocol (V2)"])
    spec, follower, scorer, token = (
        service.spec,
        service.follower,
        service.scorer,
        service.prediction_token,
    )
    name_parameter = path_parameter("name", [spec.name], "the model: this server serves one")

    def model(request: Request) -> Served:
        name = request.path_params["name"]
        if name != spec.name:
            raise NotFoundError(f"no model named '{name}' here; this server serves '{spec.name}'")
        return follower.current().stable

    @routes.get("/v2", summary="V2 server metadata", responses=responses(V2ServerMetadata))
    async def v2_server() -> Response:
        return json_response(v2_server_metadata(__version__))

    @routes.get("/v2/health/live", summary="V2 liveness", responses=responses(V2Live))
    async def v2_live() -> Response:
        return json_response({"live": True})

    @routes.get("/v2/health/ready", summary="V2 readiness", responses=responses(V2Ready))
    async def v2_ready() -> Response:
        return json_response({"ready": follower.routing is not None})

    @routes.get(
        "/v2/models/{name}",
        summary="V2 model metadata",
        openapi_extra={"parameters": [name_parameter]},
        responses=responses(V2ModelMetadata, 404),
    )
    async def v2_metadata(request: Request) -> Response:
        current = model(request)
        schema = current.package.schema
        inputs = [(rule.name, V2_DATATYPES[rule.kind]) for rule in schema.columns.values()]
        outputs: list[tuple[str, str, list[int]]] = [("predictions", "BYTES", [-1])]
        if current.package.model.task == "regression":
            outputs = [("predictions", "FP64", [-1])]
        else:
            outputs.append(("probabilities", "FP64", [-1, len(current.labels)]))
        versions = [str(current.package.record.version)]
        return json_response(v2_model_metadata(spec.name, versions, "loopml", inputs, outputs))

    @routes.get(
        "/v2/models/{name}/ready",
        summary="V2 model readiness",
        openapi_extra={"parameters": [name_parameter]},
        responses=responses(V2ModelReady, 404),
    )
    async def v2_model_ready(request: Request) -> Response:
        model(request)
        return json_response({"name": request.path_params["name"], "ready": True})

    @routes.post(
        "/v2/models/{name}/infer",
        openapi_extra={
            **REQUEST_BODIES["v2_infer"],
            "parameters": [name_parameter, _HEADER_LENGTH],
            **security("predictionToken" if token else None),
        },
        summary="V2 inference",
        responses=responses(V2InferResponse, 400, 401, 404, 413, 422, 500),
    )
    async def v2_infer(request: Request) -> Response:
        authorize(request, token)
        model(request)  # a 404 for another model's name
        records, client_id, wanted = parse_v2_infer(
            await read_body(request, spec.serving.max_body),
            max_rows=spec.serving.max_batch,
            header_length=_header_length(request),
        )
        scored = scorer.score(records, "/v2/infer")
        regression = scored.served.package.model.task == "regression"
        body = v2_infer_response(
            model_name=spec.name,
            model_version=str(scored.served.package.record.version),
            request_id=client_id or scored.request_id,
            predictions=scored.predictions,
            probabilities=None if regression else scored.output.tolist(),
            classes=None if regression else [str(c) for c in scored.served.labels],
            outputs=wanted,
        )
        return json_response(body)

    return routes
