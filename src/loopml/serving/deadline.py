"""A deadline for request headers: :func:`header_deadline` wraps uvicorn's HTTP protocol so a
connection that does not complete a request's headers within ``serving.request_timeout`` is
closed (issue 12, item 3: stalled uploads time out).

Why here: uvicorn has no such timeout (its issue #157 still lists ``--timeout-request-start``).
``timeout_keep_alive`` only runs between requests and is cancelled by any byte received, so a
client sending one header byte a second, or opening a connection and sending nothing, holds it
for ever; h11's ``h11_max_incomplete_event_size`` bounds the headers' size, not their time. And
ASGI middleware cannot help: the app is only called once the headers are complete. The body's
deadline is :class:`~loopml.serving.uploads.UploadGuard`'s, which answers 408 through the app.

The deadline runs from the moment the connection is made, and again from the end of each
response, until the next request's headers are complete, however the bytes trickle in. When it
passes, a connection that sent part of a request gets a 408 ``request_timeout`` (the error body
every loopml error has) and is closed, and one warning is logged; one that sent nothing is
closed without a word (as an idle keep-alive connection is, usually sooner, by uvicorn).

The wrapper subclasses whichever protocol uvicorn would pick (``httptools`` when installed, else
``h11``); it relies on what both have: ``transport``, ``loop``, ``client``, ``cycle`` (a new one
per request, made when its headers are complete) and ``on_response_complete``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
from uvicorn.protocols.http.auto import AutoHTTPProtocol

from loopml.errors import RequestTimeout, http_status

logger = logging.getLogger(__name__)


def timeout_response(timeout: float) -> bytes:
    """The raw HTTP/1.1 408 sent when the headers did not arrive in time (closes)."""
    error = RequestTimeout(timeout, part="headers")
    body = orjson.dumps({"error": {"type": http_status(error)[1], "message": str(error)}})
    head = (
        "HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


def header_deadline(timeout: float, base: Any = AutoHTTPProtocol) -> type[asyncio.Protocol]:
    """``base`` (uvicorn's HTTP protocol class) with a ``timeout``-second deadline for each
    request's headers; pass it to ``uvicorn.Config(http=...)``."""
    if timeout <= 0:
        raise ValueError(f"expected a timeout above 0 seconds, got {timeout}")
    answer = timeout_response(timeout)

    class HeaderDeadline(base):
        """uvicorn's protocol, closing a connection whose headers are late (see the module)."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._timer: asyncio.TimerHandle | None = None
            self._waiting_after: Any = None  # the request before the one awaited
            self._got = 0  # bytes received since the deadline was set

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            self._got += len(data)
            super().data_received(data)
            if self._timer is not None and self.cycle is not self._waiting_after:
                self._disarm()  # the headers are in: the app has the request now

        def on_response_complete(self) -> None:
            answered = self.cycle
            super().on_response_complete()
            if self.cycle is answered and not self.transport.is_closing():
                self._arm()  # no pipelined request started: wait for the next one's headers

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            self._waiting_after, self._got = self.cycle, 0
            self._timer = self.loop.call_later(timeout, self._expired)

        def _disarm(self) -> None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

        def _expired(self) -> None:
            self._timer = None
            if self.transport.is_closing():
                return
            if self._got:
                client = self.client
                logger.warning(
                    "408: the request headers from %s did not arrive within %g s (%s bytes "
                    "came); closed the connection",
                    f"{client[0]}:{client[1]}" if client else "unknown client",
                    timeout,
                    f"{self._got:,}",
                )
                self.transport.write(answer)
            self.transport.close()

    return HeaderDeadline
