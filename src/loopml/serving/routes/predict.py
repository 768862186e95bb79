"""``POST /predict``: loopml's own JSON, one record or a batch.

The body must be sent as ``application/json`` (optionally ``charset=utf-8``): any other
Content-Type, or none, is a 415 before the body is read, as on ``/invocations``. The records then
meet the input contract every protocol shares (:mod:`loopml.serving.inputs`).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from loopml.errors import RequestError, did_you_mean
from loopml.serving.openapi import REQUEST_BODIES, security
from loopml.serving.protocols._common import check_media_type
from loopml.serving.protocols.mlflow import CONTENT_TYPE_JSON
from loopml.serving.routes._common import Service, authorize, json_response, read_json
from loopml.serving.schemas import PredictBatchResponse, PredictResponse, responses


def router(service: Service) -> APIRouter:
    routes = APIRouter(tags=["loopml"])
    scorer, token = service.scorer, service.prediction_token
    max_body = service.spec.serving.max_body

    @routes.post(
        "/predict",
        openapi_extra={
            **REQUEST_BODIES["predict"],
            **security("predictionToken" if token else None),
        },
        summary="Predict one record or a batch",
        responses=responses(PredictResponse | PredictBatchResponse, 400, 401, 413, 415, 422, 500),
    )
    async def predict(request: Request) -> Response:
        authorize(request, token)
        check_media_type(request.headers.get("content-type"), (CONTENT_TYPE_JSON,))
        body = await read_json(request, max_body)
        single, entity = True, None
        # {"records": [...], "entity": key} or {"record": {...}, "entity": key}: the entity key
        # makes canary routing sticky (else the spec's entity column, else a uniform draw)
        if isinstance(body, dict) and ("records" in body or "record" in body):
            _check_wrapper(body)
            entity = body.get("entity")
            if entity is not None and not isinstance(entity, str | int):
                raise RequestError(
                    f"entity: expected a string or integer key, got {type(entity).__name__}",
                    status=400,
                )
            if "records" in body:
                records, single = body["records"], False
                if not isinstance(records, list):
                    raise RequestError(
                        f"records: expected a list of JSON objects, got {type(records).__name__}",
                        status=400,
                    )
            else:
                records = [body["record"]]
        elif isinstance(body, list):
            records, single = body, False
        else:
            records = [body]
        scored = scorer.score(records, "/predict", entity)
        request_id, rows = scored.request_id, scored.rows
        head = {
            "request_id": request_id,
            "model_version": scored.served.version,
            "route": scored.route,
        }
        if single:
            return json_response({**head, **rows[0]})
        return json_response(
            {
                **head,
                "predictions": [
                    {"request_id": f"{request_id}-{i}", **row} for i, row in enumerate(rows)
                ],
            }
        )

    return routes


_WRAPPER = ("records", "record", "entity")


def _check_wrapper(body: dict[str, object]) -> None:
    """``{"records"|"record": ..., "entity": ...}`` and nothing else: a stray key there (a typo
    of ``entity``) would be silently ignored, and routing would not be sticky."""
    if "records" in body and "record" in body:
        raise RequestError(
            "body: expected 'records' (a list) or 'record' (one object), got both; send one",
            status=400,
        )
    for key in body:
        if key not in _WRAPPER:
            raise RequestError(
                f"body: expected only the keys 'records' or 'record', and 'entity', beside the "
                f"records, got {key!r}{did_you_mean(str(key), _WRAPPER)}",
                status=400,
            )
