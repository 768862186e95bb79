"""Incidents: what fires together is one story, not one alert per feature and window.

After each pass's alerts are stored, :func:`update` folds them into incidents, one per model
version, window size and rule family (``drift``, ``unseen``, ``missing_increase``, or a single
metric such as ``error_rate``):

- **opened** on a window where the family's alerts fired, listing every key of the family that
  crosses its rule on that window ("drift on 7 features: temp, dewp, ... PSI 2.1–8.1");
- **updated** on each later window of the same version and size while any key still crosses:
  its features, statistics and title are the latest window's, its alert ids and windows grow;
- **resolved** on the first later window where none crosses ("its condition cleared"), or as
  soon as its model version no longer serves the deployment (neither stable nor canary): that
  version's open alerts are then ``resolved`` too (an alert whose condition cleared stays open,
  since the maintenance loop retrains on it until someone acknowledges it). A window
  where the family cannot be judged (too few rows, no labels yet) changes nothing.

Features are ranked by importance-weighted drift, as Deepchecks aggregates drift: the feature's
share of the model's own importance (:func:`loopml.modeling.importance.importance_shares`) times
its drift (the deciding effect size for drift, PSI by default, or the PSI when a p-value
decides; the share for input rules). Prediction drift, which no single
importance weighs, is listed first.

Opening and resolving are logged and posted to ``monitoring.webhook`` once per incident (a
Slack-style ``text`` and the incident's fields); updates are stored, not posted.
"""

from __future__ import annotations

import logging
from typing import Any

from loopml.modeling.importance import importance_shares
from loopml.monitoring.alerts import crosses, keys_of
from loopml.monitoring.explain import Packages, describe
from loopml.monitoring.notify import post_json
from loopml.registry import Package
from loopml.spec import AlertRule, Spec
from loopml.store import AlertRecord, IncidentRecord, Store, WindowRecord

logger = logging.getLogger(__name__)

FAMILY_NAMES = {
    "drift": "drift",
    "missing_increase": "missing values",
    "missing_fraction": "missing values",
    "unseen": "unseen categories",
    "out_of_range": "out-of-range values",
}
WINDOWS_KEPT = 48  # the latest windows an incident lists in its evidence
SHOWN = 5  # features named in a title
_SEVERITY = {"info": 0, "warning": 1, "critical": 2}


def update(
    store: Store,
    spec: Spec,
    windows: list[WindowRecord],
    rules: list[AlertRule],
    fired: list[AlertRecord],
    packages: Packages | None = None,
) -> list[IncidentRecord]:
    """Open, update and resolve ``spec``'s incidents from this pass's ``windows`` and the
    alerts ``fired`` on them (see the module doc); the incidents touched, as stored now."""
    packages = packages or Packages(store)
    families: dict[str, list[AlertRule]] = {}
    for rule in rules:
        families.setdefault(rule.metric, []).append(rule)
    alert_ids: dict[tuple[str, str, str, str], list[int]] = {}
    for alert in fired:
        e = alert.evidence
        where = (str(e.get("model_version")), str(e.get("window_size")), str(e.get("window_start")))
        alert_ids.setdefault((*where, alert.metric), []).append(alert.id)
    current = {
        (i.model_version, i.size, i.family): i
        for i in store.incidents.list(deployment=spec.name, status="open")
    }
    touched: dict[int, IncidentRecord] = {}
    opened: list[IncidentRecord] = []
    weights = _Weights(packages)
    for window in sorted(windows, key=lambda w: (w.start, w.model_version)):
        for family, family_rules in families.items():
            which = (window.model_version, window.size, family)
            ids = alert_ids.get((*which[:2], window.start.isoformat(), family), [])
            observed, members = _members(window, family_rules, weights)
            incident = current.get(which)
            if incident is not None:
                if window.start < incident.last_window or not observed:
                    continue
                if not members:
                    touched[incident.id] = store.incidents.resolve(
                        incident.id,
                        f"its condition cleared: no {FAMILY_NAMES.get(family, family)} crossed "
                        f"its rule on the window from {window.start:%Y-%m-%d %H:%M}",
                    )
                    del current[which]
                    continue
                incident = store.incidents.update(
                    incident.id, **_content(family, members, window, ids, incident.evidence)
                )
            elif ids and members:
                incident = store.incidents.open(
                    deployment=spec.name,
                    model_version=window.model_version,
                    size=window.size,
                    family=family,
                    **_content(family, members, window, ids, {}),
                )
                opened.append(incident)
            else:
                continue
            current[which] = touched[incident.id] = incident
    touched.update({i.id: i for i in _retire(store, spec, list(current.values()))})
    resolved = [i for i in touched.values() if i.status == "resolved"]
    for incident_id in dict.fromkeys(i.id for i in [*opened, *resolved]):
        _notify(spec, touched[incident_id])  # once per pass, as it stands now
    return sorted(touched.values(), key=lambda i: i.id)


class _Weights:
    """Each model version's package and importance shares, loaded when first needed (a pass
    where nothing crosses loads nothing)."""

    def __init__(self, packages: Packages) -> None:
        self.packages = packages
        self._shares: dict[str, dict[str, float]] = {}

    def package(self, version: str) -> Package | None:
        return self.packages.get(version)

    def shares(self, version: str) -> dict[str, float]:
        if version not in self._shares:
            package = self.package(version)
            self._shares[version] = importance_shares(package.model) if package else {}
        return self._shares[version]


def _members(
    window: WindowRecord, rules: list[AlertRule], weights: _Weights
) -> tuple[bool, list[dict[str, Any]]]:
    """Whether ``rules`` could judge ``window`` at all, and the keys crossing them, ranked."""
    observed, members, seen = False, [], set()
    version = window.model_version
    for rule in rules:
        for key in keys_of(rule, window.metrics):
            if window.metrics.get(key) is None or window.rows < rule.min_samples:
                continue
            observed = True
            value = crosses(rule, window, key)
            if value is None or key in seen:
                continue
            seen.add(key)
            member = describe(window, rule, key, value, weights.package(version))
            share = weights.shares(version).get(member["feature"]) if member["feature"] else None
            size = member["value"]  # an effect size (PSI by default); a p-value ranks by PSI
            if member["psi"] is not None and member["comparator"] == "<":
                size = member["psi"]
            member.update(
                key=key,
                severity=rule.severity,
                importance=share,
                score=share * float(size) if share is not None and size is not None else None,
            )
            members.append(member)
    members.sort(key=lambda m: (m["feature"] != "prediction", -(m["score"] or 0.0)))
    return observed, members


def _content(
    family: str,
    members: list[dict[str, Any]],
    window: WindowRecord,
    ids: list[int],
    before: dict[str, Any],
) -> dict[str, Any]:
    """An incident's title, severity, evidence and window as of ``window``."""
    entry = {
        "start": window.start.isoformat(),
        "end": window.end.isoformat(),
        "rows": window.rows,
        "keys": len(members),
    }
    kept = [w for w in before.get("windows", []) if w["start"] != entry["start"]]
    evidence = {
        "features": members,
        "alert_ids": sorted({*before.get("alert_ids", []), *ids}),
        "windows": [*kept, entry][-WINDOWS_KEPT:],
        "peak": max(int(before.get("peak", 0)), len(members)),
    }
    severity = max((m["severity"] for m in members), key=lambda s: _SEVERITY.get(s, 1))
    return {
        "title": title(family, members),
        "severity": severity,
        "evidence": evidence,
        "window": window.start,
    }


def title(family: str, members: list[dict[str, Any]]) -> str:
    """One line: "drift on 7 features: temp, dewp, ... PSI 2.1–8.1", or a single metric's
    own line ("error_rate 0.034 > 0.01")."""
    named = [m for m in members if m["feature"]]
    if not named:
        return str(members[0]["text"])
    features = [m["feature"] for m in named if m["feature"] != "prediction"]
    shown = ", ".join(features[:SHOWN]) + (", ..." if len(features) > SHOWN else "")
    what = f"{len(features)} feature{'s' if len(features) != 1 else ''}: {shown}"
    if len(features) < len(named):
        what = f"the predictions and {what}" if features else "the predictions"
    statistics = {m["statistic"] for m in named}
    values = [float(m["value"]) for m in named if isinstance(m["value"], int | float)]
    span = ""
    if len(statistics) == 1 and values:
        low, high = min(values), max(values)
        span = f" {statistics.pop()} " + (f"{low:.2g}–{high:.2g}" if low != high else f"{low:.3g}")
    return f"{FAMILY_NAMES.get(family, family)} on {what}{span}"


def _retire(store: Store, spec: Spec, still_open: list[IncidentRecord]) -> list[IncidentRecord]:
    """Resolve the open incidents, and the open alerts, of model versions that no longer
    serve."""
    deployment = store.deployments.get(spec.name)
    if deployment.stable is None:  # never deployed: nothing is known to have stopped
        return []
    serving = {deployment.stable, deployment.canary} - {None}
    store.monitoring.resolve_alerts(
        [
            alert.id
            for alert in store.monitoring.list_alerts(deployment=spec.name, status="open")
            if alert.evidence.get("model_version") not in serving
        ]
    )
    return [
        store.incidents.resolve(
            incident.id,
            f"{incident.model_version} no longer serves '{spec.name}' "
            f"(stable is {deployment.stable})",
        )
        for incident in still_open
        if incident.model_version not in serving
    ]


def message(incident: IncidentRecord) -> str:
    """Lines for people: the incident's headline, then (while open) each feature's figures."""
    state = "resolved" if incident.status == "resolved" else "open"
    head = (
        f"[{incident.severity}] {incident.deployment} {incident.model_version}: incident "
        f"{incident.id} ({state}): {incident.title}"
    )
    if incident.status == "resolved":
        return f"{head}; {incident.resolution}"
    lines = [str(m["text"]) for m in incident.evidence.get("features", [])[:10]]
    return "\n".join([head, *(f"• {line}" for line in lines)])


def _notify(spec: Spec, incident: IncidentRecord) -> None:
    text = message(incident)
    level = logging.ERROR if incident.severity == "critical" else logging.WARNING
    logger.log(logging.INFO if incident.status == "resolved" else level, "%s", text)
    if not spec.monitoring.webhook:
        return
    body = {
        "text": text,
        "incident": {
            "id": incident.id,
            "deployment": incident.deployment,
            "model_version": incident.model_version,
            "family": incident.family,
            "severity": incident.severity,
            "status": incident.status,
            "title": incident.title,
            "resolution": incident.resolution,
            "evidence": incident.evidence,
            "first_window": incident.first_window.isoformat(),
            "last_window": incident.last_window.isoformat(),
        },
    }
    post_json(
        spec.monitoring.webhook,
        body,
        what=f"incident {incident.id}",
        timeout=spec.monitoring.webhook_timeout.total_seconds(),
        retries=spec.monitoring.webhook_retries,
    )
