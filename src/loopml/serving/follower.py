"""Following the deployment in the store: which models this process serves, swapped whole.

:class:`Follower` holds the :class:`~loopml.serving.routing.Routing` snapshot the scorer reads.
While the server runs it re-reads the deployment every ``POLL_SECONDS``; when the revision
changed it loads any new version (each model once, in a thread) and swaps the snapshot, so a
request never sees half of a change. The same loop runs the rollout controller when an
evaluation is due (the store's compare-and-set keeps one decision across replicas) and refreshes
the monitoring gauges every ``WINDOW_SECONDS``. A store that is briefly unreachable is logged
and retried; the process keeps serving what it has.

Pinned (``model`` given, ``loopml serve --model``): one version, no deployment, no rollouts.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from contextlib import suppress
from pathlib import Path

from loopml.registry import load_package
from loopml.rollout import controller
from loopml.serving.metrics import ServerMetrics
from loopml.serving.routing import Routing, Served, routing_for, served
from loopml.spec import Spec
from loopml.store import Store

log = logging.getLogger("loopml.serving")
POLL_SECONDS = 0.5  # how often a process re-reads its deployment from the store
WINDOW_SECONDS = 10.0  # how often the monitoring gauges re-read the latest windows


class Follower:
    """The routing of ``spec``'s deployment as the store describes it (or of one pinned model).

    :attr:`routing` is ``None`` until :meth:`start`; then it is always a whole snapshot.
    """

    def __init__(
        self,
        store: Store,
        spec: Spec,
        metrics: ServerMetrics,
        *,
        log_folder: Path,
        model: str | None = None,
    ) -> None:
        self.store, self.spec, self.metrics = store, spec, metrics
        self.log_folder, self.model = log_folder, model
        self.routing: Routing | None = None
        self._packages: dict[str, Served] = {}
        self._reading = threading.Lock()  # one re-read of the deployment at a time
        self._task: asyncio.Task[None] | None = None

    def current(self) -> Routing:
        """The snapshot to answer with now (after :meth:`start`)."""
        routing = self.routing
        assert routing is not None, "the follower has not started"
        return routing

    def load(self, ref: str) -> Served:
        """``ref`` ready to serve, loaded once."""
        if ref not in self._packages:
            self._packages[ref] = served(load_package(self.store, ref), self.spec)
        return self._packages[ref]

    def read(self) -> Routing:
        """The routing the store describes now, loading any new version (blocking: a thread)."""
        with self._reading:
            if self.model is not None:
                return Routing(stable=self.load(self.model))
            return self._read()

    def _read(self) -> Routing:
        record = self.store.deployments.get(self.spec.name)
        if record.stable is None:
            record = controller.ensure_deployment(self.store, self.spec)
        current = self.routing
        if current is not None and current.revision == record.revision:
            return current
        routing = routing_for(record, self.spec, self.load)
        keep = {record.stable, record.canary, record.shadow}
        for ref in [r for r in self._packages if r not in keep]:
            del self._packages[ref]
        log.info(
            "deployment '%s' revision %d: stable %s, canary %s at %g%%, shadow %s",
            self.spec.name,
            record.revision,
            record.stable,
            record.canary,
            record.canary_weight,
            record.shadow,
        )
        return routing

    def apply(self, routing: Routing) -> None:
        """Swap in ``routing`` (whole)."""
        self.routing = routing
        self.metrics.canary_weight.set(routing.weight)

    async def refresh(self, *, reload: bool = False) -> Routing:
        """Re-read now and swap; ``reload`` loads a pinned model from the store again."""
        if reload and self.model is not None:
            self._packages.clear()
        self.apply(await asyncio.to_thread(self.read))
        return self.current()

    def start(self) -> None:
        """Serve the store's deployment now (blocking) and, unless pinned, keep following it."""
        self.apply(self.read())
        log.info("serving %s as %s", self.current().stable.version, self.spec.name)
        if self.model is None:
            self._task = asyncio.create_task(self._follow())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _follow(self) -> None:
        shown = 0.0
        while True:
            await asyncio.sleep(POLL_SECONDS)
            try:
                self.apply(await asyncio.to_thread(self.read))
                await asyncio.to_thread(controller.evaluate, self.store, self.spec, self.log_folder)
                if time.monotonic() - shown >= WINDOW_SECONDS:
                    shown = time.monotonic()
                    latest = await asyncio.to_thread(
                        self.store.monitoring.list_windows, self.spec.name, limit=20
                    )
                    self.metrics.show_windows(latest)
                    still_open = await asyncio.to_thread(
                        self.store.incidents.list, deployment=self.spec.name, status="open"
                    )
                    self.metrics.show_incidents(still_open)
            except Exception:  # the store may be briefly unreachable: keep serving, retry
                log.exception("could not follow deployment '%s'; retrying", self.spec.name)
