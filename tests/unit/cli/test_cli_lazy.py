"""The root command imports its verb modules lazily: naming the commands costs no training or
serving code, and every verb a module defines is reachable from ``loopml``."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys

import typer

HEAVY = ("lightgbm", "optuna", "sklearn", "fastapi", "uvicorn", "loopml.modeling", "loopml.serving")
MODULES = ("data", "modeling", "serving", "monitoring", "loop", "ui")

_LOADED = """
import json, sys
{action}
heavy = {heavy!r}
print(json.dumps(sorted(m for m in sys.modules if m.startswith(heavy))))
print(json.dumps(sorted(m for m in sys.modules if m.startswith("loopml.cli."))))
"""


def _run(action: str) -> tuple[str, list[str], list[str]]:
    """Run ``action`` in a fresh interpreter; its output, and the heavy and CLI modules it
    imported."""
    code = _LOADED.format(action=action, heavy=tuple(f"{m}." for m in HEAVY) + HEAVY)
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    *out, heavy, cli = done.stdout.splitlines()
    return "\n".join(out), json.loads(heavy), json.loads(cli)


def _verbs(module: str) -> list[str]:
    """The commands and command groups a verb module's Typer app defines."""
    return list(typer.main.get_group(importlib.import_module(f"loopml.cli.{module}").app).commands)


def test_importing_the_cli_imports_no_training_or_serving_code() -> None:
    _, heavy, cli = _run("import loopml.cli")
    assert heavy == []
    assert not [m for m in cli if m.split(".")[-1] in MODULES]  # not even the verb modules


def test_help_lists_every_command_without_importing_training_or_serving_code() -> None:
    out, heavy, _ = _run(
        "from loopml.cli import main\nsys.argv = ['loopml', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass"
    )
    assert heavy == []
    rows = [
        line.split()[1] for line in out.splitlines() if line.startswith("│ ") and line[2:3] != " "
    ]
    listed = [name for name in rows if not name.startswith("-")]  # the commands, not the options
    assert sorted(listed) == sorted(name for module in MODULES for name in _verbs(module))
    assert len(listed) == 17  # incidents (issue 13, item 4)


def test_the_root_maps_each_command_to_the_module_defining_it() -> None:
    from loopml.cli import _VERBS

    assert {name: module for module in MODULES for name in _verbs(module)} == _VERBS
