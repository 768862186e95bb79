"""Running the server: ``loopml serve`` with one or several uvicorn worker processes.

Each worker builds the app with :func:`build_app` (or with a factory wrapping it, named by import
string: the CLI's mounts the dashboard at ``/ui``) from the :class:`~loopml.config.ServeSettings` it
is given, and serves it from a listening socket that it creates itself with ``SO_REUSEPORT``. Why
not ``uvicorn.run(..., workers=N)``: its workers share one socket rebuilt with ``socket.fromfd``,
whose ``proto`` is 0, so asyncio never sets TCP_NODELAY on accepted connections (uvicorn issue
#3149: about 45 ms more per keep-alive request); and with keep-alive one worker often accepts every
connection while the others idle. With a socket of its own per worker, made with ``IPPROTO_TCP``,
the kernel spreads new connections over the workers (Linux) and accepted connections get
TCP_NODELAY.

- **Settings.** :func:`serve` resolves its options into one :class:`loopml.config.ServeSettings`
  (explicit arguments, else ``LOOPML_*`` variables) and passes it to each worker, which builds
  its app with ``factory(settings)``: nothing is written to the environment.
- **Exposure check.** On an address other than loopback, a server with no token at all
  (admin, prediction or feedback) would let anyone who can reach it post training data:
  :func:`check_exposure` refuses to start it unless ``insecure`` is set (``--insecure``).
- **Port check.** The port is first probed without ``SO_REUSEPORT``, so a port in use (even by
  another ``loopml serve``) fails at once with a clear error instead of being silently shared.
- **Stalled requests.** Each worker's protocol closes a connection whose request headers take
  longer than ``serving.request_timeout`` (:mod:`~loopml.serving.deadline`, with a 408 when part
  of a request came); the app answers 408 to a body that takes as long
  (:mod:`~loopml.serving.uploads`).
- **One worker** runs in this process. Uvicorn handles SIGTERM and SIGINT gracefully: the app's
  lifespan closes the prediction log, which flushes every logged prediction; then uvicorn
  re-raises the signal.
- **Several workers** are fresh processes (``spawn``: the app starts a log thread, so never fork)
  under a small :class:`Supervisor` in this process. It forwards SIGTERM and SIGINT to them as
  SIGTERM (a second SIGINT would make uvicorn skip the flush), waits for them and returns. A
  worker that dies after it started serving is replaced, at most ``MAX_RESTARTS`` times within
  ``RESTART_WINDOW`` seconds; then, or when a worker dies before serving (it would fail again),
  everything stops and :class:`~loopml.errors.LoopmlError` is raised. Workers stop gracefully when
  the supervisor dies. Connections still waiting in a dying worker's accept queue are reset.
"""

from __future__ import annotations

import errno
import functools
import ipaddress
import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
from collections import deque
from contextlib import suppress
from dataclasses import dataclass
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.importer import import_from_string

from loopml.config import ServeSettings
from loopml.errors import LoopmlError
from loopml.serving.app import create_app
from loopml.serving.deadline import header_deadline
from loopml.spec import load_spec
from loopml.store import Store

logger = logging.getLogger(__name__)

MAX_RESTARTS = 5  # worker restarts allowed within RESTART_WINDOW seconds
RESTART_WINDOW = 60.0
GRACEFUL_TIMEOUT = 10  # seconds uvicorn lets open requests finish on shutdown
STOP_TIMEOUT = 30.0  # seconds the supervisor waits for its workers to stop, then SIGKILL
#: the app factory each worker calls with its settings, as an import string; callers may pass
#: another factory that wraps this one (``loopml serve`` passes the one that mounts the dashboard)
APP = "loopml.serving.server:build_app"


def build_app(settings: ServeSettings) -> FastAPI:
    """The app ``settings`` describe (the factory each worker calls)."""
    return create_app(
        Store.open(),
        load_spec(settings.spec),
        model=settings.model,
        prediction_token=settings.prediction_token,
        admin_token=settings.admin_token,
        feedback_token=settings.feedback_token,
    )


def is_loopback(host: str) -> bool:
    """Whether every address ``host`` names is a loopback one (``127.0.0.1``, ``::1``,
    ``localhost``); ``0.0.0.0``, ``::`` and the empty host listen everywhere."""
    if host in ("", "0.0.0.0", "::"):
        return False
    try:
        found = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return False  # check_port names the problem
    addresses = {str(info[4][0]) for info in found}
    return bool(addresses) and all(
        ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses
    )


def check_exposure(host: str, settings: ServeSettings, *, insecure: bool = False) -> None:
    """Raise :class:`LoopmlError` when a server with no token would listen beyond loopback,
    unless ``insecure`` (anyone who reaches it could post labels that train the next model,
    and predict)."""
    if insecure or settings.tokens or is_loopback(host):
        return
    raise LoopmlError(
        f"refusing to serve on {host!r} (not a loopback address) with no token: anyone who can "
        "reach it could post feedback, which becomes training data. Set LOOPML_FEEDBACK_TOKEN "
        "(or LOOPML_PREDICTION_TOKEN, which also guards predictions) and LOOPML_ADMIN_TOKEN, or "
        "pass --insecure to serve it open on purpose (e.g. behind a proxy that authenticates)"
    )


def serve(
    *,
    host: str,
    port: int,
    workers: int,
    spec: Path,
    model: str | None,
    prediction_token: str | None,
    feedback_token: str | None = None,
    insecure: bool = False,
    app: str = APP,
) -> None:
    """Serve until SIGTERM or SIGINT, then stop gracefully and return.

    ``app`` is the import string of the app factory each worker calls (see :data:`APP`).
    Raises :class:`LoopmlError` when the port cannot be bound, when workers keep dying, or when
    a server without tokens would listen beyond loopback and ``insecure`` is not set.
    """
    if not 0 <= port <= 65535:  # getaddrinfo would wrap 99999 round to another port
        raise LoopmlError(f"port: expected 1 to 65535 (or 0 for any free one), got {port}")
    if workers > 1 and port == 0:
        raise LoopmlError("--port 0 needs --workers 1 (each worker would pick its own port)")
    if workers > 1 and not hasattr(socket, "SO_REUSEPORT"):
        raise LoopmlError("--workers above 1 needs SO_REUSEPORT (Linux, macOS); use --workers 1")
    settings = ServeSettings.from_env(
        spec=spec.resolve(),
        model=model,
        prediction_token=prediction_token,
        feedback_token=feedback_token,
        host=host,  # the dashboard at /ui answers requests for it (loopml.ui.hosts)
    )
    check_exposure(host, settings, insecure=insecure)
    check_port(host, port)
    if workers == 1:
        run_worker(host, port, settings, app=app)
    else:
        Supervisor(host, port, workers, settings, app=app).run()


def _addresses(host: str, port: int) -> list[tuple[socket.AddressFamily, Any]]:
    try:
        found = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise LoopmlError(f"cannot listen on host {host!r}: {exc.strerror}") from exc
    return list(dict.fromkeys((family, address) for family, _, _, _, address in found))


def _new_socket(family: socket.AddressFamily, *, several: bool) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6 and several:  # "::" beside "0.0.0.0", as asyncio does
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    return sock


def check_port(host: str, port: int) -> None:
    """Raise :class:`LoopmlError` unless ``host:port`` is free (probed without SO_REUSEPORT)."""
    addresses = _addresses(host, port)
    for family, address in addresses:
        with _new_socket(family, several=len(addresses) > 1) as probe:
            try:
                probe.bind(address)
            except OSError as exc:
                hint = (
                    "another server is using it: stop that one or choose another --port"
                    if exc.errno == errno.EADDRINUSE
                    else "check --host and --port"
                )
                message = f"cannot listen on {host}:{port}: {exc.strerror}; {hint}"
                raise LoopmlError(message) from exc


def listen_sockets(host: str, port: int) -> list[socket.socket]:
    """This process's own TCP sockets bound to ``host:port`` with SO_REUSEPORT (not listening)."""
    addresses = _addresses(host, port)
    sockets: list[socket.socket] = []
    try:
        for family, address in addresses:
            sockets.append(_new_socket(family, several=len(addresses) > 1))
            if hasattr(socket, "SO_REUSEPORT"):
                sockets[-1].setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sockets[-1].bind(address)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


class _Server(uvicorn.Server):
    """Uvicorn's server, setting ``ready`` once the app has started and the sockets listen."""

    def __init__(self, config: uvicorn.Config, ready: Event | None) -> None:
        super().__init__(config)
        self.ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and self.ready is not None:
            self.ready.set()


def run_worker(
    host: str, port: int, settings: ServeSettings, ready: Event | None = None, app: str = APP
) -> None:
    """Serve the app the factory ``app`` builds from ``settings`` (default :func:`build_app`) on
    this process's own sockets until SIGTERM or SIGINT.

    ``ready`` is set once the app has started and the sockets listen. In a worker started by a
    :class:`Supervisor`, the server also stops gracefully when the supervisor process dies.
    """
    sockets = listen_sockets(host, port)
    factory = import_from_string(app)
    timeout = load_spec(settings.spec).serving.request_timeout.total_seconds()
    config = uvicorn.Config(
        functools.partial(factory, settings),  # called by uvicorn as it starts, as before
        factory=True,
        http=header_deadline(timeout),  # uvicorn has no timeout for a request's headers
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=GRACEFUL_TIMEOUT,
        lifespan="on",
    )
    server = _Server(config, ready)
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(
            target=_stop_when_gone, args=(parent, server), name="loopml-parent", daemon=True
        ).start()
    server.run(sockets=sockets)


def _stop_when_gone(parent: BaseProcess, server: uvicorn.Server) -> None:
    parent.join()  # returns when the supervisor has exited
    server.should_exit = True


def _describe(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        with suppress(ValueError):
            return f"signal {signal.Signals(-exitcode).name}"
    return f"exit code {exitcode}"


@dataclass
class _Worker:
    process: BaseProcess
    ready: Event


class Supervisor:
    """Keeps ``workers`` processes running :func:`run_worker` with ``settings`` until SIGTERM
    or SIGINT.

    Not thread-safe: call :meth:`run` once, from the main thread (it installs signal handlers).
    """

    def __init__(
        self,
        host: str,
        port: int,
        workers: int,
        settings: ServeSettings,
        *,
        app: str = APP,
        max_restarts: int = MAX_RESTARTS,
        restart_window: float = RESTART_WINDOW,
    ) -> None:
        self.host, self.port, self.workers, self.app = host, port, workers, app
        self.settings = settings
        self.max_restarts, self.restart_window = max_restarts, restart_window
        self._context = multiprocessing.get_context("spawn")
        self._running: dict[int, _Worker] = {}  # slot -> worker
        self._deaths: deque[float] = deque()  # monotonic times of recent unexpected deaths
        self._stopping = False

    def run(self) -> None:
        """Start the workers and watch them; returns after a graceful stop (or raises)."""
        handled = (signal.SIGTERM, signal.SIGINT)
        previous = {sig: signal.signal(sig, self._on_signal) for sig in handled}
        try:
            for slot in range(self.workers):
                self._start(slot)
            self._watch()
        finally:
            self._stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._stopping = True
        self._terminate_all()

    def _terminate_all(self) -> None:
        for worker in list(self._running.values()):  # no reaping here: this runs in handlers
            if worker.process.pid is not None:
                with suppress(ProcessLookupError):
                    os.kill(worker.process.pid, signal.SIGTERM)

    def _start(self, slot: int) -> None:
        ready = self._context.Event()
        process = self._context.Process(
            target=run_worker,
            args=(self.host, self.port, self.settings, ready, self.app),
            name=f"loopml-worker-{slot}",
            daemon=True,
        )
        process.start()
        self._running[slot] = _Worker(process, ready)
        if self._stopping and process.pid is not None:  # a signal came while it started
            os.kill(process.pid, signal.SIGTERM)

    def _watch(self) -> None:
        while not self._stopping:
            ended = set(wait([w.process.sentinel for w in self._running.values()], timeout=1.0))
            for slot in [s for s, w in self._running.items() if w.process.sentinel in ended]:
                if self._stopping:
                    return
                worker = self._running.pop(slot)
                worker.process.join()
                how = _describe(worker.process.exitcode)
                pid = worker.process.pid
                worker.process.close()
                if not worker.ready.is_set():
                    raise LoopmlError(
                        f"worker {slot} (pid {pid}) stopped with {how} before it could serve; "
                        "its error is printed above"
                    )
                self._replace(slot, pid, how)

    def _replace(self, slot: int, pid: int | None, how: str) -> None:
        now = time.monotonic()
        self._deaths.append(now)
        while now - self._deaths[0] > self.restart_window:
            self._deaths.popleft()
        if len(self._deaths) > self.max_restarts:
            raise LoopmlError(
                f"workers died {len(self._deaths)} times within {self.restart_window:.0f} s "
                f"(last: worker {slot}, pid {pid}, {how}); gave up and stopped the server"
            )
        logger.warning("worker %d (pid %s) died with %s; starting a new one", slot, pid, how)
        self._start(slot)

    def _stop(self) -> None:
        """SIGTERM every worker, wait up to STOP_TIMEOUT seconds in all, then SIGKILL."""
        self._stopping = True
        self._terminate_all()
        deadline = time.monotonic() + STOP_TIMEOUT
        for worker in self._running.values():
            worker.process.join(max(0.0, deadline - time.monotonic()))
        for slot, worker in self._running.items():
            if worker.process.exitcode is None:
                logger.error("worker %d did not stop within %.0f s; killing it", slot, STOP_TIMEOUT)
                worker.process.kill()
                worker.process.join(5)
        self._running.clear()
