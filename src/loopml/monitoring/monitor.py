"""One monitoring pass: compute the recent windows, store them, fire the alerts they call for,
and fold those into incidents (:mod:`loopml.monitoring.incidents`).

``loopml monitor run`` (and later the maintenance loop) calls :func:`run`. By default a pass
recomputes every window that ends after the latest stored window's start minus
``LABEL_HORIZON`` windows, so labels that arrive late still reach their window's quality
figures; the first pass reads the whole log. Rules with their own ``window`` get windows of that
size as well.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from loopml.monitoring import alerts, incidents
from loopml.monitoring.explain import Packages
from loopml.monitoring.windows import Windowing, compute_windows
from loopml.spec import AlertRule, Spec
from loopml.store import AlertRecord, IncidentRecord, Store, WindowRecord

LABEL_HORIZON = 24  # windows recomputed on each pass, for labels that arrive late


@dataclass(frozen=True)
class MonitorResult:
    windows: list[WindowRecord]
    alerts: list[AlertRecord]
    incidents: list[IncidentRecord] = field(default_factory=list)  # opened, updated, resolved


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
    touched: dict[int, IncidentRecord] = {}
    packages = Packages(store)
    for cut, rules in groups.items():
        start = since if since is not None else _resume(store, spec, cut)
        windows = compute_windows(store, spec, log_folder, since=start, until=until, windowing=cut)
        store.monitoring.add_windows(windows)
        computed.extend(windows)
        before = store.monitoring.list_alerts(deployment=spec.name)
        new = alerts.record(store, spec, alerts.evaluate(windows, rules, before), packages)
        fired.extend(new)
        for incident in incidents.update(store, spec, windows, rules, new, packages):
            touched[incident.id] = incident
    return MonitorResult(computed, fired, sorted(touched.values(), key=lambda i: i.id))


def _resume(store: Store, spec: Spec, cut: Windowing) -> datetime | None:
    """Where a pass starts: ``LABEL_HORIZON`` windows before the latest stored one."""
    recent = store.monitoring.list_windows(spec.name, size=cut.name, limit=LABEL_HORIZON)
    return recent[0].start if recent else None
