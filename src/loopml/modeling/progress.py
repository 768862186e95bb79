"""Progress events of long verbs (training, tuning, retraining), for whoever shows progress.

A verb that takes more than a second accepts ``on_event: OnProgress | None`` and calls it with one
of the frozen dataclasses below as it goes; the library never renders them (the CLI draws a
status line and a bar per tuned candidate). Events are sent from the calling thread, in order.
Stages after modeling send the same :class:`StageStarted`, and may add kinds of their own
(the simulation's ``WindowStarted``, :mod:`loopml.loop.simulate`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StageStarted:
    """A step of the verb began: ``text`` says which, for a status line (``"fitting linear"``)."""

    text: str


@dataclass(frozen=True, slots=True)
class TrialFinished:
    """``done`` of ``total`` tuning trials of ``candidate`` have finished, the best validation
    score so far being ``best`` (``None`` before a trial completes). Also sent once before the
    first new trial, with the count a resumed study already holds."""

    candidate: str
    done: int
    total: int
    best: float | None


@dataclass(frozen=True, slots=True)
class CandidateTrained:
    """``candidate`` was fitted (after tuning) and scored: its ``metrics`` per split, and the
    ``seconds`` it took, tuning and cross-validation included."""

    candidate: str
    metrics: dict[str, dict[str, float]]
    seconds: float


ProgressEvent = StageStarted | TrialFinished | CandidateTrained
OnProgress = Callable[[ProgressEvent], None]


def ignore(event: object) -> None:
    """The callback used when the caller passes none (for any stage's events)."""
