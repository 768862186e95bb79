"""Runs for experiment tracking: ``runs.parent_id`` (child runs) and ``runs.dataset_ref``.

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-15

``parent_id`` links a candidate or tuning-trial run to the training run it belongs to (indexed,
for "the children of run 12"); ``dataset_ref`` keeps ``name@version`` of the training data so
run listings need no join.

On SQLite the foreign key is declared inline with ``ALTER TABLE ... ADD COLUMN ... REFERENCES``
rather than with Alembic's batch mode: batch mode rebuilds ``runs`` (copy, drop, rename), and
dropping ``runs`` fails while ``models`` rows reference it, because foreign keys are enforced
and cannot be switched off inside the transaction the upgrade runs in. SQLite keeps no name for
an inline foreign key; a later migration that must drop it can drop the column instead (SQLite
3.35 or newer drops a column together with its own ``REFERENCES`` clause), as ``downgrade`` does.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _is_sqlite() -> bool:
    return op.get_context().dialect.name == "sqlite"


def upgrade() -> None:
    """Add ``runs.parent_id`` (foreign key to ``runs.id``, indexed) and ``runs.dataset_ref``."""
    if _is_sqlite():
        op.execute(
            "ALTER TABLE runs ADD COLUMN parent_id INTEGER "
            "CONSTRAINT fk_runs_parent_id_runs REFERENCES runs (id)"
        )
    else:
        op.add_column("runs", sa.Column("parent_id", sa.Integer(), nullable=True))
        op.create_foreign_key("fk_runs_parent_id_runs", "runs", "runs", ["parent_id"], ["id"])
    op.create_index("ix_runs_parent_id", "runs", ["parent_id"])
    op.add_column("runs", sa.Column("dataset_ref", sa.String(160), nullable=True))


def downgrade() -> None:
    """Drop both columns (and the index and foreign key on ``parent_id``); the runs stay."""
    op.drop_column("runs", "dataset_ref")
    op.drop_index("ix_runs_parent_id", table_name="runs")
    if not _is_sqlite():
        op.drop_constraint("fk_runs_parent_id_runs", "runs", type_="foreignkey")
    op.drop_column("runs", "parent_id")
