"""A faulty client never blocks the loop, and never gets trained in: a real server logs June
flights, half of one window's rows from a client that stopped sending ``distance``; monitoring
opens a missing-values incident on it, and the retrain quarantines the rows lacking it (counted in
the audit and the retrain's facts), keeps the healthy client's rows of that window, and goes on;
ten rows with a distance no flight flies (a unit fault) are left out too, rather than failing the
retrain's validation."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from loopml.data.versions import load_frame
from loopml.loop.evidence import gather
from loopml.loop.policy import plan
from loopml.loop.retrain import history, retrain
from loopml.monitoring import monitor
from loopml.predlog import log_folder
from loopml.spec import parse_spec
from tests.support.projects import FLIGHTS_SPEC, project_store, trained_project
from tests.support.servers import send, start

SPEC = (
    FLIGHTS_SPEC
    + """\
metric: {name: roc_auc, target: 0.6}
model: {candidates: [lightgbm]}
monitoring: {window_rows: 500, min_samples: 200}
"""
)


def test_a_window_under_a_missing_values_incident_is_quarantined_and_the_retrain_goes_on(
    tmp_path: Path, flights: pl.DataFrame
) -> None:
    winter = flights.filter(pl.col("month") <= 3).gather_every(40)
    root = trained_project(tmp_path, SPEC, winter)
    spec = parse_spec(SPEC)
    june = flights.filter(pl.col("month") == 6).sample(3000, seed=0).sort("scheduled_departure")
    row = pl.int_range(pl.len())
    broken = row.is_between(1000, 1499) & (row % 2 == 0)  # half the third 500-row window
    absurd = pl.int_range(pl.len()).is_between(2000, 2009)
    distance = pl.when(broken).then(None).when(absurd).then(10**7).otherwise(pl.col("distance"))
    sent = june.with_columns(distance.alias("distance"))
    server = start(root)
    try:
        send(server, sent)  # batches of 100: the faulty client's rows fall in one window
    finally:
        server.stop()  # a graceful stop: every prediction is in the log
    with project_store(root) as store:
        monitor.run(store, spec, log_folder(store))
        incidents = [
            i for i in store.incidents.list(deployment=spec.name) if i.family == "missing_increase"
        ]
        assert len(incidents) == 1 and "distance" in incidents[0].title
        # the evidence the daemon weighs: 3,000 labels the champion never saw, a quarter of
        # its ~2,000 training rows needed (and at least 2 × min_samples)
        found = gather(store, spec, "flights@1")
        assert found.new_labels == 3000 and found.training_rows == winter.height
        assert found.reference is not None and len(found.windows) == 6
        decided = plan(spec.retrain, [], now=datetime.now(UTC), history=history(store, spec),
                       serving_since=None, new_labels=200, evidence=found)  # fmt: skip
        assert decided.action == "retrain" and "labels" in {s.kind for s in decided.signals}
        outcome = retrain(store, spec, reason="test")
        facts = outcome.facts
        assert facts["quarantined_rows"] == 260
        quarantined, far = facts["quarantine"]
        assert quarantined["incident"] == incidents[0].id and quarantined["rows"] == 250
        assert far["family"] == "far_out_of_range" and far["rows"] == 10
        assert "distance" in far["title"]
        assert facts["labelled_production_rows"] == 2740
        assert facts["fresh_rows"] + facts["comparison_rows"] == 2740
        trained = load_frame(store, outcome.dataset)
        assert trained.height == winter.height + facts["fresh_rows"]
        assert trained["distance"].null_count() == winter["distance"].null_count() == 0
        assert trained["distance"].max() < 10**5  # type: ignore[operator]
        assert outcome.status in ("rollout", "rejected"), "the retrain went on: a challenger"
        started = store.audit.list(spec.name, actions=["retrain"])[0]
        assert "260 labelled rows quarantined" in started.reason
        assert f"incident {incidents[0].id}: missing values on" in started.reason
        assert started.evidence["quarantined_rows"] == 260
