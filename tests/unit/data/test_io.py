"""Reading sources: every bad input gets a clear DataError, never a traceback."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import polars as pl
import pytest

from loopml.data.io import read_source
from loopml.errors import DataError


def test_csv_parquet_and_sql_read_the_same_rows(
    tmp_path: Path, flights_sample: pl.DataFrame
) -> None:
    frame = flights_sample.select("flight_id", "carrier", "distance", "temp", "late")
    frame.write_csv(tmp_path / "f.csv")
    frame.write_parquet(tmp_path / "f.parquet")
    with sqlite3.connect(tmp_path / "f.db") as db:
        db.execute(
            "create table flights (flight_id int, carrier text, distance int, temp real, late int)"
        )
        db.executemany("insert into flights values (?,?,?,?,?)", frame.rows())
    from_csv = read_source(tmp_path / "f.csv")
    from_parquet = read_source(str(tmp_path / "f.parquet"))
    from_sql = read_source(f"sqlite:///{tmp_path / 'f.db'}", query="select * from flights")
    from_table = read_source(f"sqlite:///{tmp_path / 'f.db'}", query="flights")
    assert from_parquet.equals(frame)
    assert from_csv.height == from_sql.height == from_table.height == frame.height
    assert from_sql["carrier"].to_list() == frame["carrier"].to_list()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"a,b,c\n", "no rows"),
        (b"a,b,c\n1,2,3\n4,5\n", "f.csv:3: expected 3 fields (as in the header), got 2"),
        (b"a,b,c\n1,2,3\n4,5,6,7\n", "f.csv:3: expected 3 fields (as in the header), got 4"),
    ],
)
def test_bad_csv(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_source(path)


def test_type_change_late_in_a_csv_is_read_as_text(tmp_path: Path) -> None:
    rows = "\n".join(str(i) for i in range(20_000))
    (tmp_path / "f.csv").write_text(f"x\n{rows}\nnot-a-number\n")
    frame = read_source(tmp_path / "f.csv")
    assert frame.height == 20_001 and frame["x"].dtype == pl.String


def test_missing_file_suggests_a_close_name(tmp_path: Path) -> None:
    (tmp_path / "flights.csv").write_text("a\n1\n")
    with pytest.raises(DataError, match=r"did you mean 'flights\.csv'"):
        read_source(tmp_path / "flight.csv")


def test_corrupt_parquet(tmp_path: Path, flights_sample: pl.DataFrame) -> None:
    path = tmp_path / "f.parquet"
    flights_sample.write_parquet(path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DataError, match="truncated or corrupted"):
        read_source(path)


def test_unknown_suffix_and_query_on_a_file(tmp_path: Path) -> None:
    (tmp_path / "f.xlsx").write_bytes(b"PK\x03\x04junk")
    with pytest.raises(DataError, match=r"expected \.csv, \.tsv, \.parquet"):
        read_source(tmp_path / "f.xlsx")
    (tmp_path / "f.csv").write_text("a\n1\n")
    with pytest.raises(DataError, match="--query applies to database URLs"):
        read_source(tmp_path / "f.csv", query="select 1")


def test_database_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="pass --query"):
        read_source("sqlite:///x.db")
    with pytest.raises(DataError, match="cannot reach the database"):
        read_source("postgresql+psycopg://loopml:secret@127.0.0.1:1/none", query="select 1")
    try:
        read_source("postgresql+psycopg://loopml:secret@127.0.0.1:1/none", query="select 1")
    except DataError as exc:
        assert "secret" not in str(exc)
    with sqlite3.connect(tmp_path / "e.db") as db:
        db.execute("create table t (a int)")
    with pytest.raises(DataError, match="no rows"):
        read_source(f"sqlite:///{tmp_path / 'e.db'}", query="t")
    with pytest.raises(DataError, match="the query failed"):
        read_source(f"sqlite:///{tmp_path / 'e.db'}", query="select * from nope")
