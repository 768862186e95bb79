"""The `loopml` command end to end: init → data add/list/show/profile → validate → report."""

from __future__ import annotations

import sys
from pathlib import Path

import orjson
import polars as pl
import pytest

from loopml.cli import main


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flights: pl.DataFrame) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LOOPML_DB_URL", raising=False)
    monkeypatch.delenv("LOOPML_HOME", raising=False)
    monkeypatch.delenv("LOOPML_ARTIFACTS", raising=False)
    flights.filter(pl.col("month") == 1).write_parquet(tmp_path / "jan.parquet")
    flights.filter(pl.col("month") == 4).head(20_000).write_csv(tmp_path / "april.csv")
    return tmp_path


def loopml(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["loopml", *args])
    with pytest.raises(SystemExit) as info:
        main()
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def test_the_data_stage(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = loopml(capsys, monkeypatch, "init", "jan.parquet", "--target", "late", "--json")
    assert code == 0 and (project / "loopml.yaml").exists()
    assert orjson.loads(out)["proposal"]["id_column"] == "flight_id"

    code, _, err = loopml(capsys, monkeypatch, "init", "jan.parquet", "--target", "late")
    assert code == 2 and "--force" in err

    code, out, _ = loopml(capsys, monkeypatch, "data", "add", "jan.parquet", "--json")
    added = orjson.loads(out)
    assert code == 0 and added["ref"] == "jan@1" and added["created"] is True
    code, out, _ = loopml(capsys, monkeypatch, "data", "add", "jan.parquet", "--json")
    assert orjson.loads(out)["created"] is False

    code, out, _ = loopml(capsys, monkeypatch, "data", "list", "--json")
    assert [d["ref"] for d in orjson.loads(out)] == ["jan@1"]
    code, out, _ = loopml(capsys, monkeypatch, "data", "list")
    assert "jan@1" in out

    code, out, _ = loopml(capsys, monkeypatch, "data", "show", "jan@1")
    assert code == 0 and "jan@1" in out
    code, out, _ = loopml(capsys, monkeypatch, "data", "show", "jan@1", "--json")
    shown = orjson.loads(out)
    assert [c["name"] for c in shown["schema"]["columns"]][:3] == [
        "flight_id",
        "scheduled_departure",
        "year",
    ]
    code, out, _ = loopml(capsys, monkeypatch, "data", "profile", "april.csv", "--json")
    assert orjson.loads(out)["n_rows"] == 20_000

    code, out, _ = loopml(
        capsys, monkeypatch, "data", "validate", "april.csv", "--against", "jan@1", "--json"
    )
    result = orjson.loads(out)
    assert code == (0 if result["ok"] else 1)
    assert any(v["column"] == "temp" and v["rule"] == "range" for v in result["violations"])

    broken = pl.read_csv(project / "april.csv").drop("carrier")
    broken.write_csv(project / "broken.csv")
    code, out, _ = loopml(capsys, monkeypatch, "data", "validate", "broken.csv")
    assert code == 1 and "carrier" in out and "validation failed" in out

    code, out, _ = loopml(
        capsys, monkeypatch, "data", "report", "jan@1", "--compare", "april.csv", "--json"
    )
    path = Path(orjson.loads(out)["report"])
    assert code == 0 and path.exists() and path.stat().st_size > 1_000_000  # plotly.js inlined


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["data", "add", "nope.csv"], "no such file"),
        (["data", "show", "jam"], "jan"),
        (["data", "validate", "april.csv", "--against", "nope@1"], "nope"),
        (["init", "jan.parquet", "--target", "lat"], "did you mean 'late'"),
        (["init", "jan.parquet", "--target", "late", "--task", "clustering"], "expected binary"),
    ],
)
def test_errors_exit_2_with_a_message(
    project: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    message: str,
) -> None:
    loopml(capsys, monkeypatch, "data", "add", "jan.parquet")
    code, _, err = loopml(capsys, monkeypatch, *args)
    assert code == 2
    assert "error:" in err and message in err
    assert "Traceback" not in err


def test_a_bad_spec_is_reported_with_its_line(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "loopml.yaml").write_text(
        "name: p\ntask: binary\ntarget: late\nfeatures: {numeric: [temp]}\n"
        "metric: {nmae: roc_auc}\n"
    )
    code, _, err = loopml(capsys, monkeypatch, "data", "add", "jan.parquet")
    assert code == 2 and "loopml.yaml:5" in err and "did you mean 'name'" in err


def test_unreachable_database_url(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOOPML_DB_URL", "postgresql+psycopg://u:pw@127.0.0.1:1/db")
    code, _, err = loopml(capsys, monkeypatch, "data", "list")
    assert code == 2 and "127.0.0.1:1" in err and ":pw@" not in err


def test_help_on_every_command(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for args in (
        ["--help"],
        ["init", "--help"],
        ["data", "--help"],
        ["data", "add", "--help"],
        ["data", "validate", "--help"],
        ["data", "report", "--help"],
    ):
        code, out, _ = loopml(capsys, monkeypatch, *args)
        assert code == 0 and "Usage" in out
