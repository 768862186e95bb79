"""When to retrain: the spec's ``retrain`` policy applied to what monitoring saw.

A pure function of its inputs (no store, no clock), so the daemon and the simulation decide
the same way and tests can walk it through time. Triggers (``retrain.on``):

- **labels**: the labelled production rows the serving model did not train on reach
  ``retrain.min_new_labels`` (default: a share of its training rows, see
  :mod:`loopml.loop.triggers`): new evidence, so a challenger is trained and the gate decides.
  After an attempt, only the labels since it count: the same rows would give the same verdict;
- **drift**: an open drift alert on the model that serves now, on a window whose drift matters
  (the predictions drifted, or the importance-weighted drift reaches its threshold); without
  the windows to weigh it (no :class:`~loopml.loop.triggers.Evidence`), any drift alert;
- **quality**: an open labelled-quality (``quality.*``) or expected-quality (``expected.*``)
  alert on it, or its labelled quality below its own at registration by more than
  ``retrain.quality_drop`` beyond the noise of the window's estimate;
- **schedule**: ``retrain.schedule`` has passed since the last retrain (or since the serving
  model took over);
- **manual**: only ``loopml retrain`` (always allowed: a person asked); a policy of just
  ``[manual]`` means the loop never retrains on its own.

Input faults (missing values, errors, latency) are not triggers: retraining on broken inputs
would teach the model the fault. An alert stays a trigger until it is acknowledged (a person
says it needs no retrain) or a new model serves; the cooldown since the last retrain and the
week's budget (``max_per_week``) bound how often the loop acts on it. Only an attempt that
stored something counts against them (a challenger was trained: ``rejected``, ``proposed``,
``rollout``, or one still running): one that stored nothing (invalid data, a crash, too few new
rows) leaves both as they were. Any attempt that deployed nothing is tried again only once new
labels have arrived (``monitoring.min_samples`` of them): the same data would give the same
verdict, and a crash would repeat.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from loopml.loop.triggers import Evidence, labels_needed, quality_drop, weigh_drift
from loopml.spec import Retrain

if TYPE_CHECKING:  # the records are only read here: the policy itself does no I/O
    from loopml.store import AlertRecord

WEEK = timedelta(days=7)


@dataclass(frozen=True)
class Signal:
    """Something that may call for a retrain: a kind, when, and what, for the audit log."""

    kind: str  # labels / drift / quality / schedule
    at: datetime
    what: str
    alert_id: int | None = None
    feature: str | None = None  # a drift alert's feature ("prediction" for the scores)
    window: tuple[str, str] | None = None  # the alert's window: its size and start (ISO)


@dataclass(frozen=True)
class History:
    """What the loop did before: when the retrains that count against the cooldown and the
    budget started (newest first: those that stored something, see the module doc), how the
    last attempt of any kind ended (``rollout``, ``proposed``, ``rejected``, ``invalid``,
    ``failed``), when it was tried (``last_tried``; default: the newest of ``attempts``), and
    how many labels arrived since it was."""

    attempts: list[datetime] = field(default_factory=list)
    last_outcome: str | None = None
    labels_since: int = 0
    last_tried: datetime | None = None

    @property
    def last(self) -> datetime | None:
        return self.attempts[0] if self.attempts else None


@dataclass(frozen=True)
class Plan:
    """The policy's answer: ``retrain`` now, ``wait`` (``why``: cooldown, budget, labels,
    rollout, approval), or ``none`` (nothing calls for it)."""

    action: Literal["retrain", "wait", "none"]
    reason: str
    signals: list[Signal] = field(default_factory=list)
    why: str = ""

    def evidence(self) -> dict[str, Any]:
        return {
            "why": self.why,
            "signals": [
                {"kind": s.kind, "at": s.at.isoformat(), "what": s.what, "alert_id": s.alert_id}
                for s in self.signals
            ],
        }


def kind_of(metric: str) -> str | None:
    """The trigger kind of an alert's metric, or ``None`` for faults retraining cannot mend."""
    if metric == "drift" or metric.startswith("drift"):
        return "drift"
    if metric.startswith(("quality.", "expected.")):
        return "quality"
    return None


def signals_from_alerts(alerts: list[AlertRecord], model: str) -> list[Signal]:
    """Trigger signals among ``alerts``: the open (not acknowledged) ones on ``model``."""
    signals = []
    for alert in alerts:
        kind = kind_of(alert.metric)
        if kind is None or alert.status != "open":
            continue
        if alert.evidence.get("model_version") != model:
            continue
        what = f"{alert.rule}" + (f" on {alert.feature}" if alert.feature else "")
        if alert.value is not None:
            what += f" (value {alert.value:.4g})"
        size, start = alert.evidence.get("window_size"), alert.evidence.get("window_start")
        window = (str(size), str(start)) if size is not None and start is not None else None
        signals.append(Signal(kind, alert.created_at, what, alert.id, alert.feature, window))
    return signals


def _weighed(signals: list[Signal], evidence: Evidence | None) -> list[Signal]:
    """``signals`` with the drift that does not matter left out, and the drift alerts of one
    window as one signal that says how much (see :mod:`loopml.loop.triggers`)."""
    if evidence is None:
        return signals
    windows = {(w.size, _instant(w.start)): w for w in evidence.windows}
    kept, seen = [], set()
    for signal in signals:
        if signal.kind != "drift":
            kept.append(signal)
            continue
        window = None
        if signal.window is not None:
            size, start = signal.window
            window = windows.get((size, _instant(datetime.fromisoformat(start))))
        if window is None:  # its window is no longer among the recent ones: stale
            continue
        if signal.window in seen:
            continue
        weighed = weigh_drift(window, evidence.importance, evidence.drift_psi)
        if not weighed.matters:
            continue
        seen.add(signal.window)
        what = (
            "the predictions drifted"
            if weighed.prediction
            else f"importance-weighted drift {weighed.weighted:.2f}× its threshold"
        )
        if weighed.top:
            what += f" (weighing most: {', '.join(weighed.top)})"
        kept.append(
            Signal("drift", signal.at, f"{what} on the window from {window.start:%Y-%m-%d %H:%M}",
                   signal.alert_id, signal.feature, signal.window)
        )  # fmt: skip
    return kept


def _instant(moment: datetime) -> datetime:
    """``moment`` comparable whatever its time zone (naive is UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _evidence_signals(
    policy: Retrain, evidence: Evidence, now: datetime, history: History, min_samples: int
) -> list[Signal]:
    """The ``quality`` (a drop from the model's own quality) and ``labels`` triggers."""
    found = []
    if "quality" in policy.on:
        drop = quality_drop(evidence, min_samples)
        if drop is not None and drop.lower > policy.quality_drop:
            found.append(
                Signal(
                    "quality",
                    drop.window.end,
                    f"{evidence.metric} {drop.value:.4g} on the {drop.rows:,} labelled rows of "
                    f"the window from {drop.window.start:%Y-%m-%d %H:%M} is {drop.drop:.1%} "
                    f"worse than its {evidence.reference:.4g} at registration (at least "
                    f"{drop.lower:.1%} beyond noise; quality_drop {policy.quality_drop:.1%})",
                )
            )
    if "labels" in policy.on:
        needed = labels_needed(policy.min_new_labels, evidence.training_rows, min_samples)
        tried = history.last_tried or history.last
        new = evidence.new_labels
        if tried is not None:  # the rows an attempt already weighed would give its verdict
            new = min(new, history.labels_since)
        if new >= needed:
            since = "" if tried is None else " since the last attempt"
            found.append(
                Signal(
                    "labels",
                    now,
                    f"{new:,} labelled production rows {evidence.model} did not train on"
                    f"{since} (min_new_labels {needed:,})",
                )
            )
    return found


def plan(
    policy: Retrain,
    signals: list[Signal],
    *,
    now: datetime,
    history: History,
    serving_since: datetime | None,
    new_labels: int,
    evidence: Evidence | None = None,
) -> Plan:
    """Whether to retrain ``now`` on ``signals`` (alerts) and ``evidence`` (the serving model's
    recent windows and new labels: the labels, quality-drop and drift-that-matters triggers),
    given the ``history`` of attempts. After an attempt that deployed nothing, any trigger
    retries only once ``new_labels`` (``monitoring.min_samples``) more labels have arrived."""
    wanted = [s for s in _weighed(signals, evidence) if s.kind in policy.on]
    if evidence is not None:
        wanted += _evidence_signals(policy, evidence, now, history, new_labels)
    last = history.last
    if "schedule" in policy.on and policy.schedule is not None:
        since = last or serving_since
        if since is not None and now - since >= policy.schedule:
            wanted.append(Signal("schedule", now, f"{_span(now - since)} since the last retrain"))
    if not wanted:
        return Plan("none", "no labels, drift, quality or schedule trigger")
    kinds = ", ".join(sorted({s.kind for s in wanted}))
    if last is not None and now - last < policy.cooldown:
        left = policy.cooldown - (now - last)
        return Plan(
            "wait",
            f"{kinds} trigger waits: cooldown of {_span(policy.cooldown)} after the last "
            f"retrain ({_span(left)} left)",
            wanted,
            "cooldown",
        )
    recent = [t for t in history.attempts if now - t < WEEK]
    if len(recent) >= policy.max_per_week:
        return Plan(
            "wait",
            f"{kinds} trigger waits: {len(recent)} retrains in the last 7 days (max_per_week "
            f"{policy.max_per_week}); next allowed at {(min(recent) + WEEK).isoformat()}",
            wanted,
            "budget",
        )
    if history.last_outcome in ("rejected", "invalid", "failed") and (
        history.labels_since < new_labels
    ):
        return Plan(
            "wait",
            f"{kinds} trigger waits: the last retrain was {history.last_outcome}; it is tried "
            f"again once {new_labels:,} new labels have arrived ({history.labels_since:,} so far)",
            wanted,
            "labels",
        )
    return Plan("retrain", f"retrain on {kinds}: {wanted[0].what}", wanted)


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds >= 86_400:
        return f"{seconds / 86_400:.1f} d"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds} s"
