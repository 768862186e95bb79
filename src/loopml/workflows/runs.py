"""The ``runs`` verb: a project's runs, newest first (the Python twin of ``loopml runs list``)."""

from __future__ import annotations

from pathlib import Path

from loopml.store import RunRecord, Store


def runs(
    *,
    home: str | Path | None = None,
    kind: str | None = "train",
    name: str | None = None,
    limit: int | None = None,
) -> list[RunRecord]:
    """Runs of the project at ``home`` (default ``LOOPML_HOME`` or ``./.loopml``), newest first.

    ``kind="train"`` (the default) lists training runs; ``kind=None`` lists every run, candidate
    runs included. The Python twin of ``loopml runs list``.
    """
    with Store.open(home) as store:
        return store.runs.list(kind=kind, name=name, limit=limit)
