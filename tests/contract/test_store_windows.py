"""The store keeps the open monitoring window as ``partial`` and replaces it when it closes, on
every backend; migration 0006 adds the column with every stored window closed (issue 13,
item 2)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import alembic.command
from sqlalchemy import inspect

from loopml.store import Store, WindowRecord
from loopml.store._migrate import alembic_config, current_revision

START = datetime(2026, 12, 3, 14, tzinfo=UTC)


def window(rows: int, *, partial: bool) -> WindowRecord:
    return WindowRecord(
        "flights",
        "flights@1",
        "1h",
        START,
        START + timedelta(hours=1),
        rows,
        {"rows": float(rows), "missing_increase.temp": 0.5},
        {"drift": []},
        partial,
    )


def test_the_open_window_is_stored_partial_and_replaced_when_it_closes(store: Store) -> None:
    assert store.monitoring.add_windows([window(150, partial=True)]) == 1
    (stored,) = store.monitoring.list_windows("flights")
    assert stored.partial and stored.rows == 150
    assert store.monitoring.add_windows([window(250, partial=True)]) == 0  # replaced
    assert store.monitoring.add_windows([window(300, partial=False)]) == 0  # closed
    (closed,) = store.monitoring.list_windows("flights")
    assert not closed.partial and closed.rows == 300 and closed.metrics["rows"] == 300.0


def test_confirming_an_alert_keeps_it_one_alert(store: Store) -> None:
    fired = store.monitoring.add_alert(
        deployment="flights",
        rule="missing_increase[*] > 0.05",
        severity="warning",
        metric="missing_increase",
        feature="temp",
        value=0.4,
        threshold=0.05,
        evidence={"partial": True, "rows": 150},
    )
    confirmed = store.monitoring.confirm_alert(
        fired.id, value=0.5, evidence={"partial": False, "rows": 300}
    )
    assert (confirmed.id, confirmed.value, confirmed.evidence["partial"]) == (fired.id, 0.5, False)
    assert store.monitoring.list_alerts() == [confirmed]


def test_0006_adds_partial_with_every_stored_window_closed(store: Store, tmp_path: Path) -> None:
    store.monitoring.add_windows([window(300, partial=False)])
    with store.engine.begin() as conn:
        alembic.command.downgrade(alembic_config(conn), "0005")
    with store.engine.connect() as conn:
        assert current_revision(conn) == "0005"
        columns = {c["name"] for c in inspect(conn).get_columns("monitor_windows")}
        assert "partial" not in columns
    store.close()
    with Store(store.db_url, str(tmp_path / "artifacts")) as reopened:  # upgrades to head
        (kept,) = reopened.monitoring.list_windows("flights")
        assert not kept.partial and kept.rows == 300
