"""Admin endpoints (bearer ``LOOPML_ADMIN_TOKEN``): reload, and the deployment's rollout.

Off (403) when the server has no admin token. On a server pinned to one model
(``serve --model``), rollout actions are refused (409): a pinned server follows no deployment.
The rollout itself is :mod:`loopml.rollout.controller`'s; these routes call it in a thread and
then re-read the deployment, so this process answers with the new state at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from loopml.errors import AccessDenied, NotFoundError, Pinned, RequestError
from loopml.rollout import controller
from loopml.serving.openapi import REQUEST_BODIES, path_parameter, security
from loopml.serving.routes._common import Service, authorize, json_response, read_body, read_json
from loopml.serving.schemas import ReloadResponse, RolloutStatus, responses

ACTIONS = ("promote", "rollback", "pause", "resume")
_ACTION = path_parameter("action", list(ACTIONS))
_ADMIN = security("adminToken")  # off (403) without the token, never open


def _reason(body: bytes) -> str:
    """The optional ``{"reason": "..."}`` of a promote or rollback (JSON, or no body)."""
    if not body.strip():
        return ""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RequestError(
            f'the body is not valid JSON: {exc}; send {{"reason": "..."}} or no body', status=400
        ) from exc
    return str(parsed.get("reason", ""))[:200] if isinstance(parsed, dict) else ""


def router(service: Service) -> APIRouter:
    routes = APIRouter(prefix="/admin", tags=["admin"])
    store, spec, follower, pinned = (
        service.store,
        service.spec,
        service.follower,
        service.follower.model,
    )

    def admit(request: Request) -> None:
        """Raise unless admin is on and the request carries the admin token."""
        if service.admin_token is None:
            raise AccessDenied(
                "admin endpoints are off: start the server with "
                "LOOPML_ADMIN_TOKEN set to enable them"
            )
        authorize(request, service.admin_token)
        if pinned is not None and request.url.path.startswith("/admin/rollout"):
            raise Pinned(
                f"this server is pinned to {pinned} (serve --model); rollouts need a server that "
                "follows the deployment (serve without --model)"
            )

    async def act(action: Callable[[], Any]) -> Response:
        await asyncio.to_thread(action)
        await follower.refresh()
        return json_response(controller.status(store, spec).to_json())

    @routes.post(
        "/reload",
        summary="Re-read the deployment, or reload a pinned model (admin)",
        openapi_extra=_ADMIN,
        responses=responses(ReloadResponse, 401, 403),
    )
    async def reload(request: Request) -> Response:
        admit(request)
        routing = await follower.refresh(reload=True)
        return json_response({"model": routing.stable.version, "revision": routing.revision})

    @routes.get(
        "/rollout",
        summary="The deployment and its rollout's decisions (admin)",
        openapi_extra=_ADMIN,
        responses=responses(RolloutStatus, 401, 403, 409),
    )
    async def status(request: Request) -> Response:
        admit(request)
        return json_response((await asyncio.to_thread(controller.status, store, spec)).to_json())

    @routes.post(
        "/rollout/start",
        openapi_extra={**REQUEST_BODIES["rollout_start"], **_ADMIN},
        summary="Start a canary (or shadow) rollout of a registered version (admin)",
        responses=responses(RolloutStatus, 400, 401, 403, 404, 409, 413),
    )
    async def start(request: Request) -> Response:
        admit(request)
        body = await read_json(request, spec.serving.max_body)
        if not isinstance(body, dict) or not isinstance(body.get("version"), str | int):
            raise RequestError(
                'expected {"version": "3" or "flights@3", "steps": [5, 25, 50, 100], '
                '"shadow": false}',
                status=400,
            )
        steps = body.get("steps")
        if steps is not None and not (
            isinstance(steps, list) and all(isinstance(x, int | float) for x in steps)
        ):
            raise RequestError(f"steps: expected a list of percentages, got {steps!r}")
        version, shadow = str(body["version"]), bool(body.get("shadow", False))
        return await act(
            lambda: controller.start(store, spec, version, steps=steps, shadow=shadow, actor="api")
        )

    @routes.post(
        "/rollout/{action}",
        openapi_extra={**REQUEST_BODIES["rollout_action"], "parameters": [_ACTION], **_ADMIN},
        summary="promote, rollback, pause or resume (admin)",
        responses=responses(RolloutStatus, 400, 401, 403, 404, 409, 413),
    )
    async def action(request: Request) -> Response:
        admit(request)
        name = request.path_params["action"]
        if name not in ACTIONS:
            raise NotFoundError(
                f"no rollout action '{name}': use promote, rollback, pause or resume"
            )
        reason = _reason(await read_body(request, spec.serving.max_body))
        if name in ("promote", "rollback"):
            decide = controller.promote if name == "promote" else controller.rollback
            return await act(lambda: decide(store, spec, actor="api", reason=reason))
        toggle = controller.pause if name == "pause" else controller.resume
        return await act(lambda: toggle(store, spec, actor="api"))

    return routes
