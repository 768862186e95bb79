"""An app served in-process: its lifespan on a private event loop, requests through httpx's ASGI
transport (no socket). Starlette's TestClient wants another httpx than the one installed."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import httpx
from fastapi import FastAPI

T = TypeVar("T")


class InProcess:
    """``with InProcess(app) as client:`` runs the app's lifespan; requests go straight in."""

    def __init__(self, app: FastAPI) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._lifespan = app.router.lifespan_context(app)
        self._client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://serving.test"
        )

    def _run(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout=60)

    def __enter__(self) -> InProcess:
        self._run(self._lifespan.__aenter__())
        return self

    def __exit__(self, *exc: object) -> None:
        self._run(self._client.aclose())
        self._run(self._lifespan.__aexit__(None, None, None))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def request(
        self, method: str, path: str, token: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        """One request; ``token`` is sent as ``Authorization: Bearer <token>``."""
        if token:
            kwargs["headers"] = {**kwargs.get("headers", {}), "authorization": f"Bearer {token}"}
        return self._run(self._client.request(method, path, **kwargs))

    def get(self, path: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, token, **kwargs)

    def post(self, path: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, token, **kwargs)
