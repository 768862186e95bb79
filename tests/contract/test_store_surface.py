"""The store's surface is pinned: a facade (connection, schema, artifacts) over one repository per
concern, each with its own verbs. Growing it is a decision, not an accident."""

from __future__ import annotations

from pathlib import Path

from loopml.store import Store

FACADE = {"artifacts", "close", "db_url", "engine", "open", "session"}
REPOSITORIES = {
    "datasets": {"add", "get", "list"},
    "runs": {"start", "log", "finish", "get", "list"},
    "models": {"register", "get", "list", "set_alias", "remove_alias", "archive", "set_note"},
    "deployments": {"get", "save", "list_events"},
    "monitoring": {
        "add_windows",
        "list_windows",
        "add_alert",
        "confirm_alert",
        "list_alerts",
        "ack_alert",
        "resolve_alerts",
    },
    "incidents": {"open", "update", "resolve", "list"},
    "feedback": {"add", "labels", "list", "count"},
    "audit": {"add", "list"},
}


def public(obj: object) -> set[str]:
    return {name for name in dir(obj) if not name.startswith("_")}


def test_the_store_is_a_facade_over_its_repositories(tmp_path: Path) -> None:
    with Store(f"sqlite:///{tmp_path / 'loopml.db'}", tmp_path / "artifacts") as store:
        assert public(store) == FACADE | set(REPOSITORIES)
        for name, verbs in REPOSITORIES.items():
            assert public(getattr(store, name)) == verbs, name
