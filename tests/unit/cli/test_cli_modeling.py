"""The modeling verbs end to end: train → runs → models → predict → report run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest

from tests.support.projects import FLIGHTS_SPEC

SPEC = (
    FLIGHTS_SPEC
    + """\
metric: {name: roc_auc, target: 0.55}
slices: [{name: origin, column: origin}]
model: {candidates: [linear, lightgbm]}
"""
)


@pytest.fixture()
def project(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    flights_sample: pl.DataFrame,
    flights: pl.DataFrame,
) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("LOOPML_DB_URL", "LOOPML_HOME", "LOOPML_ARTIFACTS"):
        monkeypatch.delenv(name, raising=False)
    flights_sample.write_parquet(tmp_path / "q1.parquet")
    flights.filter(pl.col("month") == 4).head(3000).write_csv(tmp_path / "april.csv")
    (tmp_path / "loopml.yaml").write_text(SPEC)
    return tmp_path


def test_train_register_predict(project: Path, cli: Any) -> None:
    assert cli("data", "add", "q1.parquet", "--name", "flights")[0] == 0
    code, out, err = cli("train", "--tune", "4", "--json")
    assert code == 0, err
    trained = orjson.loads(out)
    assert trained["model"] == "flights@1" and trained["blessed"] is True
    assert trained["aliases"] == ["champion"]
    assert {row["candidate"] for row in trained["leaderboard"]} == {
        "baseline",
        "linear",
        "lightgbm",
    }
    assert Path(trained["report"]).exists() and Path(trained["model_card"]).exists()
    run_id = str(trained["run_id"])

    code, out, _ = cli("runs", "list", "--json")
    assert [r["id"] for r in orjson.loads(out)] == [int(run_id)]
    code, out, _ = cli("runs", "show", run_id, "--json")
    shown = orjson.loads(out)
    assert shown["dataset"] == "flights@1" and len(shown["children"]) == 3
    assert shown["environment"]["packages"]["lightgbm"]
    code, out, _ = cli("runs", "show", run_id)
    assert code == 0 and "validation" in out

    code, out, _ = cli("models", "show", "flights@champion", "--json")
    model = orjson.loads(out)
    assert model["verified"] is True and model["lineage"]["dataset"] == "flights@1"

    code, out, _ = cli("predict", "april.csv", "--out", "p.parquet", "--json")
    assert code == 0 and orjson.loads(out)["rows"] == 3000
    predictions = pl.read_parquet(project / "p.parquet")
    assert predictions.columns[:2] == ["flight_id", "prediction"]
    assert predictions["probability_true"].is_between(0, 1).all()

    broken = pl.read_csv(project / "april.csv").drop("carrier")
    broken.write_csv(project / "broken.csv")
    code, out, _ = cli("predict", "broken.csv", "--out", "x.csv")
    assert code == 1 and "carrier" in out and not (project / "x.csv").exists()

    report = project / "again.html"
    code, _, _ = cli("report", "run", run_id, "--out", str(report))
    assert code == 0 and report.stat().st_size > 1_000_000

    code, _, err = cli("models", "alias", "flights@1", "latest")
    assert code == 2 and "latest" in err
    code, out, _ = cli("models", "archive", "flights@1", "--json")
    assert orjson.loads(out)["status"] == "archived"
    code, _, err = cli("predict", "april.csv", "--out", "p2.csv")
    assert code == 2 and "champion" in err


def test_train_needs_a_spec_and_data(project: Path, cli: Any) -> None:
    code, _, err = cli("train")
    assert code == 2 and "loopml data add FILE --name flights" in err
    (project / "loopml.yaml").unlink()
    code, _, err = cli("train")
    assert code == 2 and "loopml init" in err
    code, _, err = cli("runs", "show", "99")
    assert code == 2 and "99" in err


def test_python_api_lists_the_same_runs(project: Path, cli: Any) -> None:
    import loopml

    cli("data", "add", "q1.parquet", "--name", "flights")
    code, out, _ = cli("train", "--json")
    assert code == 0
    listed = loopml.runs()
    assert [r.id for r in listed] == [orjson.loads(out)["run_id"]]
    assert len(loopml.runs(kind=None)) == 4  # the training run and its three candidates
