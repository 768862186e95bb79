"""The metadata store (SQLAlchemy + Alembic) and the artifact folder (fsspec).

``Store(db_url, artifact_root)`` or ``Store.open(home)`` is the entry point; it returns plain
frozen records (``DatasetRecord``, ``RunRecord``, ``ModelRecord``) and exposes
``store.artifacts`` and ``store.session()`` for stages that need their own tables.
SQLite (WAL) is the default; PostgreSQL via ``LOOPML_DB_URL``.
"""

from loopml.store._audit import AuditRecord
from loopml.store._deployments import DeploymentRecord, RolloutEventRecord
from loopml.store._engine import mask_url
from loopml.store._feedback import FeedbackRecord
from loopml.store._monitoring import AlertRecord, WindowRecord
from loopml.store._store import Store
from loopml.store.artifacts import Artifacts
from loopml.store.records import DatasetRecord, ModelRecord, RunRecord, check_name

__all__ = [
    "AlertRecord",
    "Artifacts",
    "AuditRecord",
    "DatasetRecord",
    "DeploymentRecord",
    "FeedbackRecord",
    "ModelRecord",
    "RolloutEventRecord",
    "RunRecord",
    "Store",
    "WindowRecord",
    "check_name",
    "mask_url",
]
