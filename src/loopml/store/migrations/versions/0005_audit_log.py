"""Maintenance: the ``audit_log`` table.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27

Every decision the maintenance loop takes (a trigger seen, a retrain started, skipped, gated,
proposed, approved, rolled out, or failed) is one row with a sentence a person can read and the
evidence behind it, so ``loopml audit`` and the dashboard can show why a model changed.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")  # spelled out, as in 0001
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create ``audit_log``."""
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deployment", sa.String(128), nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("evidence", JSON, nullable=False),
        sa.Column("model_ref", sa.String(160), nullable=True),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_deployment_at", "audit_log", ["deployment", "at"])


def downgrade() -> None:
    """Drop ``audit_log``."""
    op.drop_index("ix_audit_log_deployment_at", table_name="audit_log")
    op.drop_table("audit_log")
