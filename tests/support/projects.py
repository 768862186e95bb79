"""The flights project the tests share, and a project folder's store."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from loopml.data.versions import add_frame
from loopml.modeling.train import train
from loopml.registry import register
from loopml.spec import Spec, parse_spec
from loopml.store import Store

#: The flights project the tests share; a test appends the sections it needs (metric, model…).
FLIGHTS_SPEC = """\
name: flights
task: binary
target: late
positive_class: true
id_column: flight_id
time_column: scheduled_departure
features:
  numeric: [distance, hour, temp, humid, wind_speed, visib]
  categorical: [carrier, origin, dest]
"""


def trained_project(root: Path, spec_text: str, frame: pl.DataFrame) -> Path:
    """A project folder ``root`` with ``spec_text`` as its ``loopml.yaml``, ``frame`` as dataset
    ``flights`` and the model trained on it registered as champion."""
    (root / "loopml.yaml").write_text(spec_text)
    spec = parse_spec(spec_text)
    with project_store(root) as store:
        version = add_frame(store, frame, name="flights", source="test")
        register(store, spec, train(store, spec, version))
    return root


def project_store(root: Path) -> Store:
    """The store of the project folder ``root`` (``root/.loopml``), as ``loopml`` finds it."""
    return Store(f"sqlite:///{root / '.loopml' / 'loopml.db'}", root / ".loopml" / "artifacts")


def registered_store(root: Path, spec: Spec, frame: pl.DataFrame) -> Store:
    """A store under ``root`` holding ``frame`` as dataset ``flights`` and the model trained on
    it, registered as ``flights@1`` (champion)."""
    store = Store(f"sqlite:///{root / 'loopml.db'}", root / "artifacts")
    version = add_frame(store, frame, name="flights", source="test")
    register(store, spec, train(store, spec, version))
    return store
