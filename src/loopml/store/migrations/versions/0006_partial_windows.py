"""Monitoring: ``monitor_windows.partial``, the open window.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03

The window still open is computed on every pass, so alerts need not wait for it to close; it is
stored with ``partial`` true and replaced (same key) until it closes. Windows stored before this
revision were all closed: the column defaults to false.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``monitor_windows.partial`` (false for every stored window)."""
    op.add_column(
        "monitor_windows",
        sa.Column("partial", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    """Drop ``monitor_windows.partial``."""
    with op.batch_alter_table("monitor_windows") as batch:
        batch.drop_column("partial")
