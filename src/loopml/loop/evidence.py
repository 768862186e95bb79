"""Gathering the evidence the policy weighs (:class:`~loopml.loop.triggers.Evidence`): from a
model package and its monitoring windows (the simulation's, in memory), or from the store (the
daemon's, :func:`gather`)."""

from __future__ import annotations

from loopml.data.versions import get_version
from loopml.loop.triggers import Evidence, labelled
from loopml.modeling.importance import importance_shares
from loopml.monitoring.windows import Windowing
from loopml.registry import Package, load_package
from loopml.spec import Spec
from loopml.store import Store, WindowRecord


def evidence_of(
    spec: Spec,
    package: Package,
    windows: list[WindowRecord],
    *,
    training_rows: int | None = None,
) -> Evidence:
    """What ``package``'s ``windows`` (its own are kept) and its registration record say.

    The labelled rows it did not train on are those of its own windows: every window of a model
    version is later than the data it was trained on. Its training rows are its dataset
    version's (``training_rows``; default: its splits' sizes). Its quality at registration is
    its primary metric on the test split."""
    meta = package.meta
    ref = package.record.ref
    mine = sorted((w for w in windows if w.model_version == ref), key=lambda w: w.start)
    sizes = meta.lineage.sizes or {}
    reference = (meta.metrics.get("test") or {}).get(spec.metric.name)
    return Evidence(
        model=ref,
        metric=spec.metric.name,
        greater_is_better=spec.metric.greater_is_better,
        new_labels=sum(labelled(w) for w in mine),
        training_rows=training_rows if training_rows is not None else sum(sizes.values()),
        reference=reference,
        reference_rows=sizes.get("test"),
        importance=importance_shares(package.model),
        windows=mine,
        drift_psi=spec.monitoring.drift.psi,
    )


def gather(store: Store, spec: Spec, stable: str) -> Evidence:
    """The evidence on ``stable`` in the store: its windows of the spec's window size since it
    was registered, its package, and its training dataset's size."""
    package = load_package(store, stable)
    dataset = get_version(store, package.meta.lineage.dataset).record
    windows = store.monitoring.list_windows(
        spec.name, size=Windowing.of(spec).name, since=package.record.created_at
    )
    return evidence_of(spec, package, windows, training_rows=dataset.n_rows)
