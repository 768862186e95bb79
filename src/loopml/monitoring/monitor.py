"""One monitoring pass: compute the recent windows, store them, fire the alerts they call for,
and fold those into incidents (:mod:`loopml.monitoring.incidents`).

``loopml monitor run`` (and later the maintenance loop) calls :func:`run`. By default a pass
recomputes every window that ends after the latest stored window's start minus
``LABEL_HORIZON`` windows, so labels that arrive late still reach their window's quality
figures; the first pass reads the whole log. Rules with their own ``window`` get windows of that
size as well. The open window is computed on every pass (``partial``, replaced until it closes),
so the alerts it calls for fire within one pass of its ``min_samples``-th row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from loopml.monitoring import alerts, incidents, pending
from loopml.monitoring.explain import Packages
from loopml.monitoring.windows import Windowing, compute_windows
from loopml.spec import AlertRule, Spec
from loopml.store import AlertRecord, IncidentRecord, Store, WindowRecord

LABEL_HORIZON = 24  # windows recomputed on each pass, for labels that arrive late


@dataclass(frozen=True)
class MonitorResult:
    """The windows a pass computed (open ones marked ``partial``), the alerts it fired, and
    when it computed none, why (:func:`loopml.monitoring.pending.why_none`)."""

    windows: list[WindowRecord]
    alerts: list[AlertRecord]
    none_because: str | None = None
    incidents: list[IncidentRecord] = field(default_factory=list)  # opened, updated, resolved

    @property
    def open_windows(self) -> list[WindowRecord]:
        """The windows still open (``partial``): one per size and model version at most."""
        return [w for w in self.windows if w.partial]


def run(
    store: Store,
    spec: Spec,
    log_folder: str | Path,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> MonitorResult:
    """Compute and store the windows since ``since`` (default: see the module doc), evaluate
    every alert rule on them, store and notify what fires."""
    default = Windowing.of(spec)
    groups: dict[Windowing, list[AlertRule]] = {default: []}
    for rule in alerts.rules_of(spec):
        cut = default
        if rule.window is not None and spec.monitoring.window_rows is None:
            cut = Windowing(seconds=rule.window.total_seconds())
        groups.setdefault(cut, []).append(rule)
    computed: list[WindowRecord] = []
    fired: list[AlertRecord] = []
    first: datetime | None = None
    touched: dict[int, IncidentRecord] = {}
    packages = Packages(store)
    for cut, rules in groups.items():
        start = since if since is not None else _resume(store, spec, cut)
        first = start if cut == default else first
        windows = compute_windows(store, spec, log_folder, since=start, until=until, windowing=cut)
        store.monitoring.add_windows(windows)
        computed.extend(windows)
        before = store.monitoring.list_alerts(deployment=spec.name)
        new = alerts.record(store, spec, alerts.evaluate(windows, rules, before), packages)
        fired.extend(new)
        for incident in incidents.update(store, spec, windows, rules, new, packages):
            touched[incident.id] = incident
    changed = sorted(touched.values(), key=lambda i: i.id)
    if not computed:
        return MonitorResult([], fired, pending.why_none(spec, log_folder, since=first), changed)
    return MonitorResult(computed, fired, incidents=changed)


def _resume(store: Store, spec: Spec, cut: Windowing) -> datetime | None:
    """Where a pass starts: ``LABEL_HORIZON`` windows before the latest stored one."""
    recent = store.monitoring.list_windows(spec.name, size=cut.name, limit=LABEL_HORIZON)
    return recent[0].start if recent else None
