"""The model server: an app factory serving one deployment over loopml's JSON, MLflow's
``/invocations`` and the Open Inference Protocol (KServe V2), with feedback intake, Prometheus
metrics and health probes.

No globals: :func:`create_app` builds everything an app needs (model, checker, metrics registry,
prediction log) and keeps it on ``app.state``. Bodies are read as bytes and parsed with orjson;
the single-record path validates the dict and encodes it straight into the model's feature row
(no DataFrame). Bad input is always a 4xx naming the field; a model failure is a 500 carrying an
error id that is also logged and counted. Every prediction is logged off the hot path.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from loopml._version import __version__
from loopml.errors import LoopmlError
from loopml.features import FeatureError
from loopml.registry import Package, load_package
from loopml.serving import protocols
from loopml.serving.inputs import InputError, InputStats, RecordChecker
from loopml.serving.log import LogEntry, PredictionLog
from loopml.serving.metrics import ServerMetrics
from loopml.serving.schemas import OPENAPI_BODIES, ErrorBody, PredictResponse
from loopml.spec import Spec
from loopml.store import Store

log = logging.getLogger("loopml.serving")
RECENT_IDS = 200_000


class AuthError(LoopmlError):
    """A missing or wrong bearer token."""


@dataclass
class Served:
    """The deployment one app serves: the stable model and everything derived from it once."""

    name: str
    package: Package
    checker: RecordChecker
    labels: list[Any]

    @property
    def version(self) -> str:
        return self.package.record.ref


@dataclass
class Scored:
    """One scored request: its id, the model that answered, raw outputs, and per-row outputs."""

    request_id: str
    served: Served
    output: np.ndarray
    rows: list[dict[str, Any]]

    @property
    def predictions(self) -> list[Any]:
        return [row["prediction"] for row in self.rows]


def _json(payload: Any, status: int = 200) -> Response:
    return Response(
        orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY),
        status_code=status,
        media_type="application/json",
    )


def _error(status: int, kind: str, message: str, **extra: Any) -> Response:
    return _json({"error": {"type": kind, "message": message, **extra}}, status)


def _label(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


def create_app(
    store: Store,
    spec: Spec,
    *,
    model: str | None = None,
    log_folder: str | Path | None = None,
    prediction_token: str | None = None,
    admin_token: str | None = None,
) -> FastAPI:
    """An app serving ``model`` (default: the project's champion) of ``spec``'s deployment."""
    ref = model or f"{spec.name}@champion"
    folder = Path(log_folder) if log_folder else Path(store.artifacts.root) / "predictions"
    metrics = ServerMetrics()
    recent: OrderedDict[str, None] = OrderedDict()

    def load() -> Served:
        package = load_package(store, ref)
        return Served(
            spec.name,
            package,
            RecordChecker(package.schema, spec.serving),
            [_label(c) for c in package.model.classes],
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.served = load()
        app.state.log = PredictionLog(
            folder, spec.name, flush_interval=spec.serving.log_flush_interval.total_seconds()
        ).start()
        log.info("serving %s as %s", app.state.served.version, spec.name)
        try:
            yield
        finally:
            app.state.log.close()

    app = FastAPI(
        title=f"loopml: {spec.name}",
        version=__version__,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )

    def served() -> Served:
        return app.state.served

    def authorize(request: Request, token: str | None) -> None:
        if token is None:
            return
        if request.headers.get("authorization", "") != f"Bearer {token}":
            raise AuthError("this endpoint needs 'Authorization: Bearer <token>'")

    def score(records: list[dict[str, Any]], endpoint: str) -> Scored:
        """Validate, score and log ``records``; each row's outputs are built once, for both
        the prediction log and the response."""
        started = time.perf_counter()
        current = served()
        stats = InputStats()
        current.checker.check(records, stats)
        metrics.count_inputs(stats)
        try:
            decisions, output = current.package.model.score_records(records)
        except FeatureError:
            raise
        except Exception as exc:
            error_id = uuid.uuid4().hex[:12]
            log.exception("model error %s on %s", error_id, endpoint)
            metrics.model_errors.labels(current.version).inc()
            raise ModelFailure(error_id) from exc
        request_id = uuid.uuid4().hex
        latency = (time.perf_counter() - started) * 1000
        now = datetime.now(UTC)
        rows = [_outputs(current, decisions[i], output[i]) for i in range(len(records))]
        entries = [
            LogEntry(
                now,
                request_id if len(records) == 1 else f"{request_id}-{i}",
                spec.name,
                current.version,
                "stable",
                record,
                rows[i],
                latency,
            )
            for i, record in enumerate(records)
        ]
        app.state.log.log(entries)
        for entry in entries:
            recent[entry.request_id] = None
        while len(recent) > RECENT_IDS:
            recent.popitem(last=False)
        metrics.observe(endpoint, current.version, "stable", latency / 1000, len(records))
        metrics.log_queue.set(app.state.log.queue_depth)
        return Scored(request_id, current, output, rows)

    def _outputs(current: Served, decision: Any, output: Any) -> dict[str, Any]:
        if current.package.model.task == "regression":
            return {"prediction": float(output)}
        return {
            "prediction": current.labels[int(decision)],
            "probabilities": {
                str(c).lower() if isinstance(c, bool) else str(c): float(p)
                for c, p in zip(current.labels, output, strict=True)
            },
        }

    @app.exception_handler(InputError)
    async def _input_error(request: Request, exc: InputError) -> Response:
        metrics.count_status(request.url.path, 422)
        return _error(422, "invalid_input", str(exc), problems=exc.problems)

    @app.exception_handler(FeatureError)
    async def _feature_error(request: Request, exc: FeatureError) -> Response:
        metrics.count_status(request.url.path, 422)
        return _error(422, "invalid_input", str(exc))

    @app.exception_handler(protocols.RequestError)
    async def _request_error(request: Request, exc: protocols.RequestError) -> Response:
        metrics.count_status(request.url.path, exc.status)
        return _error(exc.status, "bad_request", str(exc))

    @app.exception_handler(AuthError)
    async def _auth_error(request: Request, exc: AuthError) -> Response:
        return _error(401, "unauthorized", str(exc))

    @app.exception_handler(ModelFailure)
    async def _model_failure(request: Request, exc: ModelFailure) -> Response:
        metrics.count_status(request.url.path, 500)
        return _error(
            500,
            "model_error",
            f"the model failed on this request; the error is logged under id {exc.error_id}",
            error_id=exc.error_id,
        )

    async def body_json(request: Request) -> Any:
        body = await request.body()
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise protocols.RequestError(f"the body is not valid JSON: {exc}", status=400) from exc

    # --- loopml's own JSON -------------------------------------------------------------------

    @app.post(
        "/predict",
        openapi_extra=OPENAPI_BODIES["predict"],
        summary="Predict one record or a batch",
        responses={
            200: {"model": PredictResponse},
            422: {"model": ErrorBody},
            400: {"model": ErrorBody},
            500: {"model": ErrorBody},
        },
    )
    async def predict(request: Request) -> Response:
        authorize(request, prediction_token)
        body = await body_json(request)
        single = True
        # {"records": [...], "entity": key} or {"record": {...}}; "entity" will make canary
        # routing sticky; with a single stable model every request takes the stable route
        if isinstance(body, dict) and ("records" in body or "record" in body):
            if "records" in body:
                records, single = body["records"], False
                if not isinstance(records, list):
                    raise protocols.RequestError(
                        f"records: expected a list of JSON objects, got {type(records).__name__}",
                        status=400,
                    )
            else:
                records = [body["record"]]
        elif isinstance(body, list):
            records, single = body, False
        else:
            records = [body]
        scored = score(records, "/predict")
        request_id, rows = scored.request_id, scored.rows
        head = {"request_id": request_id, "model_version": scored.served.version, "route": "stable"}
        if single:
            return _json({**head, **rows[0]})
        return _json(
            {
                **head,
                "predictions": [
                    {"request_id": f"{request_id}-{i}", **row} for i, row in enumerate(rows)
                ],
            }
        )

    # --- MLflow scoring server ----------------------------------------------------------------

    @app.post(
        "/invocations",
        openapi_extra=OPENAPI_BODIES["invocations"],
        summary="MLflow scoring-server protocol",
    )
    async def invocations(request: Request) -> Response:
        authorize(request, prediction_token)
        records = protocols.parse_invocations(
            await request.body(),
            request.headers.get("content-type"),
            max_rows=spec.serving.max_batch,
        )
        scored = score(records, "/invocations")
        return _json(protocols.invocations_response(scored.predictions))

    @app.get("/ping", summary="MLflow health check")
    async def ping() -> Response:
        return Response(status_code=200)

    @app.get("/version", summary="loopml and model versions")
    async def version() -> Response:
        return _json({"loopml": __version__, "model": served().version, "deployment": spec.name})

    # --- Open Inference Protocol (KServe V2) --------------------------------------------------

    def v2_model(name: str) -> Served:
        if name != spec.name:
            raise NotFound(f"no model named '{name}' here; this server serves '{spec.name}'")
        return served()

    @app.get("/v2", summary="V2 server metadata")
    async def v2_server() -> Response:
        return _json(protocols.v2_server_metadata(__version__))

    @app.get("/v2/health/live", summary="V2 liveness")
    async def v2_live() -> Response:
        return _json({"live": True})

    @app.get("/v2/health/ready", summary="V2 readiness")
    async def v2_ready() -> Response:
        return _json({"ready": hasattr(app.state, "served")})

    @app.get("/v2/models/{name}", summary="V2 model metadata")
    async def v2_metadata(name: str) -> Response:
        current = v2_model(name)
        schema = current.package.schema
        inputs = [
            (rule.name, protocols.V2_DATATYPES[rule.kind]) for rule in schema.columns.values()
        ]
        outputs: list[tuple[str, str, list[int]]] = [("predictions", "BYTES", [-1])]
        if current.package.model.task == "regression":
            outputs = [("predictions", "FP64", [-1])]
        else:
            outputs.append(("probabilities", "FP64", [-1, len(current.labels)]))
        return _json(
            protocols.v2_model_metadata(
                spec.name, [str(current.package.record.version)], "loopml", inputs, outputs
            )
        )

    @app.get("/v2/models/{name}/ready", summary="V2 model readiness")
    async def v2_model_ready(name: str) -> Response:
        v2_model(name)
        return _json({"name": name, "ready": True})

    @app.post(
        "/v2/models/{name}/infer", openapi_extra=OPENAPI_BODIES["v2_infer"], summary="V2 inference"
    )
    async def v2_infer(name: str, request: Request) -> Response:
        authorize(request, prediction_token)
        current = v2_model(name)
        records, client_id, wanted = protocols.parse_v2_infer(
            await request.body(),
            input_names=list(current.package.schema.columns),
            max_rows=spec.serving.max_batch,
            header_length=_header_length(request),
        )
        scored = score(records, "/v2/infer")
        regression = scored.served.package.model.task == "regression"
        body = protocols.v2_infer_response(
            model_name=spec.name,
            model_version=str(scored.served.package.record.version),
            request_id=client_id or scored.request_id,
            predictions=scored.predictions,
            probabilities=None if regression else scored.output.tolist(),
            classes=None if regression else [str(c) for c in scored.served.labels],
            outputs=wanted,
        )
        return _json(body)

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> Response:
        return _error(404, "not_found", str(exc))

    # --- feedback, metrics, health ------------------------------------------------------------

    @app.post(
        "/feedback",
        openapi_extra=OPENAPI_BODIES["feedback"],
        summary="Ground truth for earlier predictions",
    )
    async def feedback(request: Request) -> Response:
        authorize(request, prediction_token)
        body = await body_json(request)
        items = body.get("feedback") if isinstance(body, dict) and "feedback" in body else [body]
        if not isinstance(items, list) or not items:
            raise protocols.RequestError(
                "feedback: expected a non-empty list of {request_id, label} objects", status=400
            )
        pairs = []
        for i, item in enumerate(items):
            if (
                not isinstance(item, dict)
                or not isinstance(item.get("request_id"), str)
                or "label" not in item
            ):
                raise protocols.RequestError(
                    f'feedback[{i}]: expected {{"request_id": str, "label": value}}, '
                    f"got {orjson.dumps(item).decode()[:120]}",
                    status=400,
                )
            pairs.append((item["request_id"], item["label"]))
        try:
            added, duplicates = store.add_feedback(pairs)
        except LoopmlError as exc:
            raise protocols.RequestError(str(exc), status=400) from exc
        matched = sum(1 for request_id, _ in pairs if request_id in recent)
        counts = {
            "received": len(pairs),
            "stored": added,
            "duplicates": duplicates,
            "matched_recent": matched,
            "unmatched": len(pairs) - matched,
        }
        metrics.feedback.labels("stored").inc(added)
        metrics.feedback.labels("duplicate").inc(duplicates)
        return _json(counts)

    @app.get("/metrics", summary="Prometheus metrics")
    async def prometheus() -> Response:
        if hasattr(app.state, "log"):
            metrics.log_queue.set(app.state.log.queue_depth)
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz", summary="Liveness")
    async def healthz() -> Response:
        return _json({"status": "ok"})

    @app.get("/readyz", summary="Readiness: the model is loaded")
    async def readyz() -> Response:
        ready = hasattr(app.state, "served")
        return _json(
            {"ready": ready, "model": served().version if ready else None}, 200 if ready else 503
        )

    @app.post("/admin/reload", summary="Reload the model from the registry (admin)")
    async def reload(request: Request) -> Response:
        if admin_token is None:
            return _error(
                403,
                "forbidden",
                "admin endpoints are off: start the server with "
                "LOOPML_ADMIN_TOKEN set to enable them",
            )
        authorize(request, admin_token)
        app.state.served = load()
        return _json({"model": served().version})

    return app


def _header_length(request: Request) -> int | None:
    """The JSON part's length of a V2 request carrying binary tensors, if the client sent it."""
    value = request.headers.get("inference-header-content-length")
    if value is None:
        return None
    if not value.strip().isdigit():
        raise protocols.RequestError(
            f"Inference-Header-Content-Length: expected a byte count, got {value!r}", status=400
        )
    return int(value)


class ModelFailure(LoopmlError):
    """The model raised on a valid request; ``error_id`` points at the logged traceback."""

    def __init__(self, error_id: str) -> None:
        super().__init__(f"model error {error_id}")
        self.error_id = error_id


class NotFound(LoopmlError):
    """A path names something this server does not serve."""
