"""The ``loopml`` command: one verb per lifecycle step. Thin: parse, call the library, render.

Exit codes: 0 success; 1 the command ran and found a failure (e.g. validation errors);
2 bad input or an error (the message says what was expected, what was got and how to fix it).
Every command that prints results takes ``--json`` for scripts.

One module per verb group, each imported only when one of its commands runs (or ``--help``
lists them): :mod:`~loopml.cli.data` (init, data), :mod:`~loopml.cli.modeling` (train, runs,
models, predict, report), :mod:`~loopml.cli.serving` (serve, rollout),
:mod:`~loopml.cli.monitoring` (monitor, alerts, incidents), :mod:`~loopml.cli.loop` (loop, retrain,
simulate, audit) and :mod:`~loopml.cli.ui`. What they share (options, ``--json``, opening the
spec and the store, renderings) is in ``_common`` and ``_render``.
"""

from __future__ import annotations

import sys

import typer
from rich.markup import escape

from loopml.cli._common import errors
from loopml.cli._lazy import LazyGroup
from loopml.errors import LoopmlError

__all__ = ["app", "main"]

_VERBS = {  # command -> the module defining it, in the order --help lists them
    "init": "data",
    "train": "modeling",
    "predict": "modeling",
    "serve": "serving",
    "loop": "loop",
    "audit": "loop",
    "simulate": "loop",
    "ui": "ui",
    "data": "data",
    "runs": "modeling",
    "models": "modeling",
    "report": "modeling",
    "rollout": "serving",
    "monitor": "monitoring",
    "alerts": "monitoring",
    "incidents": "monitoring",
    "retrain": "loop",
}

app = LazyGroup(
    name="",
    help="loopml: scope, data, train, deploy, monitor and retrain a tabular model.",
    no_args_is_help=True,
    # -h as well as --help, on every command and group: Click's contexts inherit these names
    context_settings={"help_option_names": ["-h", "--help"]},
    lazy_commands={name: f"{__name__}.{module}" for name, module in _VERBS.items()},
)


def main() -> None:
    """Console entry point: run the app, turning loopml errors into a clear message and exit 2."""
    try:
        result = app(standalone_mode=False)
    except LoopmlError as exc:
        errors.print(f"[red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except (typer.Abort, KeyboardInterrupt):
        errors.print("aborted")
        sys.exit(130)
    except typer.TyperException as exc:  # a usage error: it shows itself, with its exit code (2)
        show = getattr(exc, "show", None)  # every usage error has it (Typer's copy of Click's)
        if show is None:
            raise
        show()
        sys.exit(exc.exit_code)
    sys.exit(result if isinstance(result, int) else 0)
