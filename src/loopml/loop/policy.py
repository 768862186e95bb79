"""When to retrain: the spec's ``retrain`` policy applied to what monitoring saw.

A pure function of its inputs (no store, no clock), so the daemon and the simulation decide
the same way and tests can walk it through time. Triggers:

- **drift**: a drift alert on the model that serves now;
- **quality**: a labelled-quality (``quality.*``) or expected-quality (``expected.*``) alert;
- **schedule**: ``retrain.schedule`` has passed since the last retrain (or since the serving
  model took over);
- **manual**: only ``loopml retrain`` (always allowed: a person asked); a policy of just
  ``[manual]`` means the loop never retrains on its own.

Input faults (missing values, errors, latency) are not triggers: retraining on broken inputs
would teach the model the fault. A trigger waits, without being used up, while the cooldown since
the last retrain runs or the week's budget (``max_per_week``) is spent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from loopml.spec import Retrain
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
class Plan:
    """The policy's answer: ``retrain`` now, ``wait`` (why), or ``none`` (nothing calls for it)."""

    action: Literal["retrain", "wait", "none"]
    reason: str
    signals: list[Signal] = field(default_factory=list)

    def evidence(self) -> dict[str, Any]:
        return {
            "signals": [
                {"kind": s.kind, "at": s.at.isoformat(), "what": s.what, "alert_id": s.alert_id}
                for s in self.signals
            ]
        }


def kind_of(metric: str) -> str | None:
    """The trigger kind of an alert's metric, or ``None`` for faults retraining cannot mend."""
    if metric == "drift" or metric.startswith("drift"):
        return "drift"
    if metric.startswith(("quality.", "expected.")):
        return "quality"
    return None


def signals_from_alerts(
    alerts: list[AlertRecord], model: str, after: datetime | None
) -> list[Signal]:
    """Trigger signals among ``alerts``: those on ``model`` created after ``after``."""
    signals = []
    for alert in alerts:
        kind = kind_of(alert.metric)
        if kind is None or alert.evidence.get("model_version") != model:
            continue
        if after is not None and alert.created_at <= after:
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
    last_retrain: datetime | None,
    retrains: list[datetime],
    serving_since: datetime | None,
) -> Plan:
    """Whether to retrain ``now`` given the ``signals`` since ``last_retrain`` and the times of
    the ``retrains`` so far (for the weekly budget)."""
    wanted = [s for s in signals if s.kind in policy.on]
    if "schedule" in policy.on and policy.schedule is not None:
        since = last_retrain or serving_since
        if since is not None and now - since >= policy.schedule:
            wanted.append(Signal("schedule", now, f"{_span(now - since)} since the last retrain"))
    if not wanted:
        return Plan("none", "no drift, quality or schedule trigger")
    kinds = sorted({s.kind for s in wanted})
    if last_retrain is not None and now - last_retrain < policy.cooldown:
        left = policy.cooldown - (now - last_retrain)
        return Plan(
            "wait",
            f"{', '.join(kinds)} trigger waits: cooldown of {_span(policy.cooldown)} "
            f"after the last retrain ({_span(left)} left)",
            wanted,
        )
    recent = [t for t in retrains if now - t < WEEK]
    if len(recent) >= policy.max_per_week:
        until = min(recent) + WEEK
        return Plan(
            "wait",
            f"{', '.join(kinds)} trigger waits: {len(recent)} retrains in the last 7 days "
            f"(max_per_week {policy.max_per_week}); next allowed at {until.isoformat()}",
            wanted,
        )
    return Plan("retrain", f"retrain on {', '.join(kinds)}: {wanted[0].what}", wanted)


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds >= 86_400:
        return f"{seconds / 86_400:.1f} d"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds} s"
