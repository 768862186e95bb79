"""Alert rules over monitoring windows, and the notifiers that say so.

A rule names a window metric (``error_rate``) or a family of per-feature metrics
(``missing_increase`` with ``feature: "*"`` means every ``missing_increase.<feature>``). It fires
on the window where the metric has crossed its threshold in ``consecutive`` windows in a row
(of the same model version, each with at least ``min_samples`` rows), then stays quiet for that
rule, key and model version until ``cooldown`` has passed in window time — so re-running the
monitor over the same windows never fires twice, and a newly deployed model gets its own
alerts. Every alert is stored with its evidence (the windows' values).

The open window counts (``partial``, see :mod:`loopml.monitoring.windows`): a rule fires on it as
soon as it holds ``min_samples`` rows past the threshold, so a fault is seen within a monitoring
pass, not when the hour closes. When that window closes and still crosses, the stored alert is
confirmed (its value and evidence become the closed window's): the same alert, not a second one.

Default rules (``monitoring.default_alerts``, on unless turned off), with the spec's
``monitoring.min_samples``:

============================  ==========================================  =========
rule                          fires when                                  severity
============================  ==========================================  =========
``missing_increase *``        a feature is missing 5 points more than     warning
                              in training
``non_null_outputs``          under 99 % of answers are numbers           critical
``error_rate``                over 1 % of requests failed                 critical
``drift *``                   the spec's drift test flags a feature or    warning
                              the predictions (``monitoring.drift``)
``unseen *``                  over 1 % of a feature's values are          warning
                              categories training never saw
``out_of_range *``            over 1 % of a feature's values fall         warning
                              outside the training range
``latency_p99_ms``            over ``targets.latency_p99_ms``             warning
``quality.<metric>``          worse than ``metric.target`` (if set), on   warning
                              labelled rows
``label_shift``               the labels' rate (binary: log-odds 0.25)    warning
                              or mean (regression: 0.25 std) moved from
                              the held-out rows', beyond noise
``predicted_positive_shift``  binary: the predicted-positive rate moved   warning
                              (log-odds 0.25) beyond noise
``estimate_outside.<metric>`` labelled quality outside the label-free     warning
                              estimate's interval, 3 windows in a row
============================  ==========================================  =========

Every stored alert says how much (:mod:`loopml.monitoring.explain`): its ``value`` and
``threshold`` are the statistic's (a drift alert's PSI against the PSI threshold, not the 0/1
verdict), and its evidence holds the ``statistic`` and a ``summary`` line with the effect in the
feature's units ("temp: PSI 8.05 > 0.2; training median 38, window median 78").

Notifiers: the log (always, one line per alert) and a webhook (``monitoring.webhook``): a JSON
POST with a Slack-style ``text``, retried with back-off ``webhook_retries`` times within
``webhook_timeout`` per attempt. The monitor posts once per incident opened or resolved
(:mod:`loopml.monitoring.incidents`), not once per alert; :func:`notify_webhook` posts one alert.
A webhook that keeps failing is logged, never raised: the alert is already stored.
"""

from __future__ import annotations

import logging
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from loopml.monitoring.explain import Packages, describe
from loopml.monitoring.notify import post_json
from loopml.monitoring.shift import LOG_ODDS, MEAN_SHIFT
from loopml.registry import Package
from loopml.spec import AlertRule, Spec
from loopml.store import AlertRecord, Store, WindowRecord

logger = logging.getLogger(__name__)
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
_FAMILIES = {"missing_fraction", "missing_increase", "out_of_range", "unseen", "drift"}


def default_rules(spec: Spec) -> list[AlertRule]:
    """The basics every deployment gets (see the module doc)."""
    n = spec.monitoring.min_samples
    rules = [
        AlertRule(metric="missing_increase", threshold=0.05, min_samples=n),
        AlertRule(
            metric="non_null_outputs",
            comparator="<",
            threshold=0.99,
            min_samples=n,
            severity="critical",
        ),
        AlertRule(metric="error_rate", threshold=0.01, min_samples=n, severity="critical"),
        AlertRule(metric="drift", threshold=0.5, min_samples=n),
        AlertRule(metric="unseen", threshold=0.01, min_samples=n),
        AlertRule(metric="out_of_range", threshold=0.01, min_samples=n),
        AlertRule(metric="latency_p99_ms", threshold=spec.targets.latency_p99_ms, min_samples=n),
        AlertRule(metric=f"estimate_outside.{spec.metric.name}", threshold=0.5, consecutive=3),
    ]
    if spec.task in ("binary", "regression"):  # target and prior shift, beyond noise
        odds = spec.task == "binary"
        threshold = LOG_ODDS if odds else MEAN_SHIFT
        rules.append(AlertRule(metric="label_shift", threshold=threshold, min_samples=n))
    if spec.task == "binary":
        rules.append(
            AlertRule(metric="predicted_positive_shift", threshold=LOG_ODDS, min_samples=n)
        )
    if spec.metric.target is not None:
        rules.append(
            AlertRule(
                metric=f"quality.{spec.metric.name}",
                comparator="<" if spec.metric.greater_is_better else ">",
                threshold=spec.metric.target,
                min_samples=n,
            )
        )
    return rules


def rules_of(spec: Spec) -> list[AlertRule]:
    """The spec's rules, after the defaults unless ``monitoring.default_alerts`` is off."""
    defaults = default_rules(spec) if spec.monitoring.default_alerts else []
    return [*defaults, *spec.monitoring.alerts]


def rule_name(rule: AlertRule) -> str:
    """A readable id, e.g. ``missing_increase[*] > 0.05``."""
    target = f"[{rule.feature}]" if rule.metric in _FAMILIES else ""
    return f"{rule.metric}{target} {rule.comparator} {rule.threshold:g}"


def keys_of(rule: AlertRule, metrics: dict[str, Any]) -> list[str]:
    """The keys of ``metrics`` that ``rule`` watches (one, or a family's per-feature keys)."""
    if rule.metric in _FAMILIES:
        prefix = f"{rule.metric}."
        if rule.feature == "*":
            return sorted(k for k in metrics if k.startswith(prefix))
        return [prefix + rule.feature] if prefix + rule.feature in metrics else []
    return [rule.metric] if rule.metric in metrics else []


def crosses(rule: AlertRule, window: WindowRecord, key: str) -> float | None:
    """``key``'s value on ``window`` when it crosses ``rule`` (the window big enough), else
    ``None`` — the state of one window, without ``consecutive`` or ``cooldown``."""
    raw = window.metrics.get(key)
    if raw is None or window.rows < rule.min_samples:
        return None
    value = float(raw)
    return value if _COMPARE[rule.comparator](value, rule.threshold) else None


@dataclass(frozen=True)
class Fired:
    """A rule that crossed its threshold, on which window, with the evidence."""

    rule: AlertRule
    key: str
    value: float
    window: WindowRecord
    evidence: dict[str, Any]
    confirms: int | None = None  # the alert this closed window confirms (fired while open)

    @property
    def feature(self) -> str | None:
        return (
            self.key.split(".", 1)[1] if "." in self.key and self.rule.metric in _FAMILIES else None
        )


def evaluate(
    windows: list[WindowRecord], rules: list[AlertRule], fired_before: list[AlertRecord]
) -> list[Fired]:
    """The alerts ``windows`` fire under ``rules`` (see the module doc), oldest first.

    ``fired_before`` (stored alerts) enforces the cooldown across runs.
    """
    last_fired: dict[tuple[str, str, str], datetime] = {}
    on_window: dict[tuple[str, str, str, datetime], AlertRecord] = {}  # fired on that window
    for alert in fired_before:
        end, start = alert.evidence.get("window_end"), alert.evidence.get("window_start")
        key = str(alert.evidence.get("key", alert.metric))
        earlier = (alert.rule, key, str(alert.evidence.get("model_version")))
        if end is not None:
            moment = datetime.fromisoformat(end)
            last_fired[earlier] = max(last_fired.get(earlier, moment), moment)
        if start is not None:
            on_window.setdefault((*earlier, datetime.fromisoformat(start)), alert)
    fired: list[Fired] = []
    by_version: dict[str, list[WindowRecord]] = {}
    for window in sorted(windows, key=lambda w: w.start):
        by_version.setdefault(window.model_version, []).append(window)
    for rule in rules:
        name, compare = rule_name(rule), _COMPARE[rule.comparator]
        for series in by_version.values():
            streaks: dict[str, list[tuple[WindowRecord, float]]] = {}
            for window in series:
                for key in keys_of(rule, window.metrics):
                    raw = window.metrics.get(key)
                    value = float(raw) if raw is not None else math.nan
                    crossed = (
                        raw is not None
                        and window.rows >= rule.min_samples
                        and compare(value, rule.threshold)
                    )
                    if not crossed:
                        streaks.pop(key, None)
                        continue
                    streak = streaks.setdefault(key, [])
                    streak.append((window, value))
                    if len(streak) < rule.consecutive:
                        continue
                    which = (name, key, window.model_version)  # a new model: a new story
                    same = on_window.get((*which, window.start))
                    if same is not None:  # fired on this window before: never twice
                        if same.evidence.get("partial") and not window.partial:
                            evidence = _evidence(rule, key, streak)
                            fired.append(Fired(rule, key, value, window, evidence, same.id))
                        continue
                    previous = last_fired.get(which)
                    if previous is not None and window.end - previous < rule.cooldown:
                        continue
                    last_fired[which] = window.end
                    fired.append(Fired(rule, key, value, window, _evidence(rule, key, streak)))
    return sorted(fired, key=lambda f: f.window.end)


def _evidence(
    rule: AlertRule, key: str, streak: list[tuple[WindowRecord, float]]
) -> dict[str, Any]:
    window = streak[-1][0]
    return {
        "key": key,
        "model_version": window.model_version,
        "window_size": window.size,
        "window_start": window.start.isoformat(),
        "window_end": window.end.isoformat(),
        "rows": window.rows,
        "partial": window.partial,
        "comparator": rule.comparator,
        "consecutive": [
            {"window_start": w.start.isoformat(), "value": v, "rows": w.rows}
            for w, v in streak[-rule.consecutive :]
        ],
    }


def record(
    store: Store, spec: Spec, fired: list[Fired], packages: Packages | None = None
) -> list[AlertRecord]:
    """Store each fired alert with what it measured (:func:`explain.describe`) and log it; the
    new alerts. An alert that confirms one fired on the open window updates it, unannounced.
    ``packages`` caches the model packages the descriptions read (one per model version)."""
    packages = packages or Packages(store)
    stored = []
    for alert in fired:
        package = packages.get(alert.window.model_version)
        if alert.confirms is not None:
            value, _, evidence = _described(alert, package)
            confirmed = store.monitoring.confirm_alert(
                alert.confirms, value=value, evidence=evidence
            )
            logger.info("confirmed by the closed window: %s", message(confirmed))
            continue
        stored.append(_store_one(store, spec, alert, package))
    return stored


def _described(alert: Fired, package: Package | None) -> tuple[float, float, dict[str, Any]]:
    """The alert's value and threshold as its statistic's, and its evidence with the
    statistic and its summary line."""
    statistic = describe(alert.window, alert.rule, alert.key, alert.value, package)
    value, threshold = statistic["value"], statistic["threshold"]
    return (
        float(value) if isinstance(value, int | float) else alert.value,
        float(threshold) if isinstance(threshold, int | float) else alert.rule.threshold,
        {**alert.evidence, "statistic": statistic, "summary": statistic["text"]},
    )


def _store_one(store: Store, spec: Spec, alert: Fired, package: Package | None) -> AlertRecord:
    value, threshold, evidence = _described(alert, package)
    saved = store.monitoring.add_alert(
        deployment=spec.name,
        rule=rule_name(alert.rule),
        severity=alert.rule.severity,
        metric=alert.rule.metric,
        feature=alert.feature,
        value=value,
        threshold=threshold,
        evidence=evidence,
    )
    log_level = logging.ERROR if saved.severity == "critical" else logging.WARNING
    logger.log(log_level, "%s", message(saved))
    return saved


def message(alert: AlertRecord) -> str:
    """One line for people: the statistic against its threshold and the effect, where."""
    evidence = alert.evidence
    what = evidence.get("summary") or (
        f"{evidence.get('key', alert.metric)} = {_num(alert.value)} "
        f"{evidence.get('comparator', '>')} {_num(alert.threshold)}"
    )
    where = "open window" if evidence.get("partial") else "window"
    return (
        f"[{alert.severity}] {alert.deployment} {evidence.get('model_version', '')}: {what} "
        f"(rule {alert.rule}; {where} from {evidence.get('window_start', '?')})"
    )


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def notify_webhook(url: str, alert: AlertRecord, *, timeout: float, retries: int) -> bool:
    """POST the alert as JSON (Slack-compatible ``text``); retries with back-off. Whether it
    was delivered (a 2xx answer)."""
    body = {
        "text": message(alert),
        "alert": {
            "id": alert.id,
            "deployment": alert.deployment,
            "rule": alert.rule,
            "severity": alert.severity,
            "metric": alert.metric,
            "feature": alert.feature,
            "value": alert.value,
            "threshold": alert.threshold,
            "evidence": alert.evidence,
            "created_at": alert.created_at.isoformat(),
        },
    }
    return post_json(url, body, what=f"alert {alert.id}", timeout=timeout, retries=retries)
