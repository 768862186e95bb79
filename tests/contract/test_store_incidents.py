"""The incidents repository and resolving alerts, on every backend (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from loopml.errors import NotFoundError, StoreError
from loopml.store import Store

START = datetime(2024, 7, 1, tzinfo=UTC)


def test_an_incident_opens_updates_and_resolves_once(store: Store) -> None:
    opened = store.incidents.open(
        deployment="flights",
        model_version="flights@1",
        size="1h",
        family="drift",
        severity="warning",
        title="drift on 2 features: temp, dewp PSI 2.1–8.1",
        evidence={"features": [{"feature": "temp", "value": 8.1}], "alert_ids": [1, 2]},
        window=START,
    )
    assert opened.status == "open" and opened.first_window == opened.last_window == START
    later = START + timedelta(hours=1)
    updated = store.incidents.update(
        opened.id,
        title="drift on 1 feature: temp PSI 9",
        severity="critical",
        evidence={"alert_ids": [1, 2, 3]},
        window=later,
    )
    assert updated.last_window == later and updated.first_window == START
    assert updated.severity == "critical" and updated.evidence["alert_ids"] == [1, 2, 3]
    assert store.incidents.list(deployment="flights", status="open") == [updated]
    resolved = store.incidents.resolve(opened.id, "its condition cleared")
    assert resolved.status == "resolved" and resolved.resolved_at is not None
    assert store.incidents.list(status="open") == []
    assert store.incidents.list(deployment="flights") == [resolved]
    with pytest.raises(StoreError, match=r"already resolved .* a new one opens"):
        store.incidents.resolve(opened.id, "again")
    with pytest.raises(NotFoundError, match="loopml incidents list --all"):
        store.incidents.update(999, title="", severity="", evidence={}, window=START)


def test_resolving_alerts_changes_only_open_ones(store: Store) -> None:
    ids = [
        store.monitoring.add_alert(
            deployment="flights",
            rule="drift[*] > 0.5",
            severity="warning",
            metric="drift",
            feature=name,
            value=1.0,
            threshold=0.2,
            evidence={"model_version": "flights@1"},
        ).id
        for name in ("temp", "dewp", "visib")
    ]
    store.monitoring.ack_alert(ids[0])
    assert store.monitoring.resolve_alerts(ids) == 2
    assert store.monitoring.resolve_alerts([]) == 0
    statuses = {a.id: a.status for a in store.monitoring.list_alerts()}
    assert statuses == {ids[0]: "acked", ids[1]: "resolved", ids[2]: "resolved"}
