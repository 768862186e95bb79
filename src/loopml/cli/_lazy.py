"""A command group whose commands are imported on first use.

The idea is kedro's ``LazyGroup`` (``kedro/framework/cli``): the root group knows every command's
name and the module that defines it, and imports that module only when one of its commands is
wanted — to run it, or to show its line of ``--help``. So ``import loopml.cli`` costs the
standard library, Typer and Rich, and ``loopml data list`` never imports the serving stack.

Each verb module has a Typer ``app`` holding its commands and command groups; the first command
asked of a module turns that whole ``app`` into Click commands once.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from importlib import import_module
from typing import Any

import typer
from typer.core import TyperGroup

Command = Any  # a Click command, as Typer builds it (Typer vendors Click's types)


class _Commands(MutableMapping[str, Command]):
    """Commands by name, in order. An entry is a built command, or the module that defines it,
    built on first access; iterating gives the names and imports nothing."""

    def __init__(self, modules: Mapping[str, str]) -> None:
        self._entries: dict[str, Command | str] = dict(modules)

    def __getitem__(self, name: str) -> Command:
        entry = self._entries[name]
        if isinstance(entry, str):
            built = typer.main.get_group(import_module(entry).app).commands
            for other, where in list(self._entries.items()):
                if where == entry:
                    self._entries[other] = built[other]
            entry = self._entries[name]
        return entry

    def __setitem__(self, name: str, command: Command) -> None:
        self._entries[name] = command

    def __delitem__(self, name: str) -> None:
        del self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)


class LazyGroup(TyperGroup):
    """A Typer group of ``lazy_commands``: command name -> the module whose ``app`` defines it.

    Typer reads ``commands`` for everything (running a command, help, "did you mean"), so that
    mapping is the lazy part; listing the names imports no module.
    """

    def __init__(self, *, lazy_commands: Mapping[str, str], **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = _Commands(lazy_commands)

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.commands)
