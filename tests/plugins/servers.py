"""A flights project ready to serve (``served_project``) and April flights to send it
(``april_records``), shared by the serving tests; start a server with
:func:`tests.support.servers.start`.

Both are module-scoped: each module that uses them gets its own project folder, so one module's
servers and logged predictions never show in another's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest

from loopml.data.versions import add_frame
from loopml.modeling.train import train
from loopml.registry import register
from loopml.spec import parse_spec
from tests.support.projects import FLIGHTS_SPEC, project_store
from tests.support.servers import as_json

#: The served project's spec: a LightGBM model, batches of at most 500 records.
SERVED_SPEC = (
    FLIGHTS_SPEC
    + """\
metric: {name: roc_auc, target: 0.55}
model: {candidates: [lightgbm]}
serving: {max_batch: 500}
"""
)


@pytest.fixture(scope="module")
def served_project(tmp_path_factory: pytest.TempPathFactory, flights_sample: pl.DataFrame) -> Path:
    """A project folder whose flights@1 learnt from ``flights_sample``."""
    root = tmp_path_factory.mktemp("serve")
    (root / "loopml.yaml").write_text(SERVED_SPEC)
    spec = parse_spec(SERVED_SPEC)
    with project_store(root) as store:
        version = add_frame(store, flights_sample, name="flights", source="test")
        register(store, spec, train(store, spec, version))
    return root


@pytest.fixture(scope="module")
def april_records(flights: pl.DataFrame) -> list[dict[str, Any]]:
    """300 April flights as JSON records (the label column included)."""
    return as_json(flights.filter(pl.col("month") == 4).head(300))
