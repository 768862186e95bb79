"""Usage errors (an unknown command, a missing argument, a bad option value) exit 2 with the
usage line and the problem, never with a traceback."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["trian"], "No such command 'trian'. Did you mean 'train', 'retrain'?"),
        (["data", "lst"], "Did you mean 'list'?"),
        (["data", "add"], "Missing argument 'source'"),
        (["runs", "list", "--limit", "x"], "Invalid value for '--limit'"),
        (["ui", "--port", "0"], "Invalid value for '--port'"),
        (["--version"], "No such option: --version"),
    ],
)
def test_usage_errors_exit_2_with_the_usage(cli: Any, args: list[str], message: str) -> None:
    code, _, err = cli(*args)
    assert code == 2
    assert "Usage: " in err and message in err
    assert "Traceback" not in err


def test_no_command_prints_the_help(cli: Any) -> None:
    code, out, _ = cli()
    assert code == 2 and "Usage: " in out and "rollout" in out
