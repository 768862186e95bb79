"""Probes and versions: ``GET /healthz`` (liveness), ``/readyz`` (readiness), ``/version``."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from loopml._version import __version__
from loopml.serving.routes._common import Service, json_response
from loopml.serving.schemas import Health, Readiness, VersionResponse, responses


def router(service: Service) -> APIRouter:
    routes = APIRouter(tags=["health"])
    follower, name = service.follower, service.spec.name

    @routes.get("/healthz", summary="Liveness", responses=responses(Health))
    async def healthz() -> Response:
        return json_response({"status": "ok"})

    @routes.get(
        "/readyz",
        summary="Readiness: the model is loaded",
        responses={
            **responses(Readiness),
            503: {"model": Readiness, "description": "Not ready yet (no model loaded)"},
        },
    )
    async def readyz() -> Response:
        routing = follower.routing
        ready = routing is not None
        return json_response(
            {"ready": ready, "model": routing.stable.version if routing is not None else None},
            200 if ready else 503,
        )

    @routes.get(
        "/version", summary="loopml and model versions", responses=responses(VersionResponse)
    )
    async def version() -> Response:
        current = follower.current()
        return json_response(
            {
                "loopml": __version__,
                "model": current.stable.version,
                "canary": current.canary.version if current.canary else None,
                "canary_weight": current.weight,
                "shadow": current.shadow.version if current.shadow else None,
                "deployment": name,
            }
        )

    return routes
