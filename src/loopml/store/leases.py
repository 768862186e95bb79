"""Leases: one holder at a time for a named job on a deployment (say, one ``retrain``).

A lease lives in the deployment's row (``state["leases"][name]``: holder, since, until), so every
process sharing the store sees it; taking and giving one back is compare-and-set on the row's
revision (:meth:`~loopml.store.deployments.Deployments.save`), so of several processes racing for a
lease exactly one gets it. A lease ends at ``until``: a holder that died frees it then. Taking
a lease keeps what the deployment serves and the rest of its state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from loopml.errors import StoreError

if TYPE_CHECKING:
    from loopml.store import DeploymentRecord, Store

_ATTEMPTS = 20


@dataclass(frozen=True)
class Lease:
    """Lease ``name`` held by ``holder`` from ``since`` until ``until`` (aware datetimes)."""

    name: str
    holder: str
    since: datetime
    until: datetime

    def live(self, now: datetime) -> bool:
        """Whether the lease still holds at ``now``."""
        return self.until > now

    def to_json(self) -> dict[str, str]:
        """The JSON the deployment's state keeps (times as ISO 8601 strings)."""
        return {
            "holder": self.holder,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
        }

    @classmethod
    def from_json(cls, name: str, data: dict[str, Any]) -> Lease:
        try:
            since, until = (datetime.fromisoformat(data[key]) for key in ("since", "until"))
            return cls(name, str(data["holder"]), since, until)
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreError(
                f"lease '{name}' in the deployment's state is unreadable ({exc!r}); expected "
                f"holder, since and until, got {data!r}"
            ) from exc


def leases(record: DeploymentRecord) -> dict[str, Lease]:
    """The leases recorded on the deployment (live or run out), by name."""
    return {
        name: Lease.from_json(name, data)
        for name, data in dict(record.state.get("leases") or {}).items()
    }


def take_lease(
    store: Store, deployment: str, name: str, holder: str, *, ttl: timedelta
) -> Lease | None:
    """Hold lease ``name`` on ``deployment`` for ``holder`` until ``ttl`` from now.

    Returns ``None`` once held (taken, or renewed by the same holder), or the live lease someone
    else holds (and takes nothing).
    """
    moment = datetime.now(UTC)
    other: list[Lease] = []

    def make(current: DeploymentRecord) -> dict[str, Any] | None:
        held = leases(current).get(name)
        if held is not None and held.holder != holder and held.live(moment):
            other.append(held)
            return None
        mine = Lease(name, holder, moment, moment + ttl)
        return {**dict(current.state.get("leases") or {}), name: mine.to_json()}

    _change_leases(store, deployment, make)
    return other[-1] if other else None


def release_lease(store: Store, deployment: str, name: str, holder: str) -> None:
    """Give lease ``name`` on ``deployment`` back, if ``holder`` still holds it."""

    def make(current: DeploymentRecord) -> dict[str, Any] | None:
        held = leases(current).get(name)
        if held is None or held.holder != holder:
            return None
        return {k: v for k, v in dict(current.state["leases"]).items() if k != name}

    _change_leases(store, deployment, make)


def _change_leases(
    store: Store, deployment: str, make: Callable[[DeploymentRecord], dict[str, Any] | None]
) -> None:
    """Replace the deployment's leases with ``make(current)`` (``None``: no change), keeping
    what it serves; compare-and-set, re-reading when another process wrote first."""
    for _ in range(_ATTEMPTS):
        current = store.deployments.get(deployment)
        changed = make(current)
        if changed is None:
            return
        saved = store.deployments.save(
            current,
            stable=current.stable,
            canary=current.canary,
            shadow=current.shadow,
            canary_weight=current.canary_weight,
            state={**current.state, "leases": changed},
        )
        if saved is not None:
            return
    raise StoreError(f"deployment '{deployment}' kept changing under {_ATTEMPTS} attempts; retry")
