"""What one server process serves, and which model answers a request.

:class:`Routing` is an immutable snapshot of the deployment (stable, an optional canary at a
weight, an optional shadow) with each model loaded once; the app swaps the whole snapshot when
the deployment's revision changes, so a request never sees half of a change.

Routing is sticky per entity: with an entity key, the request's bucket is a hash of the rollout
id and the key, so one entity stays on one side for the whole rollout (and, as the weight grows,
entities only move from stable to canary). Without a key the draw is uniform.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from loopml.registry import Package
from loopml.rollout.state import latest_rollout
from loopml.serving.inputs import RecordChecker
from loopml.spec import Spec
from loopml.store import DeploymentRecord

_BUCKETS = 10_000


@dataclass(frozen=True)
class Served:
    """One loaded model and what is derived from it once: its input checker and class labels."""

    package: Package
    checker: RecordChecker
    labels: list[Any]

    @property
    def version(self) -> str:
        return self.package.record.ref

    @property
    def task(self) -> str:
        return self.package.model.task

    def outputs(self, decision: Any, output: Any) -> dict[str, Any]:
        """One row's response outputs: the prediction, and probabilities for classifiers."""
        if self.task == "regression":
            return {"prediction": float(output)}
        return {
            "prediction": self.labels[int(decision)],
            "probabilities": {
                str(c).lower() if isinstance(c, bool) else str(c): float(p)
                for c, p in zip(self.labels, output, strict=True)
            },
        }

    def scores(self, output: np.ndarray) -> np.ndarray:
        """One number per row for comparing models (see ``TrainedModel.scores``)."""
        return self.package.model.scores(output)


def known_columns(package: Package, spec: Spec) -> list[str]:
    """The columns a request may carry to ``package``: its training data's (the package's
    profile) and the spec's target, id, time, entity and weight columns; the model's features
    among them."""
    named = (spec.target, spec.id_column, spec.time_column, spec.entity_column, spec.weight_column)
    return [*package.profile.columns, *(name for name in named if name)]


def served(package: Package, spec: Spec) -> Served:
    """``package`` ready to serve under ``spec``'s serving policy."""
    labels = [c.item() if isinstance(c, np.generic) else c for c in package.model.classes]
    checker = RecordChecker(package.schema, spec.serving, known_columns(package, spec))
    return Served(package, checker, labels)


@dataclass(frozen=True)
class Routing:
    """A snapshot of the deployment one process serves."""

    stable: Served
    canary: Served | None = None
    weight: float = 0.0  # percent of requests to the canary
    shadow: Served | None = None
    shadow_fraction: float = 0.0
    rollout_id: str = ""
    revision: int = 0  # the deployment revision this snapshot shows (0: pinned to one model)
    canary_checked: bool = False  # stable's input check is the canary's too: check once

    def route(self, entity: str | None) -> str:
        """``"canary"`` or ``"stable"`` for a request (with its entity key, if any)."""
        if self.canary is None or self.weight <= 0:
            return "stable"
        if entity is None:
            bucket = random.random() * 100
        else:
            key = f"{self.rollout_id}:{entity}".encode()
            bucket = (zlib.crc32(key) % _BUCKETS) * 100 / _BUCKETS
        return "canary" if bucket < self.weight else "stable"

    def shadows(self) -> bool:
        """Whether this request should also be copied to the shadow."""
        return self.shadow is not None and random.random() < self.shadow_fraction


def routing_for(record: DeploymentRecord, spec: Spec, load: Callable[[str], Served]) -> Routing:
    """The snapshot of ``record``; ``load(ref)`` returns a served model (callers cache)."""
    if record.stable is None:
        raise ValueError(f"deployment '{record.name}' has no stable version")
    rollout = latest_rollout(record)
    stable = load(record.stable)
    canary = load(record.canary) if record.canary else None
    return Routing(
        stable=stable,
        canary=canary,
        weight=record.canary_weight if record.canary else 0.0,
        shadow=load(record.shadow) if record.shadow else None,
        shadow_fraction=spec.rollout.shadow_fraction,
        rollout_id=rollout.id if rollout is not None else "",
        revision=record.revision,
        canary_checked=canary is not None and canary.checker == stable.checker,
    )
