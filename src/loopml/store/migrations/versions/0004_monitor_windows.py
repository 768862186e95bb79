"""Monitoring: the ``monitor_windows`` table and the alert's deployment.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27

A monitoring window is computed once and kept, so ``loopml monitor status``, the report and the
dashboard read metrics instead of re-reading the prediction log; ``(deployment, model_version,
size, start)`` is unique, so a window computed twice is stored once.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")  # spelled out, as in 0001
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create ``monitor_windows``; add ``alerts.deployment``."""
    op.create_table(
        "monitor_windows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deployment", sa.String(128), nullable=False),
        sa.Column("model_version", sa.String(160), nullable=False),
        sa.Column("size", sa.String(32), nullable=False),
        sa.Column("start", TIMESTAMP, nullable=False),
        sa.Column("end", TIMESTAMP, nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("metrics", JSON, nullable=False),
        sa.Column("details", JSON, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_monitor_windows"),
        sa.UniqueConstraint(
            "deployment",
            "model_version",
            "size",
            "start",
            name="uq_monitor_windows_deployment_model_version_size_start",
        ),
    )
    op.add_column("alerts", sa.Column("deployment", sa.String(128), nullable=True))


def downgrade() -> None:
    """Drop ``monitor_windows`` and ``alerts.deployment``."""
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("deployment")
    op.drop_table("monitor_windows")
