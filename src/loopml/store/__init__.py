"""The metadata store (SQLAlchemy + Alembic) and the artifact folder (fsspec).

``Store(db_url, artifact_root)`` or ``Store.open(home)`` is the entry point: a thin facade
(``_store``) that connects, upgrades the schema (``_migrate``, ``migrations/``) and holds the
artifact folder (``store.artifacts``, :mod:`.artifacts`), over one repository per concern, each
in its own module:

- ``store.datasets`` (:mod:`.datasets`): dataset versions;
- ``store.runs`` (:mod:`.runs`): experiment tracking;
- ``store.models`` (:mod:`.models`): the registry's versions, aliases and archiving;
- ``store.deployments`` (:mod:`.deployments`): what each deployment serves, rollout decisions;
- ``store.monitoring`` (:mod:`.monitoring`): monitoring windows and alerts;
- ``store.incidents`` (:mod:`.incidents`): alerts that fired together, as one incident;
- ``store.feedback`` (:mod:`.feedback`): labels by request id;
- ``store.audit`` (:mod:`.audit`): the maintenance loop's decisions.

Leases (:mod:`.leases`: one retrain at a time per deployment) are kept in the deployment's state,
compare-and-set; :mod:`.records` holds the records shared by several repositories and the checks
of references like ``flights@3``.

They return plain frozen records (``DatasetRecord``, ``RunRecord``, ``ModelRecord``, …). The
repositories share the engine and its sessions (``_engine``: WAL, ``BEGIN IMMEDIATE``, the
retrying write), the input checks (``_checks``) and the ORM tables (``_tables``);
``store.session()`` serves stages with queries of their own. SQLite (WAL) is the default;
PostgreSQL via ``LOOPML_DB_URL``.
"""

from loopml.store._engine import mask_url
from loopml.store._store import Store
from loopml.store.artifacts import Artifacts
from loopml.store.audit import AuditRecord
from loopml.store.deployments import DeploymentRecord, RolloutEventRecord
from loopml.store.feedback import FeedbackRecord
from loopml.store.incidents import IncidentRecord
from loopml.store.monitoring import AlertRecord, WindowRecord
from loopml.store.records import DatasetRecord, ModelRecord, RunRecord, check_name

__all__ = [
    "AlertRecord",
    "Artifacts",
    "AuditRecord",
    "DatasetRecord",
    "DeploymentRecord",
    "FeedbackRecord",
    "IncidentRecord",
    "ModelRecord",
    "RolloutEventRecord",
    "RunRecord",
    "Store",
    "WindowRecord",
    "check_name",
    "mask_url",
]
