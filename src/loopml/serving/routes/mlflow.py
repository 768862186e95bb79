"""MLflow's scoring server: ``POST /invocations`` (JSON or CSV) and ``GET /ping``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from loopml.serving.openapi import REQUEST_BODIES, security
from loopml.serving.protocols.mlflow import invocations_response, parse_invocations
from loopml.serving.routes._common import Service, authorize, json_response, read_body
from loopml.serving.schemas import InvocationsResponse, responses


def router(service: Service) -> APIRouter:
    routes = APIRouter(tags=["MLflow"])
    scorer, token = service.scorer, service.prediction_token
    max_rows, max_body = service.spec.serving.max_batch, service.spec.serving.max_body

    @routes.post(
        "/invocations",
        openapi_extra={
            **REQUEST_BODIES["invocations"],
            **security("predictionToken" if token else None),
        },
        summary="MLflow scoring-server protocol",
        responses=responses(InvocationsResponse, 400, 401, 413, 415, 422, 500),
    )
    async def invocations(request: Request) -> Response:
        authorize(request, token)
        body = await read_body(request, max_body)
        records = parse_invocations(body, request.headers.get("content-type"), max_rows=max_rows)
        scored = scorer.score(records, "/invocations")
        return json_response(invocations_response(scored.predictions))

    @routes.get(
        "/ping",
        summary="MLflow health check",
        response_class=PlainTextResponse,
        responses={
            200: {
                "description": "Serving (a blank line, as MLflow's scoring server answers)",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            }
        },
    )
    async def ping() -> Response:
        return PlainTextResponse("\n")

    return routes
