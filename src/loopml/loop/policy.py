"""When to retrain: the spec's ``retrain`` policy applied to what monitoring saw.

A pure function of its inputs (no store, no clock), so the daemon and the simulation decide
the same way and tests can walk it through time. Triggers:

- **drift**: an open drift alert on the model that serves now;
- **quality**: an open labelled-quality (``quality.*``) or expected-quality (``expected.*``)
  alert on it;
- **schedule**: ``retrain.schedule`` has passed since the last retrain (or since the serving
  model took over);
- **manual**: only ``loopml retrain`` (always allowed: a person asked); a policy of just
  ``[manual]`` means the loop never retrains on its own.

Input faults (missing values, errors, latency) are not triggers: retraining on broken inputs
would teach the model the fault. An alert stays a trigger until it is acknowledged (a person
says it needs no retrain) or a new model serves; the cooldown since the last retrain and the
week's budget (``max_per_week``) bound how often the loop acts on it. A retrain that deployed
nothing (rejected by the gate, invalid data, a crash) is tried again only once new labels have
arrived (``monitoring.min_samples`` of them): the same data would give the same verdict.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from loopml.spec import Retrain

if TYPE_CHECKING:  # the records are only read here: the policy itself does no I/O
    from loopml.store import AlertRecord

WEEK = timedelta(days=7)


@dataclass(frozen=True)
class Signal:
    """Something that may call for a retrain: a kind, when, and what, for the audit log."""

    kind: str  # drift / quality / schedule
    at: datetime
    what: str
    alert_id: int | None = None


@dataclass(frozen=True)
class History:
    """What the loop did before: when retrains were attempted (newest first), how the last one
    ended (``rollout``, ``proposed``, ``rejected``, ``invalid``, ``failed``), and how many labels
    arrived since it started."""

    attempts: list[datetime] = field(default_factory=list)
    last_outcome: str | None = None
    labels_since: int = 0

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
        signals.append(Signal(kind, alert.created_at, what, alert.id))
    return signals


def plan(
    policy: Retrain,
    signals: list[Signal],
    *,
    now: datetime,
    history: History,
    serving_since: datetime | None,
    new_labels: int,
) -> Plan:
    """Whether to retrain ``now`` on ``signals``, given the ``history`` of attempts. After an
    attempt that deployed nothing, the same signals retry only once ``new_labels`` more labels
    have arrived: the same data would give the same verdict."""
    wanted = [s for s in signals if s.kind in policy.on]
    last = history.last
    if "schedule" in policy.on and policy.schedule is not None:
        since = last or serving_since
        if since is not None and now - since >= policy.schedule:
            wanted.append(Signal("schedule", now, f"{_span(now - since)} since the last retrain"))
    if not wanted:
        return Plan("none", "no drift, quality or schedule trigger")
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
