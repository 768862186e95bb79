"""The `loopml` command end to end: init → data add/list/show/profile → validate → report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flights: pl.DataFrame) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LOOPML_DB_URL", raising=False)
    monkeypatch.delenv("LOOPML_HOME", raising=False)
    monkeypatch.delenv("LOOPML_ARTIFACTS", raising=False)
    flights.filter(pl.col("month") == 1).write_parquet(tmp_path / "jan.parquet")
    flights.filter(pl.col("month") == 4).head(20_000).write_csv(tmp_path / "april.csv")
    return tmp_path


def test_the_data_stage(project: Path, cli: Any) -> None:
    code, out, _ = cli("init", "jan.parquet", "--target", "late", "--name", "jan", "--json")
    assert code == 0 and (project / "loopml.yaml").exists()
    assert orjson.loads(out)["proposal"]["id_column"] == "flight_id"

    code, _, err = cli("init", "jan.parquet", "--target", "late")
    assert code == 2 and "--force" in err

    code, out, _ = cli("data", "add", "jan.parquet", "--json")
    added = orjson.loads(out)
    assert code == 0 and added["ref"] == "jan@1" and added["created"] is True
    code, out, _ = cli("data", "add", "jan.parquet", "--json")
    assert orjson.loads(out)["created"] is False

    code, out, _ = cli("data", "list", "--json")
    assert [d["ref"] for d in orjson.loads(out)] == ["jan@1"]
    code, out, _ = cli("data", "list")
    assert "jan@1" in out

    code, out, _ = cli("data", "show", "jan@1")
    assert code == 0 and "jan@1" in out
    code, out, _ = cli("data", "show", "jan@1", "--json")
    shown = orjson.loads(out)
    assert [c["name"] for c in shown["schema"]["columns"]][:3] == [
        "flight_id",
        "scheduled_departure",
        "year",
    ]
    code, out, _ = cli("data", "profile", "april.csv", "--json")
    assert orjson.loads(out)["n_rows"] == 20_000

    code, out, _ = cli("data", "validate", "april.csv", "--against", "jan@1", "--json")
    result = orjson.loads(out)
    assert code == (0 if result["ok"] else 1)
    assert any(v["column"] == "temp" and v["rule"] == "range" for v in result["violations"])

    broken = pl.read_csv(project / "april.csv").drop("carrier")
    broken.write_csv(project / "broken.csv")
    code, out, _ = cli("data", "validate", "broken.csv")
    assert code == 1 and "carrier" in out and "validation failed" in out

    code, out, _ = cli("data", "report", "jan@1", "--compare", "april.csv", "--json")
    path = Path(orjson.loads(out)["report"])
    assert code == 0 and path.exists() and path.stat().st_size > 1_000_000  # plotly.js inlined
    drift = {row["column"]: row for row in orjson.loads(out)["drift"]}
    assert drift["temp"]["statistic"] == "PSI" and "median" in drift["temp"]["effect"]
    code, out, _ = cli("data", "report", "jan@1", "--compare", "april.csv")
    assert code == 0 and "drift of april.csv against jan@1" in out


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
    cli: Any,
    args: list[str],
    message: str,
) -> None:
    cli("data", "add", "jan.parquet")
    code, _, err = cli(*args)
    assert code == 2
    assert "error:" in err and message in err
    assert "Traceback" not in err


def test_a_bad_spec_is_reported_with_its_line(project: Path, cli: Any) -> None:
    (project / "loopml.yaml").write_text(
        "name: p\ntask: binary\ntarget: late\nfeatures: {numeric: [temp]}\n"
        "metric: {nmae: roc_auc}\n"
    )
    code, _, err = cli("data", "add", "jan.parquet")
    assert code == 2 and "loopml.yaml:5" in err and "did you mean 'name'" in err


def test_unreachable_database_url(project: Path, cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOPML_DB_URL", "postgresql+psycopg://u:pw@127.0.0.1:1/db")
    code, _, err = cli("data", "list")
    assert code == 2 and "127.0.0.1:1" in err and ":pw@" not in err


def test_help_on_every_command(cli: Any) -> None:
    for args in (
        ["--help"],
        ["init", "--help"],
        ["data", "--help"],
        ["data", "add", "--help"],
        ["data", "validate", "--help"],
        ["data", "report", "--help"],
    ):
        code, out, _ = cli(*args)
        assert code == 0 and "Usage" in out


def test_read_only_commands_do_not_create_a_store(
    tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("LOOPML_DB_URL", "LOOPML_HOME", "LOOPML_ARTIFACTS"):
        monkeypatch.delenv(name, raising=False)
    for args in (["data", "list"], ["runs", "list"], ["models", "show", "x@1"]):
        code, _, err = cli(*args)
        assert code == 2 and "no loopml store" in err
    assert not (tmp_path / ".loopml").exists()
    code, _, err = cli("data", "profile", "missing.csv")
    assert code == 2 and "no such file" in err


def test_init_writes_into_a_new_folder(project: Path, cli: Any) -> None:
    code, out, _ = cli(
        "init", "jan.parquet", "--target", "late", "--name", "delays", "--out", "specs/delays.yaml"
    )
    assert code == 0 and (project / "specs" / "delays.yaml").exists()
    assert "--name delays" in " ".join(out.split())
