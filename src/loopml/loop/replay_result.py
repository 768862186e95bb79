"""What :func:`loopml.loop.simulate.simulate` returns: per window, each policy's score and model
and what the loop saw and decided; the row-weighted means; the recovered share of the gap.

Plain data (compute, then render): the CLI's tables, ``--json`` and ``bench_loop`` draw it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from loopml.loop.replay_stats import Recovery, weighted_mean

POLICIES = ("never", "loop", "oracle")


@dataclass
class LoopStep:
    """What the loop saw once a window's labels were in, and what it did: the alerts fired on
    its model (``triggers`` are the ones the policy counts, drift, quality or schedule;
    ``incidents`` are input faults a retrain cannot mend), the policy's plan (``retrain``,
    ``wait``, ``none``) and reason, and for a retrain its outcome (``deployed``, ``rejected``,
    ``waiting``, ``invalid``), the challenger and the gate's checks (value, threshold, passed)."""

    triggers: list[str] = field(default_factory=list)
    incidents: list[str] = field(default_factory=list)
    plan: str = "none"
    reason: str = ""
    outcome: str | None = None
    model: str | None = None
    gate: list[dict[str, Any]] = field(default_factory=list)
    detail: str | None = None

    @property
    def said(self) -> str:
        """The decision in a few words, for a table cell."""
        if self.outcome is None:
            return self.reason
        what = f"{self.outcome} {self.model}" if self.model else self.outcome
        return f"{what}: {self.detail}" if self.detail else what

    def to_dict(self) -> dict[str, Any]:
        return {
            "triggers": self.triggers,
            "incidents": self.incidents,
            "plan": self.plan,
            "reason": self.reason,
            "outcome": self.outcome,
            "model": self.model,
            "gate": self.gate,
            "detail": self.detail,
        }


@dataclass
class Window:
    """One replayed window: its label and span (``None`` without times), its rows and the
    labelled rows each policy was scored on (``scored``, the window's weight), each policy's
    score and model, and the loop's step after it (``None`` after the last window)."""

    label: str
    start: str | None
    end: str | None
    rows: int
    scored: int
    quality: dict[str, float | None]
    models: dict[str, str]
    loop: LoopStep | None = None


@dataclass
class Simulation:
    """The replay's result: per-window quality of each policy, their row-weighted means, the
        loop's retrain events, the project's model it started from (``champion``; ``starts`` says
    which it is: the champion, or the newest version when there is none), how the windows were cut,
        and the share of the never → oracle gap the loop recovered (with its interval)."""

    metric: str
    champion: str = ""
    windowing: dict[str, Any] = field(default_factory=dict)
    starts: str = "the project's champion"  # why every policy starts from ``champion``
    windows: list[Window] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    recovery: Recovery | None = None

    def mean(self, policy: str, windows: list[Window] | None = None) -> float | None:
        """``policy``'s metric averaged over ``windows`` (default all), each weighted by the
        labelled rows it was scored on."""
        chosen = self.windows if windows is None else windows
        return weighted_mean([w.quality[policy] for w in chosen], [w.scored for w in chosen])

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "champion": self.champion,
            "starts_from": {"model": self.champion, "why": self.starts},
            "windowing": self.windowing,
            "policies": {
                name: {
                    "mean": self.mean(name),
                    "windows": [
                        {"start": w.start, "end": w.end, "label": w.label, "rows": w.rows,
                         "scored": w.scored, "quality": w.quality[name], "model": w.models[name]}
                        for w in self.windows
                    ],
                }
                for name in POLICIES
            },
            "windows": [
                {"label": w.label, "start": w.start, "end": w.end, "rows": w.rows,
                 "scored": w.scored, "quality": w.quality, "models": w.models,
                 "loop": None if w.loop is None else w.loop.to_dict()}
                for w in self.windows
            ],
            "retrains": self.events,
            "recovery": None if self.recovery is None else self.recovery.to_dict(),
        }  # fmt: skip
