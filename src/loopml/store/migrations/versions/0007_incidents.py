"""Monitoring: the ``incidents`` table.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03

An incident groups the alerts that fire together — one rule family on one model version's
windows — from the window that opened it until its condition clears or its model version stops
serving, so a drifting season reads as one story rather than one alert per feature and window.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")  # spelled out, as in 0001
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create ``incidents``."""
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deployment", sa.String(128), nullable=False),
        sa.Column("model_version", sa.String(160), nullable=False),
        sa.Column("size", sa.String(32), nullable=False),
        sa.Column("family", sa.String(128), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("evidence", JSON, nullable=False),
        sa.Column("first_window", TIMESTAMP, nullable=False),
        sa.Column("last_window", TIMESTAMP, nullable=False),
        sa.Column("opened_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("resolved_at", TIMESTAMP, nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_incidents"),
    )
    op.create_index("ix_incidents_deployment_status", "incidents", ["deployment", "status"])


def downgrade() -> None:
    """Drop ``incidents``."""
    op.drop_index("ix_incidents_deployment_status", table_name="incidents")
    op.drop_table("incidents")
