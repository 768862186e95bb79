"""What every route family shares: the service it answers for, JSON answers, tokens, bodies."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import Response

from loopml.errors import (
    AuthError,
    InputError,
    LoopmlError,
    ModelFailure,
    PayloadTooLarge,
    RequestError,
    RequestTimeout,
    http_status,
)
from loopml.serving.follower import Follower
from loopml.serving.metrics import ServerMetrics
from loopml.serving.protocols._common import loads
from loopml.serving.scoring import Scorer
from loopml.spec import Spec
from loopml.store import Store


@dataclass(frozen=True)
class Service:
    """One app's state, built by :func:`~loopml.serving.app.create_app`: no globals."""

    store: Store
    spec: Spec
    metrics: ServerMetrics
    follower: Follower
    scorer: Scorer
    log_folder: Path
    prediction_token: str | None = None
    admin_token: str | None = None
    feedback_token: str | None = None

    @property
    def feedback_tokens(self) -> list[str]:
        """The tokens ``/feedback`` accepts: the feedback token (else the prediction token) and
        the admin token. Empty only when no token at all is configured: feedback is training
        data, so a server that guards anything guards it."""
        writer = self.feedback_token or self.prediction_token
        return [token for token in (writer, self.admin_token) if token]


def json_response(payload: Any, status: int = 200) -> Response:
    return Response(
        orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY),
        status_code=status,
        media_type="application/json",
    )


def error_response(exc: LoopmlError) -> Response:
    """The error answer to ``exc``: status and ``type`` from :data:`loopml.errors.HTTP_STATUS`,
    body as :class:`~loopml.serving.schemas.ErrorResponse`. A :class:`RequestTimeout` also
    closes the connection (the rest of a stalled body is not worth waiting for); a 401 says
    ``WWW-Authenticate: Bearer``."""
    status, kind = http_status(exc)
    detail: dict[str, Any] = {"type": kind, "message": str(exc)}
    if isinstance(exc, InputError):
        detail["problems"] = exc.problems
    elif isinstance(exc, ModelFailure):
        detail["message"] = (
            f"the model failed on this request; the error is logged under id {exc.error_id}"
        )
        detail["error_id"] = exc.error_id
    response = json_response({"error": detail}, status)
    if isinstance(exc, RequestTimeout):
        response.headers["connection"] = "close"
    elif status == 401:  # RFC 9110: a 401 names the scheme a client should use
        response.headers["www-authenticate"] = 'Bearer realm="loopml"'
    return response


def authorize(
    request: Request,
    token: str | list[str] | None,
    needs: str = "this endpoint needs 'Authorization: Bearer <token>'",
) -> None:
    """Raise :class:`AuthError` (saying what the endpoint ``needs``) unless the request carries
    ``token``, or one of the tokens of a list; no token (or an empty list) means open."""
    tokens = [token] if isinstance(token, str) else token or []
    if not tokens:
        return
    given = request.headers.get("authorization", "").encode()
    # every token is compared, so the time taken says nothing about which one nearly matched
    matches = [hmac.compare_digest(given, f"Bearer {t}".encode()) for t in tokens]
    if not any(matches):
        raise AuthError(needs)


async def read_body(request: Request, limit: int) -> bytes:
    """The body, at most ``limit`` bytes (``serving.max_body``); a longer one is a
    :class:`PayloadTooLarge` (413) before it is read whole: at once when its ``Content-Length``
    says so, else as soon as the chunks received pass the limit."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise PayloadTooLarge(limit)
    chunks, received = [], 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise PayloadTooLarge(limit)
        chunks.append(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def read_json(request: Request, limit: int) -> Any:
    """The body (at most ``limit`` bytes, see :func:`read_body`) as JSON, the tokens ``NaN`` and
    ``Infinity`` read as ``null`` (:func:`~loopml.serving.protocols._common.loads`); a body that
    is not JSON is a :class:`RequestError` (400)."""
    body = await read_body(request, limit)
    try:
        return loads(body)
    except orjson.JSONDecodeError as exc:
        raise RequestError(f"the body is not valid JSON: {exc}", status=400) from exc
