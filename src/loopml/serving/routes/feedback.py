"""``POST /feedback``: ground truth for earlier predictions, by request id."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from loopml.errors import LoopmlError, RequestError
from loopml.serving.routes._common import Service, authorize, json_response, read_json
from loopml.serving.schemas import OPENAPI_BODIES, FeedbackResponse, responses


def router(service: Service) -> APIRouter:
    routes = APIRouter(tags=["feedback"])
    store, metrics, recent = service.store, service.metrics, service.scorer.recent

    @routes.post(
        "/feedback",
        openapi_extra=OPENAPI_BODIES["feedback"],
        summary="Ground truth for earlier predictions",
        responses=responses(FeedbackResponse, 400, 401),
    )
    async def feedback(request: Request) -> Response:
        authorize(request, service.prediction_token)
        body = await read_json(request)
        items = body.get("feedback") if isinstance(body, dict) and "feedback" in body else [body]
        if not isinstance(items, list) or not items:
            raise RequestError(
                "feedback: expected a non-empty list of {request_id, label} objects", status=400
            )
        pairs = []
        for i, item in enumerate(items):
            if (
                not isinstance(item, dict)
                or not isinstance(item.get("request_id"), str)
                or "label" not in item
            ):
                raise RequestError(
                    f'feedback[{i}]: expected {{"request_id": str, "label": value}}, '
                    f"got {orjson.dumps(item).decode()[:120]}",
                    status=400,
                )
            pairs.append((item["request_id"], item["label"]))
        try:
            added, duplicates = store.feedback.add(pairs)
        except LoopmlError as exc:
            raise RequestError(str(exc), status=400) from exc
        matched = sum(1 for request_id, _ in pairs if request_id in recent)
        counts = {
            "received": len(pairs),
            "stored": added,
            "duplicates": duplicates,
            "matched_recent": matched,
            "unmatched": len(pairs) - matched,
        }
        metrics.feedback.labels("stored").inc(added)
        metrics.feedback.labels("duplicate").inc(duplicates)
        return json_response(counts)

    return routes
