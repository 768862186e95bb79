"""``cli``: ``loopml ARGS`` run in-process through the real entry point."""

from __future__ import annotations

import sys
from typing import Any

import pytest

#: What ``cli(*args)`` returns: exit code, standard output, standard error.
CliResult = tuple[int, str, str]


@pytest.fixture()
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run ``loopml ARGS`` in-process through the real entry point: ``(exit code, out, err)``."""
    from loopml.cli import main

    def run(*args: str) -> CliResult:
        monkeypatch.setattr(sys, "argv", ["loopml", *args])
        with pytest.raises(SystemExit) as info:
            main()
        out, err = capsys.readouterr()
        return int(info.value.code or 0), out, err

    return run
