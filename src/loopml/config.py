"""Settings read from the environment, in one place, cast to types with clear errors.

Explicit arguments always win; these are the defaults behind them.

- ``LOOPML_HOME``: the project's state folder (default ``.loopml`` in the working directory).
- ``LOOPML_DB_URL``: a SQLAlchemy URL for the metadata database (default: SQLite file
  ``$LOOPML_HOME/loopml.db``); e.g. ``postgresql+psycopg://user@host/db``.
- ``LOOPML_ARTIFACTS``: a folder or fsspec URL for artifacts (default ``$LOOPML_HOME/artifacts``).

Reports (run reports, model cards, monitoring reports) go to ``$LOOPML_HOME/reports``.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    """Where the store lives, and where reports are written."""

    home: Path
    db_url: str
    artifact_root: str
    reports_dir: Path
    db_file: Path | None = None  # the default SQLite file, when LOOPML_DB_URL names no other

    @classmethod
    def from_env(cls, home: str | Path | None = None) -> Settings:
        """Settings from explicit ``home`` or the ``LOOPML_*`` environment variables."""
        base = Path(home or os.environ.get("LOOPML_HOME") or ".loopml")
        url = os.environ.get("LOOPML_DB_URL")
        db_file = None if url else base / "loopml.db"
        db_url = url or f"sqlite:///{(base / 'loopml.db').resolve()}"
        artifacts = os.environ.get("LOOPML_ARTIFACTS") or str((base / "artifacts").resolve())
        return cls(
            home=base,
            db_url=db_url,
            artifact_root=artifacts,
            reports_dir=base / "reports",
            db_file=db_file,
        )


@dataclass(frozen=True)
class ServeSettings:
    """What each server process is built from (``loopml serve`` passes it to every worker).

    - ``LOOPML_SPEC``: the project spec (default ``loopml.yaml``).
    - ``LOOPML_SERVE_MODEL``: the model to serve (default: the deployment, as the store says).
    - ``LOOPML_ADMIN_TOKEN``: bearer token for admin endpoints (off when unset).
    - ``LOOPML_PREDICTION_TOKEN``: bearer token for prediction endpoints (open when unset).
    - ``LOOPML_FEEDBACK_TOKEN``: bearer token for ``/feedback`` (unset: the prediction token is
      asked instead). The admin token is always accepted there too, and with any token set,
      anonymous feedback is refused: labels become training data.

    ``host`` is the address the server binds (``--host``): the dashboard answers requests for
    it. ``form_secret`` signs the dashboard's CSRF tokens: made fresh with the settings (once per
    ``loopml serve``) and handed to every worker with them, so a page one worker served may post
    to another.
    """

    spec: Path
    model: str | None
    admin_token: str | None
    prediction_token: str | None
    feedback_token: str | None = None
    host: str | None = None
    form_secret: bytes = field(
        default_factory=lambda: secrets.token_bytes(32), repr=False, compare=False
    )

    @property
    def tokens(self) -> list[str]:
        """Every configured token (none: the server is open to anyone who can reach it)."""
        given = (self.admin_token, self.prediction_token, self.feedback_token)
        return [token for token in given if token]

    @classmethod
    def from_env(
        cls,
        *,
        spec: Path | None = None,
        model: str | None = None,
        admin_token: str | None = None,
        prediction_token: str | None = None,
        feedback_token: str | None = None,
        host: str | None = None,
    ) -> ServeSettings:
        """Settings from the explicit arguments given, else the ``LOOPML_*`` variables."""
        return cls(
            spec=spec or Path(os.environ.get("LOOPML_SPEC") or "loopml.yaml"),
            model=model or os.environ.get("LOOPML_SERVE_MODEL") or None,
            admin_token=admin_token or os.environ.get("LOOPML_ADMIN_TOKEN") or None,
            prediction_token=prediction_token or os.environ.get("LOOPML_PREDICTION_TOKEN") or None,
            feedback_token=feedback_token or os.environ.get("LOOPML_FEEDBACK_TOKEN") or None,
            host=host,
        )
