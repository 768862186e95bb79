"""Running the dashboard: on its own (``loopml ui``), or inside the model server (``loopml serve``).

- :func:`serve_ui` serves :func:`standalone_app` with uvicorn in this process until SIGINT or
  SIGTERM: the dashboard at ``/ui/``, and ``/`` redirecting there, so its URLs are the same as
  under ``loopml serve``.
- :func:`serving_app_with_ui` is the app factory ``loopml serve`` hands to its workers (as the
  import string :data:`SERVING_APP`): the model server of :func:`loopml.serving.server.build_app`
  with the dashboard mounted at ``/ui``. The serving package never imports the dashboard; the
  CLI chooses the factory.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import uvicorn
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import Mount, Route

from loopml.config import ServeSettings
from loopml.serving.server import build_app, check_port
from loopml.spec import Spec, load_spec
from loopml.store import Store
from loopml.ui.app import create_ui

MOUNT = "/ui"
SERVING_APP = "loopml.ui.server:serving_app_with_ui"


def standalone_app(
    store: Store, spec: Spec, *, admin_token: str | None = None, host: str | None = None
) -> Starlette:
    """The dashboard mounted at ``/ui``, with ``/`` redirecting to it; ``host`` is the host it
    is bound to (answered besides the loopback names, see :mod:`loopml.ui.hosts`)."""

    def home(request: Request) -> RedirectResponse:
        return RedirectResponse(f"{request.scope.get('root_path', '')}{MOUNT}/", status_code=307)

    return Starlette(
        routes=[
            Route("/", home),
            Mount(MOUNT, app=create_ui(store, spec, admin_token=admin_token, host=host)),
        ]
    )


def serving_app_with_ui(settings: ServeSettings) -> FastAPI:
    """The model server's app (:func:`build_app`) with the dashboard at ``/ui``: it answers to
    the server's ``--host`` and signs its forms with the secret all workers share."""
    app = build_app(settings)
    dashboard = create_ui(
        Store.open(),
        load_spec(settings.spec),
        admin_token=settings.admin_token,
        host=settings.host,
        csrf_secret=settings.form_secret,
    )
    app.mount(MOUNT, dashboard)
    return app


def is_local(host: str) -> bool:
    """Whether ``host`` only listens on this machine (so writes without a token are safe)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve_ui(
    store: Store,
    spec: Spec,
    *,
    host: str = "127.0.0.1",
    port: int = 8050,
    admin_token: str | None = None,
    announce: Callable[[str], None] | None = None,
) -> None:
    """Serve the dashboard on ``host:port`` until SIGINT or SIGTERM, then return.

    ``announce`` is called with the dashboard's URL once the port is known to be free. Raises
    :class:`~loopml.errors.LoopmlError` when the port cannot be bound.
    """
    check_port(host, port)
    if announce is not None:
        shown = f"[{host}]" if ":" in host else host
        announce(f"http://{shown}:{port}{MOUNT}/")
    uvicorn.run(
        standalone_app(store, spec, admin_token=admin_token, host=host),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
    )
