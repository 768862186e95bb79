"""Runs: experiment tracking for training, tuning and retraining.

A run is started (``status="running"``), may log params, metrics and artifacts while it runs,
and is finished exactly once, as ``finished`` or ``failed`` (with the error). What it did (params,
metrics) is then fixed; artifacts made from it afterwards (a report, a model card) may still be
added with ``store.runs.log``. A training run records one child run (``parent_id``) per candidate
or tuning trial, so ``store.runs.list(top_level=True)`` shows what a user launched and
``store.runs.list(parent_id=12)`` what run 12 tried.

``params``, ``metrics`` and ``artifacts`` are merged, not replaced: each write updates the stored
dict with the keys given (a shallow update), so a trainer can log as it goes. The run's row is
read ``FOR UPDATE`` (PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already serializes writers), so
two processes logging into one run never lose each other's keys, and a run cannot be finished
twice.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from loopml.errors import NotFoundError, StoreError
from loopml.store._checks import check_dict, check_text
from loopml.store._engine import Repository
from loopml.store._tables import Dataset, Run, utcnow
from loopml.store.records import RunRecord

END_STATUSES = ("finished", "failed")
KIND_PATTERN = re.compile(r"[a-z][a-z0-9_-]{0,31}")
_MERGED = ("params", "metrics", "artifacts")


def check_id(value: int | str, what: str = "run id") -> int:
    """``value`` as a positive integer id (``12`` or ``"12"``), else :class:`StoreError`."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*[0-9]+\s*", value) and int(value) >= 1:
        return int(value)
    raise StoreError(f"expected a {what} (a positive integer such as 12), got {value!r}")


def run_not_found(session: Session, run_id: int, *, what: str = "run") -> NotFoundError:
    """A :class:`NotFoundError` for ``run_id`` that shows the newest run ids."""
    newest = list(session.scalars(select(Run.id).order_by(Run.id.desc()).limit(5)))
    if not newest:
        return NotFoundError(
            f"no {what} with id {run_id}: the store has no runs yet; "
            "runs are recorded by training (`loopml train`)"
        )
    return NotFoundError(f"no {what} with id {run_id} (newest runs: {', '.join(map(str, newest))})")


def _check_run_name(name: str) -> str:
    # Runs are referenced by id, not by name, so names may hold '/' ("delays/lightgbm") or spaces.
    if not isinstance(name, str) or not name.strip() or len(name) > 128 or not name.isprintable():
        raise StoreError(
            f"invalid run name {name!r}: expected 1-128 printable characters, not all spaces "
            "(e.g. 'delays' or 'delays/lightgbm')"
        )
    return name


def _check_kind(kind: str) -> str:
    if not isinstance(kind, str) or not KIND_PATTERN.fullmatch(kind):
        raise StoreError(
            f"invalid run kind {kind!r}: expected 1-32 lowercase letters, digits, '_' or '-', "
            "starting with a letter (e.g. 'train', 'tune', 'retrain', 'candidate', 'trial')"
        )
    return kind


def _merge(row: Run, updates: dict[str, dict[str, Any]]) -> None:
    for field, update in updates.items():
        if update:  # assign a new dict: in-place changes to a JSON column are not tracked
            setattr(row, field, {**getattr(row, field), **update})


def _stored(session: Session, row: Run) -> RunRecord:
    session.flush()
    session.refresh(row)  # return what was stored (e.g. NaN reads back as null)
    return RunRecord.from_row(row)


class Runs(Repository):
    """Experiment tracking, as ``store.runs``: start, log, finish, get and list runs."""

    def start(
        self,
        *,
        name: str,
        kind: str,
        params: dict[str, Any] | None = None,
        dataset_id: int | None = None,
        dataset_ref: str | None = None,
        code_version: str | None = None,
        environment: dict[str, Any] | None = None,
        spec: dict[str, Any] | None = None,
        parent_id: int | None = None,
    ) -> RunRecord:
        """Record a new run with ``status="running"`` and return it.

        ``dataset_ref`` (e.g. ``flights@3``) is filled in from ``dataset_id`` when only the id is
        given; when both are given they must name the same dataset version. ``parent_id`` makes
        this a child run (a candidate or trial) of an existing run.
        """
        _check_run_name(name)
        _check_kind(kind)
        values = {
            field: check_dict(value, field)
            for field, value in (("params", params), ("environment", environment), ("spec", spec))
        }
        check_text(dataset_ref, "dataset_ref", max_length=160)
        check_text(code_version, "code_version", max_length=128)
        dataset = None if dataset_id is None else check_id(dataset_id, "dataset id")
        parent = None if parent_id is None else check_id(parent_id, "parent run id")

        def start(session: Session) -> RunRecord:
            ref = dataset_ref
            if dataset is not None:
                row = session.get(Dataset, dataset)
                if row is None:
                    raise NotFoundError(
                        f"no dataset with id {dataset} for run '{name}'; pass the id of a stored "
                        "dataset version (store.datasets.get('flights@3').id) or leave it out"
                    )
                ref = ref or f"{row.name}@{row.version}"
                if ref != f"{row.name}@{row.version}":
                    raise StoreError(
                        f"dataset_ref {ref!r} does not match dataset_id {dataset}, which is "
                        f"'{row.name}@{row.version}'; pass only dataset_id, or both agreeing"
                    )
            if parent is not None and session.get(Run, parent) is None:
                raise run_not_found(session, parent, what="parent run")
            run = Run(
                name=name,
                kind=kind,
                status="running",
                metrics={},
                artifacts={},
                dataset_id=dataset,
                dataset_ref=ref,
                code_version=code_version,
                started_at=utcnow(),
                parent_id=parent,
                **values,
            )
            session.add(run)
            return _stored(session, run)

        return self._db.write(f"start run '{name}'", start)

    def _locked(self, session: Session, run_id: int, action: str, *, running: bool) -> Run:
        """The run's row, locked for update; :class:`StoreError` if ``running`` and it ended."""
        row = session.scalars(select(Run).where(Run.id == run_id).with_for_update()).first()
        if row is None:
            raise run_not_found(session, run_id)
        if running and row.status != "running":
            ended = f" at {row.ended_at:%Y-%m-%d %H:%M:%S} UTC" if row.ended_at else ""
            raise StoreError(
                f"cannot {action} run {run_id} ('{row.name}'): it already ended as "
                f"'{row.status}'{ended}; a run ends once, so start a new run to record more"
            )
        return row

    def log(
        self,
        run_id: int,
        *,
        metrics: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        artifacts: dict[str, Any] | None = None,
    ) -> RunRecord:
        """Merge ``metrics``, ``params`` and ``artifacts`` into a run; return it.

        Params and metrics are what the run did, so they can be logged only while it runs;
        artifacts made from a run after it ended (a report, a model card) can be added later.
        """
        rid = check_id(run_id)
        updates = {
            field: check_dict(value, field)
            for field, value in zip(_MERGED, (params, metrics, artifacts), strict=True)
        }

        def log(session: Session) -> RunRecord:
            results = bool(updates["params"] or updates["metrics"])
            action = "log params or metrics to" if results else "log to"
            row = self._locked(session, rid, action, running=results)
            _merge(row, updates)
            return _stored(session, row)

        return self._db.write(f"log to run {rid}", log)

    def finish(
        self,
        run_id: int,
        *,
        status: str = "finished",
        metrics: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        artifacts: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> RunRecord:
        """End a running run as ``finished`` or ``failed`` (with ``error``), merging the dicts.

        Sets ``ended_at``. Finishing a run that already ended raises :class:`StoreError`.
        """
        rid = check_id(run_id)
        if status not in END_STATUSES:
            raise StoreError(f"a run finishes as 'finished' or 'failed', got status {status!r}")
        check_text(error, "error")
        if error is not None and status != "failed":
            raise StoreError(
                f"error is recorded only for failed runs, but status is {status!r}; pass "
                "status='failed' with the error, or leave error out"
            )
        updates = {
            field: check_dict(value, field)
            for field, value in zip(_MERGED, (params, metrics, artifacts), strict=True)
        }

        def finish(session: Session) -> RunRecord:
            row = self._locked(session, rid, "finish", running=True)
            _merge(row, updates)
            row.status = status
            row.error = error
            row.ended_at = utcnow()
            return _stored(session, row)

        return self._db.write(f"finish run {rid}", finish)

    def get(self, run_id: int | str) -> RunRecord:
        """The run with id ``run_id`` (``12`` or ``"12"``); :class:`NotFoundError` if none."""
        rid = check_id(run_id)
        with self._db.session(write=False) as session:
            row = session.get(Run, rid)
            if row is None:
                raise run_not_found(session, rid)
            return RunRecord.from_row(row)

    def list(
        self,
        *,
        name: str | None = None,
        kind: str | None = None,
        parent_id: int | None = None,
        top_level: bool = False,
        limit: int | None = None,
    ) -> list[RunRecord]:
        """Runs, newest first, optionally only those with ``name``, ``kind`` or ``parent_id``.

        ``top_level=True`` keeps only runs without a parent (what users launched);
        ``parent_id=12`` only the children of run 12. ``limit`` caps the number returned.
        """
        query = select(Run).order_by(Run.id.desc())
        if name is not None:
            query = query.where(Run.name == name)
        if kind is not None:
            query = query.where(Run.kind == kind)
        if parent_id is not None:
            if top_level:
                raise StoreError(
                    "pass either parent_id (the children of one run) or top_level=True (runs "
                    "without a parent), not both"
                )
            query = query.where(Run.parent_id == check_id(parent_id, "parent run id"))
        if top_level:
            query = query.where(Run.parent_id.is_(None))
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
                raise StoreError(f"limit must be a positive integer or None, got {limit!r}")
            query = query.limit(limit)
        with self._db.session(write=False) as session:
            return [RunRecord.from_row(row) for row in session.scalars(query)]
