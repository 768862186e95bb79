"""Scoring one request: validate → route → canary fallback → shadow copy → log.

:class:`Scorer` is the server without HTTP: the routes turn a body into records and call
:meth:`Scorer.score`; tests call it in-process with any :class:`LogSink` (a list will do).

- **Validate**: stable's input checker refuses records the model cannot read
  (:class:`~loopml.errors.InputError`, a 422) and counts missing values and unseen categories.
- **Route**: the current :class:`~loopml.serving.routing.Routing` snapshot sends the request to
  stable or to the canary (sticky by the entity key when there is one).
- **Canary fallback**: a canary that fails on a request (an exception, records its own schema
  refuses, or an answer that is not a finite number) is logged against the canary and counted,
  and stable answers instead: users of stable never see a canary's errors.
- **Shadow copy**: a shadow scores a copy of the request in a background thread (at most
  ``SHADOW_QUEUE`` waiting; more are skipped and counted); its answer is logged, never returned.
- **Log**: every answered request is logged (one :class:`~loopml.predlog.LogEntry` per record);
  the sink queues them and returns at once, so the hot path does no I/O.

A stable model that raises becomes :class:`~loopml.errors.ModelFailure` (a 500 carrying an
error id that is also in the server's log).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np

from loopml.errors import FeatureError, ModelFailure
from loopml.predlog import LogEntry
from loopml.serving.inputs import InputStats
from loopml.serving.metrics import ServerMetrics
from loopml.serving.routing import Routing, Served

log = logging.getLogger("loopml.serving")
RECENT_IDS = 200_000  # request ids remembered for feedback's ``matched_recent``
SHADOW_QUEUE = 256  # shadow copies waiting at most; more are skipped and counted


class LogSink(Protocol):
    """Where answered requests go: :class:`~loopml.predlog.PredictionLog`, or a list in tests.

    ``log`` is called on the request path and from the shadow thread: it must be thread-safe and
    return without waiting on I/O.
    """

    def log(self, entries: Sequence[LogEntry]) -> None: ...


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


class Scorer:
    """Scores requests on the deployment ``routing()`` returns, logging each to ``sink``.

    Thread-safe for :meth:`score` called from the event loop; :meth:`close` waits for the
    shadow copies in flight.
    """

    def __init__(
        self,
        deployment: str,
        routing: Callable[[], Routing],
        sink: LogSink,
        metrics: ServerMetrics,
        *,
        entity_column: str | None = None,
    ) -> None:
        self.deployment, self.routing, self.sink, self.metrics = deployment, routing, sink, metrics
        self.entity_column = entity_column
        self.recent: OrderedDict[str, None] = OrderedDict()  # the latest RECENT_IDS request ids
        self._shadow = ThreadPoolExecutor(1, thread_name_prefix="loopml-shadow")
        self._shadow_pending = 0

    def start(self, sink: LogSink) -> None:
        """Log to ``sink`` from now on, with a fresh shadow thread (an app may run again after
        :meth:`close`, each run with its own prediction log)."""
        self.sink = sink
        self._shadow = ThreadPoolExecutor(1, thread_name_prefix="loopml-shadow")
        self._shadow_pending = 0

    def close(self) -> None:
        """Stop the shadow thread (queued copies are dropped, the running one finishes)."""
        self._shadow.shutdown(wait=True, cancel_futures=True)

    def score(self, records: list[dict[str, Any]], endpoint: str, entity: Any = None) -> Scored:
        """Validate, route, score and log ``records`` (see the module doc)."""
        started = time.perf_counter()
        snapshot = self.routing()
        stable = snapshot.stable
        stats = InputStats()
        stable.checker.check(records, stats)
        self.metrics.count_inputs(stats)
        request_id = uuid.uuid4().hex
        ids = (
            [request_id]
            if len(records) == 1
            else [f"{request_id}-{i}" for i in range(len(records))]
        )
        if entity is None and self.entity_column and self.entity_column in records[0]:
            entity = records[0][self.entity_column]
        route, current, answer = "stable", stable, None
        failed: list[LogEntry] = []  # a canary's failure, logged with stable's answer
        if snapshot.route(None if entity is None else str(entity)) == "canary":
            assert snapshot.canary is not None
            answer = self._try_candidate(
                snapshot.canary,
                "canary",
                records,
                ids,
                checked=snapshot.canary_checked,
                failures=failed,
            )
            if answer is None:
                self.metrics.fallbacks.labels(snapshot.canary.version).inc()
            else:
                route, current = "canary", snapshot.canary
        if answer is None:  # stable answers (and logs) the request
            try:
                decisions, output = self._run(stable, records, "stable")
            except Exception:
                self.sink.log(failed)  # the canary's failure is logged even when stable fails
                raise
            rows = [stable.outputs(decisions[i], output[i]) for i in range(len(records))]
            answered = self._entries(
                stable, "stable", ids, records, rows, stable.scores(output), started
            )
            self.sink.log([*failed, *answered])  # one batch: never a failure without its answer
        else:
            output, rows = answer
        if snapshot.shadow is not None and snapshot.shadows():
            self._copy_to_shadow(snapshot.shadow, records, ids)
        recent = self.recent
        for request in ids:
            recent[request] = None
        while len(recent) > RECENT_IDS:
            recent.popitem(last=False)
        seconds = time.perf_counter() - started
        self.metrics.observe(endpoint, current.version, route, seconds, len(ids))
        return Scored(request_id, route, current, output, rows)

    def _run(self, current: Served, records: list[dict[str, Any]], route: str) -> tuple[Any, Any]:
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
            self.metrics.model_errors.labels(current.version, route).inc()
            raise ModelFailure(error_id) from exc

    def _entries(
        self,
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
                ts=now,
                request_id=ids[i],
                deployment=self.deployment,
                model_version=current.version,
                route=route,
                features=record,
                outputs=rows[i] if rows is not None else {},
                latency_ms=latency,
                error=error,
                score=float(scores[i]) if scores is not None else None,
            )
            for i, record in enumerate(records)
        ]

    def _try_candidate(
        self,
        current: Served,
        route: str,
        records: list[dict[str, Any]],
        ids: list[str],
        *,
        checked: bool = False,
        failures: list[LogEntry] | None = None,
    ) -> tuple[np.ndarray, list[dict[str, Any]]] | None:
        """Score on a canary or shadow: its outputs and per-row outputs, or ``None`` after
        logging its failure (an exception, records its schema refuses, or outputs that are not
        finite numbers) — into ``failures`` when given, for the caller to log beside the answer
        that replaced it. ``checked``: stable's check, already passed, is this model's too."""
        started = time.perf_counter()
        try:
            if not checked:
                current.checker.check(records, InputStats())
            decisions, output = self._run(current, records, route)
            if not np.all(np.isfinite(output)):
                raise ValueError("the model answered NaN or infinity")
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
            entries = self._entries(current, route, ids, records, None, None, started, error)
            if failures is None:
                self.sink.log(entries)
            else:
                failures.extend(entries)
            return None
        rows = [current.outputs(decisions[i], output[i]) for i in range(len(records))]
        scores = current.scores(output)
        self.sink.log(self._entries(current, route, ids, records, rows, scores, started))
        return output, rows

    def _copy_to_shadow(
        self, current: Served, records: list[dict[str, Any]], ids: list[str]
    ) -> None:
        if self._shadow_pending >= SHADOW_QUEUE:
            self.metrics.shadow_dropped.inc()
            return
        self._shadow_pending += 1

        def job() -> None:
            started = time.perf_counter()
            try:
                self._try_candidate(current, "shadow", records, ids)
                seconds = time.perf_counter() - started
                self.metrics.observe("shadow", current.version, "shadow", seconds, len(ids))
            finally:
                self._shadow_pending -= 1

        self._shadow.submit(job)
