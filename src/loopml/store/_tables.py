"""The metadata tables, as SQLAlchemy 2 declarative models.

These models are what the code queries; the Alembic migrations under ``migrations/versions`` are
what creates the tables. The two must agree: ``tests/test_store.py`` compares them with Alembic's
autogenerate diff on every backend, so a column added here without a migration fails the suite.

Conventions:

- JSON columns are JSONB on PostgreSQL and JSON (text) on SQLite (:data:`JSONType`).
- Timestamps are stored as UTC and always come back timezone-aware (:class:`UTCDateTime`), even
  on SQLite, which keeps no time zone.
- Constraint names follow :data:`NAMING_CONVENTION`, so later migrations can drop or alter them by
  name (SQLite batch mode needs names).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JSONType = JSON().with_variant(JSONB(), "postgresql")
"""JSONB on PostgreSQL (indexable, compact), JSON text on SQLite."""


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC that always reads back timezone-aware.

    Naive datetimes are rejected on write: a naive time is ambiguous, and guessing its zone is how
    lineage timestamps end up hours off.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"expected a timezone-aware datetime, got naive {value!r}")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base for every loopml table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


Json = dict[str, Any]


class Dataset(Base):
    """An immutable dataset version: a content-addressed snapshot plus its schema and profile."""

    __tablename__ = "datasets"
    __table_args__ = (
        UniqueConstraint("name", "version"),
        UniqueConstraint("name", "content_hash"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(128))
    n_rows: Mapped[int] = mapped_column(Integer)
    n_columns: Mapped[int] = mapped_column(Integer)
    schema: Mapped[Json] = mapped_column(JSONType)
    profile: Mapped[Json] = mapped_column(JSONType)
    snapshot_uri: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Run(Base):
    """One training, tuning or retraining run and everything needed to reproduce it.

    A run may have a parent: a training run records one child run per candidate or tuning trial.
    ``dataset_ref`` (``flights@3``) repeats what ``dataset_id`` points at so listings need no join.
    """

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # train / tune / retrain / candidate / trial
    status: Mapped[str] = mapped_column(String(32))  # running / finished / failed
    params: Mapped[Json] = mapped_column(JSONType, default=dict)
    metrics: Mapped[Json] = mapped_column(JSONType, default=dict)
    dataset_id: Mapped[int | None] = mapped_column(ForeignKey("datasets.id"))
    dataset_ref: Mapped[str | None] = mapped_column(String(160))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"), index=True)
    code_version: Mapped[str | None] = mapped_column(String(128))
    environment: Mapped[Json] = mapped_column(JSONType, default=dict)
    spec: Mapped[Json] = mapped_column(JSONType, default=dict)
    artifacts: Mapped[Json] = mapped_column(JSONType, default=dict)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)


class Model(Base):
    """A registered model version: a checksummed package produced by a run."""

    __tablename__ = "models"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
    package_uri: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    metrics: Mapped[Json] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(32), default="registered")  # registered / archived
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ModelAlias(Base):
    """A movable name (``champion``, ``challenger``) pointing at one version of a model."""

    __tablename__ = "model_aliases"
    __table_args__ = (UniqueConstraint("name", "alias"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    alias: Mapped[str] = mapped_column(String(64))
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"))


class Deployment(Base):
    """What a named deployment serves: stable, canary (at a weight) and shadow model versions."""

    __tablename__ = "deployments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    stable_model_id: Mapped[int | None] = mapped_column(ForeignKey("models.id"))
    canary_model_id: Mapped[int | None] = mapped_column(ForeignKey("models.id"))
    shadow_model_id: Mapped[int | None] = mapped_column(ForeignKey("models.id"))
    canary_weight: Mapped[float] = mapped_column(Float, default=0.0)
    state: Mapped[Json] = mapped_column(JSONType, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class RolloutEvent(Base):
    """One rollout decision (start, advance, hold, rollback, promote, pause, resume) and its
    evidence: each check's measured value beside its threshold."""

    __tablename__ = "rollout_events"
    __table_args__ = (Index(None, "deployment", "rollout_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deployment: Mapped[str] = mapped_column(String(128))
    rollout_id: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    action: Mapped[str] = mapped_column(String(16))
    model_ref: Mapped[str] = mapped_column(String(160))
    weight: Mapped[float] = mapped_column(Float)
    message: Mapped[str] = mapped_column(Text)
    checks: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    actor: Mapped[str] = mapped_column(String(64))


class Alert(Base):
    """A fired monitoring alert, with the evidence that triggered it."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deployment: Mapped[str | None] = mapped_column(String(128))
    rule: Mapped[str] = mapped_column(String(128))
    severity: Mapped[str] = mapped_column(String(16))
    metric: Mapped[str] = mapped_column(String(128))
    feature: Mapped[str | None] = mapped_column(String(256))
    value: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float | None] = mapped_column(Float)
    evidence: Mapped[Json] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open / acked
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Incident(Base):
    """What fired together: one rule family (``drift``, ``unseen``, ``error_rate``) on one
    model version's windows of one size, from the window that opened it until it resolves.
    ``evidence`` holds its features, ranked, its alerts' ids and its windows."""

    __tablename__ = "incidents"
    __table_args__ = (Index(None, "deployment", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deployment: Mapped[str] = mapped_column(String(128))
    model_version: Mapped[str] = mapped_column(String(160))
    size: Mapped[str] = mapped_column(String(32))
    family: Mapped[str] = mapped_column(String(128))
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="open")  # open / resolved
    title: Mapped[str] = mapped_column(Text)
    evidence: Mapped[Json] = mapped_column(JSONType, default=dict)
    first_window: Mapped[datetime] = mapped_column(UTCDateTime)
    last_window: Mapped[datetime] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution: Mapped[str | None] = mapped_column(Text)


class MonitorWindow(Base):
    """One window of logged predictions of one model version, with its metrics.

    ``size`` names the windowing (``1h``, or ``2000rows`` for count windows), so windows of
    several sizes can be kept side by side; ``metrics`` is flat (``missing_fraction.temp``),
    ``details`` holds what charts need (drift per feature, histograms, slices). ``partial``
    marks the open window (not yet closed): it is replaced on every pass until it closes.
    """

    __tablename__ = "monitor_windows"
    __table_args__ = (UniqueConstraint("deployment", "model_version", "size", "start"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deployment: Mapped[str] = mapped_column(String(128))
    model_version: Mapped[str] = mapped_column(String(160))
    size: Mapped[str] = mapped_column(String(32))
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime] = mapped_column(UTCDateTime)
    rows: Mapped[int] = mapped_column(Integer)
    metrics: Mapped[Json] = mapped_column(JSONType, default=dict)
    details: Mapped[Json] = mapped_column(JSONType, default=dict)
    partial: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEntry(Base):
    """One decision of the maintenance loop (or a person acting through it) and its evidence."""

    __tablename__ = "audit_log"
    __table_args__ = (Index(None, "deployment", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deployment: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    action: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    evidence: Mapped[Json] = mapped_column(JSONType, default=dict)
    model_ref: Mapped[str | None] = mapped_column(String(160))
    actor: Mapped[str] = mapped_column(String(64))


class Feedback(Base):
    """Ground truth that arrived after the prediction, keyed by the prediction's request id."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[str] = mapped_column(String(64), index=True)
    label: Mapped[Any] = mapped_column(JSONType)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


__all__ = [
    "NAMING_CONVENTION",
    "Alert",
    "Base",
    "Dataset",
    "Deployment",
    "Feedback",
    "JSONType",
    "Model",
    "ModelAlias",
    "MonitorWindow",
    "RolloutEvent",
    "Run",
    "UTCDateTime",
    "utcnow",
]
