"""Leases on a deployment: one holder at a time, typed, kept in the deployment's state."""

from __future__ import annotations

from datetime import timedelta

import pytest

from loopml.errors import StoreError
from loopml.store import Store
from loopml.store.leases import Lease, leases, release_lease, take_lease

HOUR = timedelta(hours=1)


def test_one_holder_at_a_time_until_it_gives_the_lease_back(store: Store) -> None:
    assert take_lease(store, "flights", "retrain", "loop A", ttl=HOUR) is None
    other = take_lease(store, "flights", "retrain", "loop B", ttl=HOUR)
    assert isinstance(other, Lease) and (other.name, other.holder) == ("retrain", "loop A")
    assert other.until - other.since == HOUR
    assert take_lease(store, "flights", "retrain", "loop A", ttl=2 * HOUR) is None  # renewed
    release_lease(store, "flights", "retrain", "loop B")  # not the holder: nothing happens
    assert leases(store.deployments.get("flights"))["retrain"].holder == "loop A"
    release_lease(store, "flights", "retrain", "loop A")
    assert leases(store.deployments.get("flights")) == {}
    assert take_lease(store, "flights", "retrain", "loop B", ttl=HOUR) is None


def test_a_lease_run_out_is_taken_over(store: Store) -> None:
    assert take_lease(store, "flights", "retrain", "a dead loop", ttl=-HOUR) is None
    assert take_lease(store, "flights", "retrain", "loop B", ttl=HOUR) is None
    assert leases(store.deployments.get("flights"))["retrain"].holder == "loop B"


def test_leases_keep_the_rest_of_the_deployment(store: Store) -> None:
    record = store.deployments.get("flights")
    saved = store.deployments.save(record, stable=None, state={"rollout": {"id": "r1"}})
    assert saved is not None
    take_lease(store, "flights", "retrain", "loop A", ttl=HOUR)
    take_lease(store, "flights", "report", "loop A", ttl=HOUR)
    release_lease(store, "flights", "report", "loop A")
    state = store.deployments.get("flights").state
    assert state["rollout"] == {"id": "r1"} and set(state["leases"]) == {"retrain"}
    assert set(state["leases"]["retrain"]) == {"holder", "since", "until"}


def test_an_unreadable_lease_says_what_it_holds(store: Store) -> None:
    record = store.deployments.get("flights")
    store.deployments.save(record, stable=None, state={"leases": {"retrain": {"holder": "x"}}})
    with pytest.raises(StoreError, match=r"lease 'retrain'.*expected holder, since and until"):
        take_lease(store, "flights", "retrain", "loop A", ttl=HOUR)
