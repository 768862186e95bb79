"""What every verb module shares: the consoles, the common options, ``--json`` output, and
opening the project's spec and store (where the store lives comes from :class:`Settings`)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer
from rich.console import Console

from loopml.config import Settings

if TYPE_CHECKING:
    from loopml.spec import Spec
    from loopml.store import Store

console = Console()
errors = Console(stderr=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
SpecOpt = Annotated[
    Path | None, typer.Option("--spec", help="Project spec (default: ./loopml.yaml if present).")
]
QueryOpt = Annotated[
    str | None, typer.Option("--query", help="SQL query or table name, for a database URL source.")
]


def emit(payload: Any) -> None:
    """Print ``payload`` as indented JSON (what ``--json`` prints)."""
    sys.stdout.write(orjson.dumps(payload, option=orjson.OPT_INDENT_2, default=str).decode() + "\n")


def open_spec(path: Path | None, *, required: bool = False) -> Spec | None:
    """The project spec at ``path``, else ``./loopml.yaml``; ``None`` when there is none and
    the command can do without (``required`` makes a missing spec an error)."""
    from loopml.spec import load_spec

    if path is None:
        path = Path("loopml.yaml")
        if not path.exists() and not required:
            return None
    return load_spec(path)


def need_spec(path: Path | None) -> Spec:
    """The project spec, which the command cannot do without."""
    spec = open_spec(path, required=True)
    assert spec is not None  # load_spec raises when there is none
    return spec


def open_store(*, create: bool = False) -> Store:
    """The project's store; only commands that add things may create a new one."""
    from loopml.errors import NotFoundError
    from loopml.store import Store

    settings = Settings.from_env()
    if not create and settings.db_file is not None and not settings.db_file.exists():
        raise NotFoundError(
            f"no loopml store at {settings.home}/ (looked for {settings.db_file}): run this in "
            "the project's folder, set LOOPML_HOME, or start one with 'loopml data add FILE'"
        )
    return Store.open()


def parse_since(value: str | datetime | None) -> datetime | None:
    """``--since``: an ISO time, or a duration back from now (``2h``, ``7d``); read as the
    command line is parsed, so a bad value is a usage error (exit 2) before anything runs."""
    from loopml.spec import parse_duration

    if value is None or isinstance(value, datetime):
        return value
    try:
        return datetime.now(UTC) - parse_duration(value)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"expected an ISO time (2026-05-01T12:00) or a duration back from now (2h, 7d), "
            f"got {value!r}"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


SinceOpt = Annotated[
    datetime | None,
    typer.Option(
        "--since", parser=parse_since, help="ISO time, or a duration back from now (2h, 7d)."
    ),
]


def duration(low: str = "0s", high: str | None = None, *, why: str) -> Callable[[Any], timedelta]:
    """A Typer ``parser`` for a duration option (``typer.Option(parser=duration(...))``): the
    spec's spelling (``30s``, ``15m``, ``1h``; :func:`loopml.spec.parse_duration`) from ``low``
    to ``high``, read as the command line is parsed, so ``--interval banana`` is a usage error
    (exit 2, the usage and what is expected) before the command opens the spec or the store."""

    def parse(value: Any) -> timedelta:
        from loopml.spec.durations import bounded, parse_duration

        try:
            read = parse_duration(value)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        try:
            return bounded(low, high, why=why)(read)
        except ValueError as exc:
            raise typer.BadParameter(f"{exc}, got {value!r}") from None

    return parse


def port_number(value: int) -> int:
    """A TCP port to listen on. 0 (any free port) is refused: the announced URL would be wrong."""
    if not 1 <= value <= 65535:
        raise typer.BadParameter(f"expected a port from 1 to 65535, got {value}")
    return value
