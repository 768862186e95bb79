"""Models: the registry's metadata — numbered versions per name, movable aliases, archiving.

References name a version three ways: ``delays@3`` (a version), ``delays@champion`` (an alias)
and ``delays`` or ``delays@latest`` (the newest version that is not archived). Archiving keeps a
version's number and package but removes its aliases and takes it out of ``latest``, so only
``delays@3`` still reaches it.

Guarantees, on both backends:

- Versions are ``1, 2, …`` per name with no gaps, also when several processes register at once
  (``max(version) + 1`` under the unique ``(name, version)``; the loser of a race retries).
- An alias names at most one version (unique ``(name, alias)``); moving it is one update.
- An alias never points at an archived version: ``store.models.set_alias`` and ``archive`` lock
  the model's row (``FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), so they
  serialize.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from loopml.errors import NotFoundError, StoreError, did_you_mean
from loopml.store._checks import check_dict, check_text, unknown_name
from loopml.store._engine import Repository
from loopml.store._tables import Model, ModelAlias, Run, utcnow
from loopml.store.records import ModelRecord, check_alias, check_name
from loopml.store.runs import check_id, run_not_found

log = logging.getLogger(__name__)

SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")
_REF_HINT = "expected a model reference like 'delays', 'delays@3' or 'delays@champion'"

Selector = int | str | None  # a version, an alias, or None for the newest active version


def parse_model_ref(ref: str) -> tuple[str, Selector]:
    """Split ``name``, ``name@latest``, ``name@3`` or ``name@champion`` into (name, selector)."""
    if not isinstance(ref, str):
        raise StoreError(f"{_REF_HINT}, got {ref!r}")
    name, sep, selector = ref.partition("@")
    if not name:
        raise StoreError(f"{_REF_HINT}, got {ref!r}")
    check_name(name, what="model")
    if not sep or selector == "latest":
        return name, None
    if re.fullmatch(r"[0-9]+", selector):
        if int(selector) >= 1:
            return name, int(selector)
    else:
        try:
            return name, check_alias(selector)
        except StoreError:
            pass
    raise StoreError(
        f"invalid version or alias {selector!r} in {ref!r}: expected a version number "
        f"('{name}@3'), 'latest', or an alias of letters, digits, '_' or '-' ('{name}@champion')"
    )


def _aliases(session: Session, name: str | None = None) -> dict[int, list[str]]:
    """Alias names by model id (of one model name, or all), read in ``session``."""
    query = select(ModelAlias.model_id, ModelAlias.alias).order_by(ModelAlias.alias)
    if name is not None:
        query = query.where(ModelAlias.name == name)
    found: dict[int, list[str]] = defaultdict(list)
    for model_id, alias in session.execute(query):
        found[model_id].append(alias)
    return found


def _record(session: Session, row: Model) -> ModelRecord:
    session.flush()
    session.refresh(row)  # return what was stored (e.g. NaN reads back as null)
    return ModelRecord.from_row(row, _aliases(session, row.name).get(row.id, ()))


def _not_found(session: Session, name: str, selector: Selector) -> NotFoundError:
    """Why ``name@selector`` names nothing: unknown name, version or alias, or all archived."""
    rows = session.execute(
        select(Model.version, Model.status).where(Model.name == name).order_by(Model.version)
    ).all()
    if not rows:
        names = list(session.scalars(select(Model.name).distinct().order_by(Model.name)))
        return unknown_name(
            "model",
            name,
            names,
            "the registry has no models yet; training registers them (`loopml train`)",
        )
    versions = ", ".join(
        f"{version} (archived)" if status == "archived" else str(version)
        for version, status in rows[-20:]
    )
    aliases = session.execute(
        select(ModelAlias.alias, Model.version)
        .join(Model, Model.id == ModelAlias.model_id)
        .where(ModelAlias.name == name)
        .order_by(ModelAlias.alias)
    ).all()
    known = f"versions: {versions}; " + (
        "aliases: " + ", ".join(f"{alias} → {version}" for alias, version in aliases)
        if aliases
        else "no aliases"
    )
    if isinstance(selector, int):
        return NotFoundError(
            f"model '{name}' has no version {selector} ({known}); "
            f"use e.g. '{name}@{rows[-1][0]}' or '{name}@latest'"
        )
    if isinstance(selector, str):
        hint = did_you_mean(selector, [alias for alias, _ in aliases])
        return NotFoundError(f"model '{name}' has no alias '{selector}'{hint} ({known})")
    return NotFoundError(
        f"model '{name}' has no active version: every version is archived ({known}); "
        f"name one explicitly, e.g. '{name}@{rows[-1][0]}'"
    )


def _resolve(session: Session, ref: str, *, for_update: bool = False) -> Model:
    """The model row ``ref`` names (see the module doc), or :class:`NotFoundError`."""
    name, selector = parse_model_ref(ref)
    query = select(Model).where(Model.name == name)
    if isinstance(selector, int):
        query = query.where(Model.version == selector)
    elif isinstance(selector, str):
        query = query.join(ModelAlias, ModelAlias.model_id == Model.id).where(
            ModelAlias.name == name, ModelAlias.alias == selector
        )
    else:
        query = query.where(Model.status != "archived").order_by(Model.version.desc()).limit(1)
    if for_update:
        query = query.with_for_update(of=Model)
    row = session.scalars(query).first()
    if row is None:
        raise _not_found(session, name, selector)
    return row


class Models(Repository):
    """The model registry's metadata, as ``store.models``: versions, aliases, archiving."""

    def register(
        self,
        *,
        name: str,
        package_uri: str,
        sha256: str,
        run_id: int | None = None,
        metrics: dict[str, Any] | None = None,
        note: str | None = None,
    ) -> ModelRecord:
        """Record the next version of model ``name`` (1 for a new name) and return it.

        ``sha256`` is the package's SHA-256 as 64 hex digits (stored lowercase); ``run_id`` is
        the run that produced it. Safe when several processes register at once.
        """
        check_name(name, what="model")
        if not isinstance(package_uri, str) or not package_uri:
            raise StoreError(f"package_uri must be a non-empty string, got {package_uri!r}")
        digest = sha256.lower() if isinstance(sha256, str) else sha256
        if not isinstance(digest, str) or not SHA256_PATTERN.fullmatch(digest):
            raise StoreError(
                f"sha256 must be the package's SHA-256 as 64 hex digits, got {sha256!r}; "
                "compute it with hashlib.sha256(data).hexdigest()"
            )
        stored_metrics = check_dict(metrics, "metrics")
        check_text(note, "note")
        run = None if run_id is None else check_id(run_id)

        def register(session: Session) -> ModelRecord:
            if run is not None and session.get(Run, run) is None:
                raise run_not_found(session, run)
            latest = session.scalar(select(func.max(Model.version)).where(Model.name == name))
            row = Model(
                name=name,
                version=(latest or 0) + 1,
                run_id=run,
                package_uri=package_uri,
                sha256=digest,
                metrics=stored_metrics,
                status="registered",
                note=note,
                created_at=utcnow(),
            )
            session.add(row)
            return _record(session, row)

        return self._db.write(f"register model '{name}'", register)

    def get(self, ref: str) -> ModelRecord:
        """The model version ``ref`` names: ``delays@3``, ``delays@champion``, ``delays`` (newest
        active version) or ``delays@latest`` (the same).

        Raises :class:`NotFoundError` listing the known models (with a close match), or the
        model's versions and aliases.
        """
        with self._db.session(write=False) as session:
            row = _resolve(session, ref)
            return ModelRecord.from_row(row, _aliases(session, row.name).get(row.id, ()))

    def set_alias(self, name: str, alias: str, version: int) -> ModelRecord:
        """Point ``alias`` of model ``name`` at ``version`` (moving it if it pointed elsewhere).

        Returns the version now holding the alias. Archived versions cannot take an alias.
        """
        check_name(name, what="model")
        check_alias(alias)
        number = check_id(version, "model version")

        def move(session: Session) -> ModelRecord:
            row = session.scalars(
                select(Model).where(Model.name == name, Model.version == number).with_for_update()
            ).first()
            if row is None:
                raise _not_found(session, name, number)
            if row.status == "archived":
                raise StoreError(
                    f"cannot point alias '{alias}' at model '{name}@{number}': it is archived; "
                    "choose an active version (store.models.list(name))"
                )
            current = session.scalars(
                select(ModelAlias).where(ModelAlias.name == name, ModelAlias.alias == alias)
            ).first()
            if current is None:
                session.add(ModelAlias(name=name, alias=alias, model_id=row.id))
            elif current.model_id != row.id:
                current.model_id = row.id
            log.info("model '%s': alias '%s' now points at version %d", name, alias, number)
            return _record(session, row)

        return self._db.write(f"set alias '{alias}' of model '{name}'", move)

    def remove_alias(self, name: str, alias: str) -> None:
        """Remove ``alias`` from model ``name``; :class:`NotFoundError` if it has no such alias."""
        check_name(name, what="model")
        check_alias(alias)

        def remove(session: Session) -> None:
            row = session.scalars(
                select(ModelAlias).where(ModelAlias.name == name, ModelAlias.alias == alias)
            ).first()
            if row is None:
                raise _not_found(session, name, alias)
            session.delete(row)
            log.info("model '%s': alias '%s' removed", name, alias)

        self._db.write(f"remove alias '{alias}' of model '{name}'", remove)

    def archive(self, ref: str, *, note: str | None = None) -> ModelRecord:
        """Archive the version ``ref`` names: it keeps its number but loses its aliases and is
        no longer ``latest``. ``note`` (if given) replaces its note. Archiving an archived
        version changes nothing and returns it.
        """
        check_text(note, "note")

        def archive(session: Session) -> ModelRecord:
            row = _resolve(session, ref, for_update=True)
            if row.status == "archived":
                return _record(session, row)
            row.status = "archived"
            if note is not None:
                row.note = note
            session.execute(delete(ModelAlias).where(ModelAlias.model_id == row.id))
            log.info("model '%s@%d' archived", row.name, row.version)
            return _record(session, row)

        return self._db.write(f"archive model '{ref}'", archive)

    def set_note(self, ref: str, note: str) -> ModelRecord:
        """Replace the note of the version ``ref`` names; return it."""
        if not isinstance(note, str):
            raise StoreError(f"note must be a string, got {type(note).__name__}: {note!r:.80}")

        def annotate(session: Session) -> ModelRecord:
            row = _resolve(session, ref, for_update=True)
            row.note = note
            return _record(session, row)

        return self._db.write(f"set the note of model '{ref}'", annotate)

    def list(self, name: str | None = None, *, include_archived: bool = False) -> list[ModelRecord]:
        """Model versions (of every name, or of ``name``), ordered by name then version.

        Archived versions are left out unless ``include_archived=True``.
        """
        query = select(Model).order_by(Model.name, Model.version)
        if name is not None:
            query = query.where(Model.name == name)
        if not include_archived:
            query = query.where(Model.status != "archived")
        with self._db.session(write=False) as session:
            aliases = _aliases(session, name)
            return [
                ModelRecord.from_row(row, aliases.get(row.id, ())) for row in session.scalars(query)
            ]
