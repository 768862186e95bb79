"""The dashboard as an ASGI app: server-rendered pages over the store, Plotly served locally.

:func:`create_ui` builds a Starlette app meant to be mounted (``loopml ui`` and ``loopml serve``
mount it at ``/ui``); links are built from the mount point (the request's ``root_path``), so it
works under any prefix. Pages (``GET``): ``/`` overview, ``/models``, ``/runs``, ``/datasets``
and ``/datasets/{name}/{version}``, ``/monitoring`` and ``/monitoring/features/{name}`` (one
feature's histogram now and drift over time), ``/alerts``, ``/audit``; the training reports
and model cards that training wrote are served from the reports folder at ``/reports/run/{id}``
and ``/reports/model/{name}/{version}`` (built from validated names, never from a path).
``POST /alerts/{id}/ack`` acknowledges an alert (see :mod:`loopml.ui.access` for who may) and
redirects back to the alerts page, so a reload does not post again; a client that asks for JSON
(``Accept: application/json``) gets the alert as JSON instead. Every form carries the page's CSRF
token (:mod:`loopml.ui.csrf`), and every request must name the dashboard's own host
(:mod:`loopml.ui.hosts`), which keeps out DNS rebinding.

Every chart's title is drawn as an HTML heading above it (:func:`loopml.reports.render.headed`),
never inside the plot where Plotly's toolbar covers it.

Plotly's JavaScript is served once at ``/static/plotly.min.js`` (gzipped when the browser takes
it, cacheable for a year, its URL versioned by Plotly's version), never from a CDN: the dashboard
works offline and makes no request beyond its own server. Bad input (an unknown or malformed id,
a bad query parameter) gets a 4xx page naming the problem, or JSON for JSON clients.
"""

from __future__ import annotations

import asyncio
import gzip
import re
from datetime import UTC, datetime
from functools import cache
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import orjson
import plotly
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Route

from loopml.errors import (
    AccessDenied,
    LoopmlError,
    NotFoundError,
    PageError,
    StoreError,
    http_status,
)
from loopml.reports.render import headed, plotly_js, templates
from loopml.reports.tables import number
from loopml.spec import Spec
from loopml.store import Store, check_name
from loopml.ui import monitoring_page, pages
from loopml.ui.access import check_change
from loopml.ui.audit import audit as audit_rows
from loopml.ui.csrf import CsrfTokens, new_secret
from loopml.ui.hosts import HostCheck
from loopml.workflows import reports_folder

TEMPLATES = Path(__file__).parent / "templates"
MAX_FORM_BYTES = 64 * 1024
DEFAULT_WINDOWS = 500
MAX_WINDOWS = 5_000
_ID = re.compile(r"[0-9]{1,18}")


def _id(value: str, what: str) -> int:
    if not _ID.fullmatch(value) or int(value) < 1:
        raise PageError(f"{what} must be a positive whole number, got {value!r}")
    return int(value)


def _name(value: str, what: str) -> str:
    try:
        return check_name(value, what=what)
    except StoreError as exc:
        raise PageError(str(exc)) from exc


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


@cache
def _plotly_gzip() -> bytes:
    return gzip.compress(plotly_js().encode(), compresslevel=6)


def create_ui(
    store: Store,
    spec: Spec,
    *,
    admin_token: str | None = None,
    reports: str | Path | None = None,
    host: str | None = None,
    csrf_secret: bytes | None = None,
) -> Starlette:
    """The dashboard of ``spec``'s project over ``store`` (see the module doc).

    ``admin_token`` (the server's ``LOOPML_ADMIN_TOKEN``) is required for changes when set;
    without it only the dashboard's own machine may make them. ``reports`` is the folder training
    writes its reports to (default: ``$LOOPML_HOME/reports``). ``host`` is the host the server
    was started with (``--host``), answered besides the loopback names and the address a
    connection arrives on. ``csrf_secret`` signs the forms' CSRF tokens (default: a fresh one;
    the workers of one server must share it).
    """
    folder = reports_folder(reports)
    env = templates(TEMPLATES)
    csrf = CsrfTokens(csrf_secret or new_secret())
    facts = monitoring_page.ModelFacts(store)

    def render(
        request: Request, template: str, *, status: int = 200, counts: bool = True, **context: Any
    ) -> HTMLResponse:
        html = env.get_template(template).render(
            base=request.scope.get("root_path", "").rstrip("/"),
            spec=spec,
            open_count=len(store.monitoring.list_alerts(status="open")) if counts else None,
            generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
            plotly_version=plotly.__version__,
            number=number,
            pretty=pages.pretty,
            figures=headed(context.pop("figures", [])),
            csrf_token=csrf.token(),
            **context,
        )
        return HTMLResponse(html, status_code=status)

    def error(request: Request, status: int, message: str) -> Response:
        kind = HTTPStatus(status).phrase.lower()
        if _wants_json(request):
            body = {"error": {"type": kind, "message": message}}
            return Response(orjson.dumps(body), status, media_type="application/json")
        return render(
            request,
            "error.html.j2",
            status=status,
            counts=False,
            title=kind.capitalize(),
            message=message,
        )

    def wrong_host(request: Request, message: str) -> Response:
        """The answer to a request for another host: the message only, nothing of the project."""
        if _wants_json(request):
            body = {"error": {"type": "bad_request", "message": message}}
            return Response(orjson.dumps(body), 400, media_type="application/json")
        return PlainTextResponse(message, 400)

    def overview(request: Request) -> Response:
        return render(
            request,
            "overview.html.j2",
            page="overview",
            title="Overview",
            o=pages.overview(store, spec),
        )

    def models(request: Request) -> Response:
        return render(
            request,
            "models.html.j2",
            page="models",
            title="Models",
            rows=pages.models(store, spec, folder),
        )

    def runs(request: Request) -> Response:
        rows = pages.runs(store, spec, folder)
        chart = pages.runs_figure(spec, rows)
        return render(
            request,
            "runs.html.j2",
            page="runs",
            title="Runs",
            rows=rows,
            figures=[chart] if chart else [],
        )

    def datasets(request: Request) -> Response:
        return render(
            request,
            "datasets.html.j2",
            page="datasets",
            title="Datasets",
            rows=pages.datasets(store),
        )

    def dataset(request: Request) -> Response:
        name = _name(request.path_params["name"], "dataset")
        version = _id(request.path_params["version"], "the dataset version")
        shown = pages.dataset(store, f"{name}@{version}")
        return render(
            request,
            "dataset.html.j2",
            page="datasets",
            title=shown.record.ref,
            d=shown,
            figures=shown.figures,
        )

    def windows(request: Request) -> int:
        last = _id(request.query_params.get("windows", str(DEFAULT_WINDOWS)), "windows")
        if last > MAX_WINDOWS:
            raise PageError(f"windows must be at most {MAX_WINDOWS:,}, got {last:,}")
        return last

    def monitoring(request: Request) -> Response:
        last = windows(request)
        shown = monitoring_page.monitoring(store, spec, facts, last=last)
        return render(
            request,
            "monitoring.html.j2",
            page="monitoring",
            title="Monitoring",
            m=shown,
            report=shown.report if shown else None,
            last=last,
            figures=[*shown.lead, *shown.more] if shown else [],
        )

    def feature(request: Request) -> Response:
        last = windows(request)
        shown = monitoring_page.feature(store, spec, facts, request.path_params["name"], last=last)
        return render(
            request,
            "feature.html.j2",
            page="monitoring",
            title=f"Feature '{shown.name}'",
            f=shown,
            last=last,
            figures=shown.figures,
        )

    def alerts(request: Request) -> Response:
        show = request.query_params.get("status", "all")
        if show not in ("all", "open", "acked"):
            raise PageError(f"status must be 'all', 'open' or 'acked', got {show!r}")
        rows = store.monitoring.list_alerts(status=None if show == "all" else show, limit=500)
        just = request.query_params.get("acked", "")  # set by the redirect after an ack
        acked = next((a.id for a in rows if str(a.id) == just and a.status == "acked"), None)
        return render(
            request,
            "alerts.html.j2",
            page="alerts",
            title="Alerts",
            rows=rows,
            incidents=store.incidents.list(limit=50),
            show=show,
            acked=acked,
            token_required=admin_token is not None,
        )

    async def ack(request: Request) -> Response:
        alert_id = _id(request.path_params["alert_id"], "the alert id")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                raise PageError(f"the form is over {MAX_FORM_BYTES:,} bytes", 413)
        form = {}
        if request.headers.get("content-type", "").startswith("application/x-www-form"):
            form = parse_qs(body.decode("utf-8", "replace"))
        check_change(request, admin_token, form, csrf)
        try:
            record = await asyncio.to_thread(store.monitoring.ack_alert, alert_id)
        except NotFoundError as exc:
            raise PageError(str(exc), 404) from exc
        except StoreError as exc:
            acked = await asyncio.to_thread(store.monitoring.list_alerts, status="acked")
            if any(a.id == alert_id for a in acked):  # acknowledged before: say when
                raise PageError(str(exc), 409) from exc
            raise  # the store itself failed: a server error, not the client's
        if _wants_json(request):
            body = orjson.dumps(
                {"id": record.id, "status": record.status, "acked_at": record.acked_at}
            )
            return Response(body, media_type="application/json")
        base = request.scope.get("root_path", "").rstrip("/")
        return RedirectResponse(f"{base}/alerts?acked={record.id}", status_code=303)

    def audit(request: Request) -> Response:
        return render(
            request, "audit.html.j2", page="audit", title="Audit log", rows=audit_rows(store, spec)
        )

    def report_file(name: str) -> Response:
        path = folder / name
        if not path.is_file():
            raise PageError(f"no report {name} in {folder}; training writes it", 404)
        return FileResponse(path, media_type="text/html")

    def run_report(request: Request) -> Response:
        return report_file(f"run-{_id(request.path_params['run_id'], 'the run id')}.html")

    def model_card(request: Request) -> Response:
        name = _name(request.path_params["name"], "model")
        version = _id(request.path_params["version"], "the model version")
        return report_file(f"model-{name}-{version}.html")

    def plotly_script(request: Request) -> Response:
        etag = f'"plotly-{plotly.__version__}"'
        headers = {
            "Cache-Control": "public, max-age=31536000, immutable",
            "ETag": etag,
            "Vary": "Accept-Encoding",
        }
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        if "gzip" in request.headers.get("accept-encoding", ""):
            headers["Content-Encoding"] = "gzip"
            return Response(_plotly_gzip(), media_type="text/javascript", headers=headers)
        return Response(plotly_js().encode(), media_type="text/javascript", headers=headers)

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoopmlError)
        return error(request, http_status(exc)[0], str(exc))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        message = f"no page at {request.url.path}" if exc.status_code == 404 else exc.detail
        return error(request, exc.status_code, str(message))

    return Starlette(
        routes=[
            Route("/", overview),
            Route("/models", models),
            Route("/runs", runs),
            Route("/datasets", datasets),
            Route("/datasets/{name}/{version}", dataset),
            Route("/monitoring", monitoring),
            Route("/monitoring/features/{name:path}", feature),
            Route("/alerts", alerts),
            Route("/alerts/{alert_id}/ack", ack, methods=["POST"]),
            Route("/audit", audit),
            Route("/reports/run/{run_id}", run_report),
            Route("/reports/model/{name}/{version}", model_card),
            Route("/static/plotly.min.js", plotly_script),
        ],
        exception_handlers={
            PageError: refused,
            AccessDenied: refused,
            NotFoundError: refused,
            HTTPException: http_error,
        },
        middleware=[Middleware(HostCheck, host=host, refuse=wrong_host)],
    )
