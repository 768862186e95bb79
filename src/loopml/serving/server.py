"""Running the server: uvicorn with the app factory, one or several worker processes.

``loopml serve`` puts its options into the environment (see :class:`loopml.config.ServeSettings`)
and starts uvicorn on the import string of :func:`app_from_env`, so every worker process builds
the same app. Uvicorn handles SIGTERM gracefully: the app's lifespan closes the prediction log,
which flushes every logged prediction before the process exits.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI

from loopml.config import ServeSettings
from loopml.serving.app import create_app
from loopml.spec import load_spec
from loopml.store import Store


def app_from_env() -> FastAPI:
    """The app described by ``LOOPML_*`` settings (the factory each worker calls)."""
    settings = ServeSettings.from_env()
    return create_app(
        Store.open(),
        load_spec(settings.spec),
        model=settings.model,
        prediction_token=settings.prediction_token,
        admin_token=settings.admin_token,
    )


def serve(
    *,
    host: str,
    port: int,
    workers: int,
    spec: Path,
    model: str | None,
    prediction_token: str | None,
) -> None:
    """Serve until interrupted; checks that the model loads before binding the port."""
    import uvicorn

    os.environ["LOOPML_SPEC"] = str(spec.resolve())
    if model:
        os.environ["LOOPML_SERVE_MODEL"] = model
    if prediction_token:
        os.environ["LOOPML_PREDICTION_TOKEN"] = prediction_token
    uvicorn.run(
        "loopml.serving.server:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers if workers > 1 else None,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=10,
    )
