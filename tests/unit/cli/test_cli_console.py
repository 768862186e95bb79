"""The installed ``loopml`` console script answers every usage error (unknown command or option,
missing argument, a bad duration or alert id) with exit 2, the usage on stderr and no traceback;
``-h`` is ``--help`` on every command and group (issue 12, item 7).

The script is the one installed beside this interpreter, run in a fresh process with this
checkout's ``src`` first on ``PYTHONPATH`` (so it runs this code, not the installed copy's).
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import typer
from hypothesis import given
from hypothesis import strategies as st

from loopml.cli._common import duration

SCRIPT = Path(sys.executable).with_name("loopml")
SRC = Path(__file__).resolve().parents[3] / "src"


def console(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``loopml ARGS`` through the console script, in an empty folder (no spec, no store)."""
    assert SCRIPT.exists(), f"no console script at {SCRIPT}: pip install -e ."
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
        "LOOPML_HOME": str(tmp_path / ".loopml"),
        "COLUMNS": "200",
        "NO_COLOR": "1",
        "TERM": "dumb",
    }
    return subprocess.run(
        [str(SCRIPT), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["trian"], "No such command 'trian'"),
        (["train", "--bogus"], "No such option: --bogus"),
        (["data", "add"], "Missing argument 'source'"),
        (["loop", "--interval", "banana"], "expected a duration such as '30s'"),
        (["loop", "--interval", "0s"], "at least 1s (the time between passes), got '0s'"),
        (["monitor", "run", "--since", "yesterday"], "expected an ISO time"),
        (["alerts", "ack", "abc"], "expected an alert's id, a whole number"),
    ],
)
def test_usage_errors_exit_2_with_the_usage_and_no_traceback(
    tmp_path: Path, args: list[str], message: str
) -> None:
    done = console(tmp_path, *args)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Usage: loopml " in done.stderr and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_a_bad_interval_is_refused_before_the_spec_is_looked_for(tmp_path: Path) -> None:
    """No spec in the folder: the interval is still what is reported (checked first)."""
    done = console(tmp_path, "loop", "--interval", "banana")
    assert "--interval" in done.stderr and "no spec" not in done.stderr


@pytest.mark.parametrize(
    "args", [["-h"], ["data", "-h"], ["alerts", "ack", "-h"], ["retrain", "-h"], ["loop", "-h"]]
)
def test_dash_h_is_help_on_every_command_and_group(tmp_path: Path, args: list[str]) -> None:
    done = console(tmp_path, *args)
    assert done.returncode == 0, done.stderr
    assert "Usage: loopml" in done.stdout and "--help" in done.stdout and not done.stderr
    assert done.stdout == console(tmp_path, *args[:-1], "--help").stdout


UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
INTERVAL = duration("1s", why="the time between passes")


@given(st.integers(0, 10**6), st.sampled_from(sorted(UNITS)), st.booleans())
def test_a_duration_option_reads_the_spec_s_durations(number: int, unit: str, spaced: bool) -> None:
    text = f"{number}{' ' if spaced else ''}{unit}"
    seconds = number * UNITS[unit]
    if seconds >= 1:
        assert INTERVAL(text) == timedelta(seconds=seconds)
    else:
        with pytest.raises(typer.BadParameter, match=r"at least 1s .*got"):
            INTERVAL(text)


@given(st.text(max_size=12).filter(lambda t: not t.strip()[:1].isdigit()))
def test_anything_else_is_a_usage_error_saying_what_is_expected(text: str) -> None:
    with pytest.raises(typer.BadParameter, match="expected a duration such as '30s'"):
        INTERVAL(text)
