"""MLflow's scoring protocol (``/invocations`` of ``mlflow models serve``, MLflow ≥ 2).

Decisions, written here because clients will ask:
- A JSON body holds exactly one of ``dataframe_split``, ``dataframe_records``, ``instances`` and
  ``inputs``; ``params`` is accepted and ignored. Unlike MLflow, any other top-level key is a 400
  (MLflow ignores it silently), so a misspelt key cannot drop data.
- ``instances``/``inputs`` are TF-serving style; a tabular model takes a list of objects (rows) or
  an object of column → list of values (columns). Unnamed tensors (lists of lists) are a 400: a
  tabular model needs column names, which ``dataframe_split`` carries.
- Content types: ``application/json`` and ``text/csv`` with an optional ``charset=utf-8``. Any
  other type, charset or parameter, or no Content-Type at all, is a 415, as in MLflow.
- CSV (stdlib ``csv``, strict quoting): a header row, then rows. Values stay strings (validation
  coerces them); empty fields, quoted or not, become ``None`` as pandas reads them; blank lines
  are skipped; a UTF-8 BOM is ignored; a first column with an empty header (the index pandas'
  ``to_csv()`` writes) is dropped.
- Every value must be a scalar (number, string, boolean, null). Zero rows is a 400; more than
  ``max_rows`` rows is a 413.
- JSON's ``NaN``, ``Infinity`` and ``-Infinity`` tokens, which MLflow's Python client writes for
  missing values, are read as null. Which columns are known and how many may be missing is the
  input contract's, as on every protocol (:mod:`loopml.serving.inputs`): ``dataframe_split``
  with ``columns: []`` gives empty records, refused there with a 422.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from loopml.errors import RequestError, did_you_mean
from loopml.serving.protocols._common import (
    _MISSING,
    _check_rows,
    _check_scalar,
    _check_unique,
    _load_json,
    _plain,
    _quoted,
    _what,
    check_media_type,
)

CONTENT_TYPE_JSON = "application/json"
CONTENT_TYPE_CSV = "text/csv"
MLFLOW_FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
MLFLOW_KEYS = (*MLFLOW_FORMATS, "params")


def parse_invocations(
    body: bytes, content_type: str | None, *, max_rows: int
) -> list[dict[str, Any]]:
    """Read an MLflow ``/invocations`` body (JSON or CSV) into records, one dict per row."""
    if check_media_type(content_type, (CONTENT_TYPE_JSON, CONTENT_TYPE_CSV)) == CONTENT_TYPE_CSV:
        return _parse_csv(body, max_rows)
    document = _load_json(body)
    expected = f"exactly one of {_quoted(MLFLOW_FORMATS)} (and optionally 'params')"
    if not isinstance(document, dict):
        raise RequestError(f"body: expected a JSON object with {expected}, got {_what(document)}")
    for key in document:
        if key not in MLFLOW_KEYS:
            hint = did_you_mean(key, MLFLOW_KEYS)
            raise RequestError(f"body: unknown key '{key}'{hint}; expected {expected}")
    formats = [key for key in MLFLOW_FORMATS if key in document]
    if len(formats) != 1:
        got = f"several: {_quoted(formats)}" if formats else "none"
        raise RequestError(f"body: expected {expected}, got {got}")
    params = document.get("params")
    if params is not None and not isinstance(params, dict):
        raise RequestError(f"params: expected an object, got {_what(params)}")
    key = formats[0]
    if key == "dataframe_split":
        return _split(document[key], max_rows)
    if key == "dataframe_records":
        return _rows(document[key], key, max_rows)
    return _tensor_style(document[key], key, max_rows)


def _split(value: Any, max_rows: int) -> list[dict[str, Any]]:
    where = "dataframe_split"
    if not isinstance(value, dict):
        raise RequestError(
            f"{where}: expected an object with 'columns' and 'data', got {_what(value)}"
        )
    for key in value:
        if key not in ("columns", "data", "index"):
            hint = did_you_mean(key, ("columns", "data", "index"))
            raise RequestError(
                f"{where}: unknown key '{key}'{hint}; expected 'columns', 'data' and "
                "optionally 'index'"
            )
    columns = value.get("columns", _MISSING)
    if not isinstance(columns, list):
        raise RequestError(
            f"{where}.columns: expected a list of column names, got {_what(columns)}"
        )
    for index, name in enumerate(columns):
        if not isinstance(name, str):
            raise RequestError(
                f"{where}.columns[{index}]: expected a column name (a string), got {_what(name)}"
            )
    _check_unique(columns, f"{where}.columns")
    data = value.get("data", _MISSING)
    if not isinstance(data, list):
        raise RequestError(f"{where}.data: expected a list of rows, got {_what(data)}")
    _check_rows(len(data), max_rows, f"{where}.data")
    row_index = value.get("index")
    if row_index is not None and (not isinstance(row_index, list) or len(row_index) != len(data)):
        got = f"{len(row_index)} labels" if isinstance(row_index, list) else _what(row_index)
        raise RequestError(
            f"{where}.index: expected a list of {len(data)} row labels (one per row), got {got}"
        )
    width, records = len(columns), []
    for i, row in enumerate(data):
        if not isinstance(row, list) or len(row) != width:
            got = f"{len(row)} values" if isinstance(row, list) else _what(row)
            raise RequestError(
                f"{where}.data[{i}]: expected a list of {width} values (one per column), got {got}"
            )
        for j, item in enumerate(row):
            _check_scalar(item, f"{where}.data[{i}][{j}] (column '{columns[j]}')")
        records.append(dict(zip(columns, row, strict=True)))
    return records


def _rows(value: Any, where: str, max_rows: int) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise RequestError(f"{where}: expected a list of objects (one per row), got {_what(value)}")
    _check_rows(len(value), max_rows, where)
    for i, row in enumerate(value):
        if not isinstance(row, dict):
            raise RequestError(
                f"{where}[{i}]: expected an object mapping column names to values, got {_what(row)}"
            )
        for name, item in row.items():
            _check_scalar(item, f"{where}[{i}]['{name}']")
    return value


def _tensor_style(value: Any, where: str, max_rows: int) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        return _columns(value, where, max_rows)
    if not isinstance(value, list) or all(isinstance(row, dict) for row in value):
        return _rows(value, where, max_rows)
    index, item = next((i, row) for i, row in enumerate(value) if not isinstance(row, dict))
    raise RequestError(
        f"{where}: expected a list of objects (one per row) or an object mapping each column to "
        f"a list of values, got a list holding {_what(item)} at index {index}; a tabular model "
        "needs column names (send unnamed rows as dataframe_split with 'columns')"
    )


def _columns(value: dict[str, Any], where: str, max_rows: int) -> list[dict[str, Any]]:
    if not value:
        raise RequestError(f"{where}: expected at least one column, got an empty object")
    first = next(iter(value))
    for name, column in value.items():
        if not isinstance(column, list):
            raise RequestError(
                f"{where}['{name}']: expected a list of values (one per row), got {_what(column)}"
            )
        if len(column) != len(value[first]):
            raise RequestError(
                f"{where}: expected columns of equal length, got {len(value[first])} values "
                f"in '{first}' and {len(column)} in '{name}'"
            )
    _check_rows(len(value[first]), max_rows, where)
    for name, column in value.items():
        for i, item in enumerate(column):
            _check_scalar(item, f"{where}['{name}'][{i}]")
    names = list(value)
    return [dict(zip(names, row, strict=True)) for row in zip(*value.values(), strict=True)]


def _parse_csv(body: bytes, max_rows: int) -> list[dict[str, Any]]:
    where = "text/csv body"
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RequestError(
            f"{where}: expected UTF-8 text, got an invalid byte at position {exc.start}"
        ) from exc
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[dict[str, Any]] = []
    try:
        header = next((row for row in reader if row), None)
        if header is None:
            raise RequestError(f"{where}: expected a header row of column names, got no lines")
        skip = 1 if header[0] == "" and len(header) > 1 else 0
        columns = header[skip:]
        if "" in columns:
            raise RequestError(
                f"text/csv header: expected a name for every column, got an empty name "
                f"in column {columns.index('') + skip + 1}"
            )
        _check_unique(columns, "text/csv header")
        for row in reader:
            if not row:
                continue
            if len(row) != len(header):
                raise RequestError(
                    f"text/csv line {reader.line_num}: expected {len(header)} fields "
                    f"(one per header column), got {len(row)}"
                )
            if len(records) == max_rows:
                raise RequestError(
                    f"{where}: expected at most {max_rows} rows per request, got more; "
                    "split the request into smaller batches",
                    status=413,
                )
            records.append(
                {name: field or None for name, field in zip(columns, row[skip:], strict=True)}
            )
    except csv.Error as exc:
        raise RequestError(
            f"text/csv line {reader.line_num}: expected valid CSV, got an error: {exc}"
        ) from exc
    _check_rows(len(records), max_rows, where)
    return records


def invocations_response(predictions: Sequence[Any]) -> dict[str, Any]:
    """The ``/invocations`` response body, as MLflow writes it: ``{"predictions": [...]}``."""
    return {"predictions": [_plain(value) for value in predictions]}
