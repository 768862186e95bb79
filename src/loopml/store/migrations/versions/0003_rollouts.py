"""Rollouts: ``deployments.revision`` and the ``rollout_events`` table.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27

``revision`` makes deployment updates compare-and-set: every change bumps it and is written only
if the row still has the revision the writer read, so several server processes (each running the
rollout controller) never apply two decisions on top of one state. ``rollout_events`` keeps every
rollout decision (start, advance, hold, rollback, promote, pause, resume) with its evidence.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")  # spelled out, as in 0001
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add ``deployments.revision`` and create ``rollout_events``."""
    op.add_column(
        "deployments",
        sa.Column("revision", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_table(
        "rollout_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deployment", sa.String(128), nullable=False),
        sa.Column("rollout_id", sa.String(32), nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("model_ref", sa.String(160), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("checks", JSON, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rollout_events"),
    )
    op.create_index(
        "ix_rollout_events_deployment_rollout_id", "rollout_events", ["deployment", "rollout_id"]
    )


def downgrade() -> None:
    """Drop ``rollout_events`` and ``deployments.revision``."""
    op.drop_index("ix_rollout_events_deployment_rollout_id", table_name="rollout_events")
    op.drop_table("rollout_events")
    with op.batch_alter_table("deployments") as batch:
        batch.drop_column("revision")
