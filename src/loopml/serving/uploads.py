"""Request bodies that stall, and clients that leave mid-upload: :class:`UploadGuard`, the ASGI
middleware :func:`~loopml.serving.app.create_app` wraps every route in (issue 12, item 3).

- **A stalled body times out.** Once a request's headers are in, its body must arrive within
  ``serving.request_timeout`` (default 30 s), counted from the headers, however it trickles in
  (one byte a second gets no more time than nothing at all). Past that, receiving the body
  raises :class:`~loopml.errors.RequestTimeout`, which the app answers like every loopml error:
  408 ``request_timeout``, and the connection is closed (``Connection: close``, set by
  :func:`~loopml.serving.routes._common.error_response`). Once the body is complete no deadline
  applies: waiting for the client to disconnect is not an upload. The headers have their own
  deadline, in the server's protocol (:mod:`loopml.serving.deadline`): an ASGI app is only
  called once they are complete.
- **An aborted upload is one log line.** A client that disconnects before its body is complete
  makes Starlette raise ``ClientDisconnect`` in the route; there is nobody left to answer, so
  this middleware logs one warning (peer, method, path, bytes received) instead of the
  traceback uvicorn would print for it.

Both are counted in bytes and seconds only; the body limit itself (``serving.max_body``, 413)
is :func:`~loopml.serving.routes._common.read_body`'s.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from loopml.errors import RequestTimeout

logger = logging.getLogger(__name__)


def peer(scope: Scope) -> str:
    """The client's ``host:port`` as the server saw it, or ``"unknown client"``."""
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else "unknown client"


class UploadGuard:
    """ASGI middleware: a body that does not arrive within ``timeout`` seconds of the headers
    is a :class:`RequestTimeout` (408); a client that disconnects mid-upload is logged as one
    line. Stateless between requests; one instance serves every request of an app."""

    def __init__(self, app: ASGIApp, *, timeout: float) -> None:
        if timeout <= 0:
            raise ValueError(f"expected a timeout above 0 seconds, got {timeout}")
        self.app, self.timeout = app, timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        state: dict[str, Any] = {"complete": False, "received": 0}

        async def timed_receive() -> Message:
            if state["complete"]:
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                logger.warning(
                    "408: the body of %s %s from %s did not arrive within %g s (%s bytes came)",
                    scope["method"],
                    scope["path"],
                    peer(scope),
                    self.timeout,
                    f"{state['received']:,}",
                )
                raise RequestTimeout(self.timeout, received=state["received"]) from None
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                state["complete"] = not message.get("more_body", False)
            return message

        try:
            await self.app(scope, timed_receive, send)
        except ClientDisconnect:
            when = "it was answered" if state["complete"] else "its body was complete"
            logger.warning(
                "%s disconnected during %s %s before %s (%s bytes came); nothing was answered",
                peer(scope),
                scope["method"],
                scope["path"],
                when,
                f"{state['received']:,}",
            )
