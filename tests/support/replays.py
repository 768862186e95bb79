"""A project as ``loopml init`` would propose it for a bundled dataset's early rows, trained and
registered in a project folder, for replays of the later rows (``loopml simulate``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from loopml.data.scope import propose_spec
from loopml.data.versions import add_frame
from loopml.modeling.train import train
from loopml.registry import register
from loopml.spec import Spec, parse_spec
from tests.support.projects import project_store


def proposed_project(
    root: Path,
    early: pl.DataFrame,
    *,
    name: str,
    target: str,
    time_column: str | None = None,
    candidates: Sequence[str] | None = None,
    versions: int = 1,
) -> Spec:
    """``root`` holding the spec ``propose_spec`` writes for ``early`` (its model search cut to
    ``candidates`` when given, to keep a test short), ``early`` as a dataset version and the
    model trained on it registered ``versions`` times (the gate decides the aliases)."""
    text = propose_spec(
        early, target=target, name=name, time_column=time_column, source=f"{name}.parquet"
    ).text
    if candidates is not None:
        proposed = "  candidates: [linear, random_forest, lightgbm]\n"
        assert proposed in text, "the proposal's model search moved: update this helper"
        text = text.replace(proposed, f"  candidates: [{', '.join(candidates)}]\n")
    spec = parse_spec(text)
    root.mkdir(parents=True, exist_ok=True)
    (root / "loopml.yaml").write_text(text)
    with project_store(root) as store:
        version = add_frame(store, early, name=name, source=f"{name}.parquet", spec=spec)
        result = train(store, spec, version)
        for _ in range(versions):
            register(store, spec, result)
    return spec
