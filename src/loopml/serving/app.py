"""The model server's app factory: one deployment over loopml's JSON, MLflow's ``/invocations``
and the Open Inference Protocol (KServe V2), with feedback intake, admin, metrics and probes.

No globals: :func:`create_app` builds the objects an app lives on and hands them to the routes:
the :class:`~loopml.serving.follower.Follower` (which models serve, as the store says), the
:class:`~loopml.serving.scoring.Scorer` (validate → route → canary fallback → shadow → log),
the prediction log, and the metrics registry. Bodies are read as bytes and parsed with orjson;
responses are encoded with orjson (the shapes are documented in :mod:`~loopml.serving.schemas`).
Bad input is always a 4xx naming the field; a model failure is a 500 carrying an error id that
is also logged and counted. Every error is a :class:`~loopml.errors.LoopmlError`, answered by
one handler with the status of :data:`loopml.errors.HTTP_STATUS`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response

from loopml._version import __version__
from loopml.errors import LoopmlError
from loopml.predlog import PredictionLog
from loopml.predlog import log_folder as default_log_folder
from loopml.serving.follower import Follower
from loopml.serving.metrics import ServerMetrics
from loopml.serving.openapi import install as install_openapi
from loopml.serving.routes import admin, feedback, health, metrics, mlflow, predict, v2
from loopml.serving.routes._common import Service, error_response
from loopml.serving.scoring import Scorer
from loopml.serving.uploads import UploadGuard
from loopml.spec import Spec
from loopml.store import Store

# Error answers to these statuses are not counted per path: the client chooses the path (any
# model name, any action), so counting them would grow the metrics without bound.
_UNCOUNTED = frozenset({401, 404})


def create_app(
    store: Store,
    spec: Spec,
    *,
    model: str | None = None,
    log_folder: str | Path | None = None,
    prediction_token: str | None = None,
    admin_token: str | None = None,
    feedback_token: str | None = None,
) -> FastAPI:
    """An app serving ``spec``'s deployment: its stable version with any canary or shadow, as
    the store says (followed while the app runs, with the rollout controller run when due).
    ``model`` pins the app to that one version instead: no deployment, no rollouts.

    Tokens: ``prediction_token`` guards the prediction endpoints, ``admin_token`` the admin
    ones (which are off without it); ``/feedback`` accepts ``feedback_token`` (else
    ``prediction_token``) and ``admin_token``, and is open only when no token is set."""
    folder = Path(log_folder) if log_folder else default_log_folder(store)
    server_metrics = ServerMetrics()
    follower = Follower(store, spec, server_metrics, log_folder=folder, model=model)
    flush_interval = spec.serving.log_flush_interval.total_seconds()
    log = PredictionLog(folder, spec.name, flush_interval=flush_interval)
    scorer = Scorer(
        spec.name, follower.current, log, server_metrics, entity_column=spec.entity_column
    )
    service = Service(
        store=store,
        spec=spec,
        metrics=server_metrics,
        follower=follower,
        scorer=scorer,
        log_folder=folder,
        prediction_token=prediction_token,
        admin_token=admin_token,
        feedback_token=feedback_token,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        nonlocal log
        if log.closed:  # the app runs again: a new log (a closed one stays closed)
            log = PredictionLog(folder, spec.name, flush_interval=flush_interval)
            scorer.start(log)
        follower.start()
        log.start()
        try:
            yield
        finally:
            await follower.stop()
            scorer.close()
            log.close()

    app = FastAPI(
        title=f"loopml: {spec.name}",
        version=__version__,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )

    async def on_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoopmlError)
        response = error_response(exc)
        if response.status_code not in _UNCOUNTED:
            server_metrics.count_status(request.url.path, response.status_code)
        return response

    app.add_exception_handler(LoopmlError, on_error)
    # a stalled body is a 408 (the headers' deadline is the server's), an aborted one a log line
    app.add_middleware(UploadGuard, timeout=spec.serving.request_timeout.total_seconds())
    for family in (predict, mlflow, v2, feedback, health, admin):
        app.include_router(family.router(service))
    app.include_router(metrics.router(service, lambda: log.queue_depth))
    install_openapi(app)
    return app
