"""Where reports go: the folder a verb is given, else the project's from the settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopml.config import Settings
from loopml.workflows import reports_folder


def test_reports_go_where_told_else_under_the_project_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LOOPML_HOME", str(tmp_path / "home"))
    assert Settings.from_env().reports_dir == tmp_path / "home" / "reports"
    assert Settings.from_env(tmp_path / "other").reports_dir == tmp_path / "other" / "reports"
    assert reports_folder() == tmp_path / "home" / "reports"
    assert reports_folder(tmp_path / "elsewhere") == tmp_path / "elsewhere"
    assert reports_folder(str(tmp_path / "named")) == tmp_path / "named"
