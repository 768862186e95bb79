"""The model server: an app factory serving one deployment over loopml's JSON, MLflow's
``/invocations`` and the Open Inference Protocol (KServe V2), with feedback intake, Prometheus
metrics and health probes.

No globals: :func:`create_app` builds everything an app needs (models, checkers, metrics
registry, prediction log) and keeps it on ``app.state``. Bodies are read as bytes and parsed with
orjson; the single-record path validates the dict and encodes it straight into the model's
feature row (no DataFrame). Bad input is always a 4xx naming the field; a model failure is a 500
carrying an error id that is also logged and counted. Every prediction is logged off the hot path.

The app follows its deployment in the store (:mod:`loopml.serving.routing`): a canary answers its
share of requests, and when it fails on one (an exception, input its schema refuses, or a
non-finite answer) stable answers instead and the failure is logged against the canary; a
shadow scores copies in a background thread and is never returned. Each process also runs the
rollout controller when an evaluation is due; the store's compare-and-set keeps one decision.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, suppress
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
from loopml.errors import (
    AuthError,
    FeatureError,
    InputError,
    LoopmlError,
    ModelFailure,
    NotFoundError,
    RequestError,
    RolloutError,
)
from loopml.predlog import LogEntry, PredictionLog
from loopml.predlog import log_folder as default_log_folder
from loopml.registry import load_package
from loopml.rollout import controller
from loopml.serving import protocols
from loopml.serving.inputs import InputStats
from loopml.serving.metrics import ServerMetrics
from loopml.serving.routing import Routing, Served, routing_for
from loopml.serving.routing import served as served_model
from loopml.serving.schemas import OPENAPI_BODIES, ErrorBody, PredictResponse
from loopml.spec import Spec
from loopml.store import Store

log = logging.getLogger("loopml.serving")
RECENT_IDS = 200_000
POLL_SECONDS = 0.5  # how often a process re-reads its deployment from the store
WINDOW_SECONDS = 10.0  # how often the monitoring gauges re-read the latest windows
SHADOW_QUEUE = 256  # shadow copies waiting at most; more are skipped and counted


@dataclass
class Scored:
    """One answered request: its id, the route taken, the model that answered, raw outputs
    and per-row outputs."""

    request_id: str
    route: str
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


def create_app(
    store: Store,
    spec: Spec,
    *,
    model: str | None = None,
    log_folder: str | Path | None = None,
    prediction_token: str | None = None,
    admin_token: str | None = None,
) -> FastAPI:
    """An app serving ``spec``'s deployment: its stable version with any canary or shadow, as
    the store says (followed every ``POLL_SECONDS``, with the rollout controller run when due).
    ``model`` pins the app to that one version instead: no deployment, no rollouts."""
    folder = Path(log_folder) if log_folder else default_log_folder(store)
    metrics = ServerMetrics()
    recent: OrderedDict[str, None] = OrderedDict()
    packages: dict[str, Served] = {}
    following = threading.Lock()  # one re-read of the deployment at a time

    def load(ref: str) -> Served:
        if ref not in packages:
            packages[ref] = served_model(load_package(store, ref), spec)
        return packages[ref]

    def follow_store() -> Routing:
        """The routing the store describes now (loading any new version; runs in a thread)."""
        with following:
            return _follow()

    def _follow() -> Routing:
        record = store.deployments.get(spec.name)
        if record.stable is None:
            record = controller.ensure_deployment(store, spec)
        current = getattr(app.state, "routing", None)
        if current is not None and current.revision == record.revision:
            return current
        routing = routing_for(record, spec, load)
        for ref in [r for r in packages if r not in {record.stable, record.canary, record.shadow}]:
            del packages[ref]
        log.info(
            "deployment '%s' revision %d: stable %s, canary %s at %g%%, shadow %s",
            spec.name,
            record.revision,
            record.stable,
            record.canary,
            record.canary_weight,
            record.shadow,
        )
        return routing

    def apply(routing: Routing) -> None:
        app.state.routing = routing
        metrics.canary_weight.set(routing.weight)

    async def follow() -> None:
        """Keep this process on the store's deployment, run the controller when due, and
        refresh the monitoring gauges every ``WINDOW_SECONDS``."""
        shown = 0.0
        while True:
            await asyncio.sleep(POLL_SECONDS)
            try:
                apply(await asyncio.to_thread(follow_store))
                await asyncio.to_thread(controller.evaluate, store, spec, folder)
                if time.monotonic() - shown >= WINDOW_SECONDS:
                    shown = time.monotonic()
                    latest = await asyncio.to_thread(
                        store.monitoring.list_windows, spec.name, limit=20
                    )
                    metrics.show_windows(latest)
            except Exception:  # the store may be briefly unreachable: keep serving, retry
                log.exception("could not follow deployment '%s'; retrying", spec.name)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if model is not None:
            apply(Routing(stable=load(model)))
        else:
            apply(follow_store())
        app.state.log = PredictionLog(
            folder, spec.name, flush_interval=spec.serving.log_flush_interval.total_seconds()
        ).start()
        app.state.shadow = ThreadPoolExecutor(1, thread_name_prefix="loopml-shadow")
        app.state.shadow_pending = 0
        follower = None if model is not None else asyncio.create_task(follow())
        log.info("serving %s as %s", app.state.routing.stable.version, spec.name)
        try:
            yield
        finally:
            if follower is not None:
                follower.cancel()
                with suppress(asyncio.CancelledError):
                    await follower
            app.state.shadow.shutdown(wait=True, cancel_futures=True)
            app.state.log.close()

    app = FastAPI(
        title=f"loopml: {spec.name}",
        version=__version__,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )

    def routing() -> Routing:
        return app.state.routing

    def authorize(request: Request, token: str | None) -> None:
        if token is None:
            return
        given = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, f"Bearer {token}".encode()):  # no timing oracle
            raise AuthError("this endpoint needs 'Authorization: Bearer <token>'")

    def run(current: Served, records: list[dict[str, Any]], route: str) -> tuple[Any, Any]:
        """``current``'s decisions and outputs; a model failure becomes :class:`ModelFailure`
        (logged with an error id and counted)."""
        try:
            return current.package.model.score_records(records)
        except FeatureError:
            raise
        except Exception as exc:
            error_id = uuid.uuid4().hex[:12]
            if route == "stable":
                log.exception("model error %s in %s", error_id, current.version)
            else:  # answered by stable instead; counted, and logged in the prediction log
                log.warning("%s model %s failed: %r", route, current.version, exc)
            metrics.model_errors.labels(current.version, route).inc()
            raise ModelFailure(error_id) from exc

    def entries(
        current: Served,
        route: str,
        ids: list[str],
        records: list[dict[str, Any]],
        rows: list[dict[str, Any]] | None,
        scores: np.ndarray | None,
        started: float,
        error: str | None = None,
    ) -> list[LogEntry]:
        latency = (time.perf_counter() - started) * 1000
        now = datetime.now(UTC)
        return [
            LogEntry(
                now,
                ids[i],
                spec.name,
                current.version,
                route,
                record,
                rows[i] if rows is not None else {},
                latency,
                error,
                float(scores[i]) if scores is not None else None,
            )
            for i, record in enumerate(records)
        ]

    def try_candidate(
        current: Served,
        route: str,
        records: list[dict[str, Any]],
        ids: list[str],
        *,
        checked: bool = False,
    ) -> tuple[np.ndarray, list[dict[str, Any]]] | None:
        """Score on a canary or shadow: its outputs and per-row outputs, or ``None`` after
        logging its failure (an exception, records its schema refuses, or outputs that are not
        finite numbers). ``checked``: stable's check, already passed, is this model's too."""
        started = time.perf_counter()
        try:
            if not checked:
                current.checker.check(records, InputStats())
            decisions, output = run(current, records, route)
            if not np.all(np.isfinite(output)):
                raise ValueError("the model answered NaN or infinity")
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
            app.state.log.log(entries(current, route, ids, records, None, None, started, error))
            return None
        rows = [current.outputs(decisions[i], output[i]) for i in range(len(records))]
        scores = current.scores(output)
        app.state.log.log(entries(current, route, ids, records, rows, scores, started))
        return output, rows

    def copy_to_shadow(current: Served, records: list[dict[str, Any]], ids: list[str]) -> None:
        if app.state.shadow_pending >= SHADOW_QUEUE:
            metrics.shadow_dropped.inc()
            return
        app.state.shadow_pending += 1

        def job() -> None:
            started = time.perf_counter()
            try:
                try_candidate(current, "shadow", records, ids)
                seconds = time.perf_counter() - started
                metrics.observe("shadow", current.version, "shadow", seconds, len(ids))
            finally:
                app.state.shadow_pending -= 1

        app.state.shadow.submit(job)

    def score(records: list[dict[str, Any]], endpoint: str, entity: Any = None) -> Scored:
        """Validate, route, score and log ``records``. A canary that fails is logged against
        the canary and the request is answered by stable; a shadow gets a copy off this path."""
        started = time.perf_counter()
        snapshot = routing()
        stable = snapshot.stable
        stats = InputStats()
        stable.checker.check(records, stats)
        metrics.count_inputs(stats)
        request_id = uuid.uuid4().hex
        ids = (
            [request_id]
            if len(records) == 1
            else [f"{request_id}-{i}" for i in range(len(records))]
        )
        if entity is None and spec.entity_column and spec.entity_column in records[0]:
            entity = records[0][spec.entity_column]
        route, current, answer = "stable", stable, None
        if snapshot.route(None if entity is None else str(entity)) == "canary":
            assert snapshot.canary is not None
            answer = try_candidate(
                snapshot.canary, "canary", records, ids, checked=snapshot.canary_checked
            )
            if answer is None:
                metrics.fallbacks.labels(snapshot.canary.version).inc()
            else:
                route, current = "canary", snapshot.canary
        if answer is None:  # stable answers (and logs) the request
            decisions, output = run(stable, records, "stable")
            rows = [stable.outputs(decisions[i], output[i]) for i in range(len(records))]
            app.state.log.log(
                entries(stable, "stable", ids, records, rows, stable.scores(output), started)
            )
        else:
            output, rows = answer
        if snapshot.shadow is not None and snapshot.shadows():
            copy_to_shadow(snapshot.shadow, records, ids)
        for request in ids:
            recent[request] = None
        while len(recent) > RECENT_IDS:
            recent.popitem(last=False)
        metrics.observe(endpoint, current.version, route, time.perf_counter() - started, len(ids))
        return Scored(request_id, route, current, output, rows)

    @app.exception_handler(InputError)
    async def _input_error(request: Request, exc: InputError) -> Response:
        metrics.count_status(request.url.path, 422)
        return _error(422, "invalid_input", str(exc), problems=exc.problems)

    @app.exception_handler(FeatureError)
    async def _feature_error(request: Request, exc: FeatureError) -> Response:
        metrics.count_status(request.url.path, 422)
        return _error(422, "invalid_input", str(exc))

    @app.exception_handler(RequestError)
    async def _request_error(request: Request, exc: RequestError) -> Response:
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
            raise RequestError(f"the body is not valid JSON: {exc}", status=400) from exc

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
        single, entity = True, None
        # {"records": [...], "entity": key} or {"record": {...}, "entity": key}: the entity key
        # makes canary routing sticky (else the spec's entity column, else a uniform draw)
        if isinstance(body, dict) and ("records" in body or "record" in body):
            entity = body.get("entity")
            if entity is not None and not isinstance(entity, str | int):
                raise RequestError(
                    f"entity: expected a string or integer key, got {type(entity).__name__}",
                    status=400,
                )
            if "records" in body:
                records, single = body["records"], False
                if not isinstance(records, list):
                    raise RequestError(
                        f"records: expected a list of JSON objects, got {type(records).__name__}",
                        status=400,
                    )
            else:
                records = [body["record"]]
        elif isinstance(body, list):
            records, single = body, False
        else:
            records = [body]
        scored = score(records, "/predict", entity)
        request_id, rows = scored.request_id, scored.rows
        head = {
            "request_id": request_id,
            "model_version": scored.served.version,
            "route": scored.route,
        }
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
        current = routing()
        return _json(
            {
                "loopml": __version__,
                "model": current.stable.version,
                "canary": current.canary.version if current.canary else None,
                "canary_weight": current.weight,
                "shadow": current.shadow.version if current.shadow else None,
                "deployment": spec.name,
            }
        )

    # --- Open Inference Protocol (KServe V2) --------------------------------------------------

    def v2_model(name: str) -> Served:
        if name != spec.name:
            raise NotFoundError(f"no model named '{name}' here; this server serves '{spec.name}'")
        return routing().stable

    @app.get("/v2", summary="V2 server metadata")
    async def v2_server() -> Response:
        return _json(protocols.v2_server_metadata(__version__))

    @app.get("/v2/health/live", summary="V2 liveness")
    async def v2_live() -> Response:
        return _json({"live": True})

    @app.get("/v2/health/ready", summary="V2 readiness")
    async def v2_ready() -> Response:
        return _json({"ready": hasattr(app.state, "routing")})

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

    @app.exception_handler(NotFoundError)
    async def _not_found(request: Request, exc: NotFoundError) -> Response:
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
            raise RequestError(
                "feedback: expected a non-empty list of {request_id, label} objects", status=400
            )
        pairs = []
        for i, item in enumerate(items):
            if (
                not isinstance(item, dict)
                or not isinstance(item.get("request_id"), str)
                or "label" not in item
            ):
                raise RequestError(
                    f'feedback[{i}]: expected {{"request_id": str, "label": value}}, '
                    f"got {orjson.dumps(item).decode()[:120]}",
                    status=400,
                )
            pairs.append((item["request_id"], item["label"]))
        try:
            added, duplicates = store.feedback.add(pairs)
        except LoopmlError as exc:
            raise RequestError(str(exc), status=400) from exc
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
        ready = hasattr(app.state, "routing")
        return _json(
            {"ready": ready, "model": routing().stable.version if ready else None},
            200 if ready else 503,
        )

    # --- admin: reload and rollouts (bearer token) -------------------------------------------

    def admin(request: Request) -> Response | None:
        """An error response unless the request carries the admin token (and admin is on)."""
        if admin_token is None:
            return _error(
                403,
                "forbidden",
                "admin endpoints are off: start the server with "
                "LOOPML_ADMIN_TOKEN set to enable them",
            )
        authorize(request, admin_token)
        if model is not None and request.url.path.startswith("/admin/rollout"):
            return _error(
                409,
                "pinned",
                f"this server is pinned to {model} (serve --model); rollouts need a server that "
                "follows the deployment (serve without --model)",
            )
        return None

    async def act(action: Callable[[], Any]) -> Response:
        try:
            await asyncio.to_thread(action)
        except RolloutError as exc:
            return _error(409, "conflict", str(exc))
        except NotFoundError as exc:
            return _error(404, "not_found", str(exc))
        except LoopmlError as exc:
            return _error(400, "bad_request", str(exc))
        apply(await asyncio.to_thread(follow_store))
        return _json(_rollout_status(controller.status(store, spec)))

    @app.post("/admin/reload", summary="Re-read the deployment, or reload a pinned model (admin)")
    async def reload(request: Request) -> Response:
        if (denied := admin(request)) is not None:
            return denied
        if model is not None:
            packages.clear()
            apply(Routing(stable=await asyncio.to_thread(load, model)))
        else:
            apply(await asyncio.to_thread(follow_store))
        return _json({"model": routing().stable.version, "revision": routing().revision})

    @app.get("/admin/rollout", summary="The deployment and its rollout's decisions (admin)")
    async def rollout_status(request: Request) -> Response:
        if (denied := admin(request)) is not None:
            return denied
        return _json(_rollout_status(await asyncio.to_thread(controller.status, store, spec)))

    @app.post(
        "/admin/rollout/start",
        openapi_extra=OPENAPI_BODIES["rollout_start"],
        summary="Start a canary (or shadow) rollout of a registered version (admin)",
    )
    async def rollout_start(request: Request) -> Response:
        if (denied := admin(request)) is not None:
            return denied
        body = await body_json(request)
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
        return await act(
            lambda: controller.start(
                store,
                spec,
                str(body["version"]),
                steps=steps,
                shadow=bool(body.get("shadow", False)),
                actor="api",
            )
        )

    @app.post("/admin/rollout/{action}", summary="promote, rollback, pause or resume (admin)")
    async def rollout_action(action: str, request: Request) -> Response:
        if (denied := admin(request)) is not None:
            return denied
        if action not in ("promote", "rollback", "pause", "resume"):
            raise NotFoundError(
                f"no rollout action '{action}': use promote, rollback, pause or resume"
            )
        body = await request.body()
        reason = ""
        if body:
            parsed = orjson.loads(body) if body.strip().startswith(b"{") else {}
            reason = str(parsed.get("reason", ""))[:200]
        if action in ("promote", "rollback"):
            fn = controller.promote if action == "promote" else controller.rollback
            return await act(lambda: fn(store, spec, actor="api", reason=reason))
        toggle = controller.pause if action == "pause" else controller.resume
        return await act(lambda: toggle(store, spec, actor="api"))

    return app


def _rollout_status(status: controller.Status) -> dict[str, Any]:
    record = status.deployment
    return {
        "deployment": record.name,
        "stable": record.stable,
        "canary": record.canary,
        "canary_weight": record.canary_weight,
        "shadow": record.shadow,
        "revision": record.revision,
        "rollout": status.rollout,
        "events": [
            {
                "at": e.at.isoformat(),
                "action": e.action,
                "weight": e.weight,
                "message": e.message,
                "checks": e.checks,
                "actor": e.actor,
            }
            for e in status.events
        ],
    }


def _header_length(request: Request) -> int | None:
    """The JSON part's length of a V2 request carrying binary tensors, if the client sent it."""
    value = request.headers.get("inference-header-content-length")
    if value is None:
        return None
    if not value.strip().isdigit():
        raise RequestError(
            f"Inference-Header-Content-Length: expected a byte count, got {value!r}", status=400
        )
    return int(value)


