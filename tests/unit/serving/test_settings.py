"""Server settings come from explicit arguments first, then ``LOOPML_*`` (read in config.py only),
and ``loopml serve`` hands them to its workers instead of writing the environment."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from loopml.config import ServeSettings
from loopml.serving import server


def test_explicit_arguments_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOPML_SPEC", "from-env.yaml")
    monkeypatch.setenv("LOOPML_SERVE_MODEL", "flights@1")
    monkeypatch.setenv("LOOPML_ADMIN_TOKEN", "env-admin")
    monkeypatch.delenv("LOOPML_PREDICTION_TOKEN", raising=False)
    from_env = ServeSettings.from_env()
    assert from_env == ServeSettings(Path("from-env.yaml"), "flights@1", "env-admin", None)
    given = ServeSettings.from_env(spec=Path("given.yaml"), model="flights@2", prediction_token="p")
    assert given == ServeSettings(Path("given.yaml"), "flights@2", "env-admin", "p")


def test_serve_passes_its_settings_to_the_worker_and_leaves_the_environment_alone(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("LOOPML_SPEC", "LOOPML_SERVE_MODEL", "LOOPML_PREDICTION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(server, "check_port", lambda host, port: None)
    monkeypatch.setattr(server, "run_worker", lambda *args, **kwargs: calls.append(args))
    before = dict(os.environ)
    server.serve(
        host="127.0.0.1",
        port=0,
        workers=1,
        spec=tmp_path / "loopml.yaml",
        model="flights@1",
        prediction_token="s3cret",
    )
    assert dict(os.environ) == before
    ((host, port, settings),) = calls
    assert (host, port) == ("127.0.0.1", 0)
    assert settings.spec == (tmp_path / "loopml.yaml").resolve()
    assert (settings.model, settings.prediction_token) == ("flights@1", "s3cret")
