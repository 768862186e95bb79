"""``GET /metrics``: the server's Prometheus metrics (text exposition format)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from loopml.serving.routes._common import Service


def router(service: Service, queue_depth: Callable[[], int]) -> APIRouter:
    """``queue_depth()``: how many predictions wait to be written (a gauge read at scrape)."""
    routes = APIRouter(tags=["health"])
    metrics = service.metrics

    @routes.get(
        "/metrics",
        summary="Prometheus metrics",
        response_class=PlainTextResponse,
        responses={
            200: {
                "description": f"Prometheus' text exposition format ({CONTENT_TYPE_LATEST})",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            }
        },
    )
    async def prometheus() -> Response:
        metrics.log_queue.set(queue_depth())
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return routes
