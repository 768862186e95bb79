"""Protocol adapters: MLflow ``/invocations`` and the Open Inference Protocol (V2) bodies.

Request bodies are built by hand, by property-based generators and by a real third-party client
(``tritonclient.http``); responses are read back with that client.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import numpy as np
import orjson
import pytest
import tritonclient.http as triton
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from loopml.data.schema import ColumnSchema, Kind, Schema
from loopml.errors import LoopmlError, RequestError
from loopml.serving.protocols.mlflow import invocations_response, parse_invocations
from loopml.serving.protocols.v2 import (
    V2_ACCEPTED_DATATYPES,
    parse_v2_infer,
    v2_infer_response,
    v2_model_inputs,
    v2_model_metadata,
    v2_server_metadata,
)

JSON = "application/json"
RECORDS: list[dict[str, Any]] = [{"age": 31, "city": "Köln"}, {"age": None, "city": 'a,"b"'}]


def invocations(document: Any, *, max_rows: int = 100) -> list[dict[str, Any]]:
    return parse_invocations(orjson.dumps(document), JSON, max_rows=max_rows)


def rejected(call: Any, *args: Any, status: int = 400, **kwargs: Any) -> str:
    """Run ``call`` expecting a RequestError with ``status``; return its message."""
    with pytest.raises(RequestError) as info:
        call(*args, **kwargs)
    assert info.value.status == status, str(info.value)
    assert isinstance(info.value, LoopmlError)
    return str(info.value)


def columnar(records: list[dict[str, Any]]) -> dict[str, list[Any]]:
    return {name: [row[name] for row in records] for name in records[0]}


def mlflow_bodies(records: list[dict[str, Any]]) -> dict[str, Any]:
    columns = list(records[0])
    return {
        "dataframe_split": {
            "columns": columns,
            "data": [[row[c] for c in columns] for row in records],
            "index": list(range(len(records))),
        },
        "dataframe_records": records,
        "instances (rows)": records,
        "instances (columns)": columnar(records),
        "inputs (rows)": records,
        "inputs (columns)": columnar(records),
    }


def mlflow_document(encoding: str, payload: Any) -> dict[str, Any]:
    return {encoding.split(" ")[0]: payload}


# -- MLflow: every format ------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", list(mlflow_bodies(RECORDS)))
def test_every_mlflow_json_format_gives_the_records(encoding: str) -> None:
    payload = mlflow_bodies(RECORDS)[encoding]
    assert invocations(mlflow_document(encoding, payload)) == RECORDS


def test_dataframe_split_without_index_and_params_are_accepted() -> None:
    document = {
        "dataframe_split": {"columns": ["x"], "data": [[1.5], [True]]},
        "params": {"threshold": 0.3},
    }
    assert invocations(document) == [{"x": 1.5}, {"x": True}]


def test_dataframe_records_rows_may_miss_keys_the_server_decides() -> None:
    assert invocations({"dataframe_records": [{"a": 1}, {"b": 2}]}) == [{"a": 1}, {"b": 2}]


@pytest.mark.parametrize(
    "content_type",
    [JSON, "application/json; charset=utf-8", "Application/JSON;charset=UTF-8", f"{JSON};"],
)
def test_json_content_types_with_or_without_charset(content_type: str) -> None:
    body = orjson.dumps({"dataframe_records": RECORDS})
    assert parse_invocations(body, content_type, max_rows=10) == RECORDS


def test_a_utf8_bom_before_json_is_ignored() -> None:
    body = b"\xef\xbb\xbf" + orjson.dumps({"dataframe_records": RECORDS})
    assert parse_invocations(body, JSON, max_rows=10) == RECORDS


# -- MLflow: CSV ---------------------------------------------------------------------------------


def csv_records(text: str | bytes, *, max_rows: int = 100, content_type: str = "text/csv") -> Any:
    body = text.encode() if isinstance(text, str) else text
    return parse_invocations(body, content_type, max_rows=max_rows)


def test_csv_keeps_values_as_strings_and_empty_fields_as_none() -> None:
    text = 'age,city,note\r\n31,Köln,"a,""b"""\r\n,"",\r\n'
    assert csv_records(text, content_type="text/csv; charset=utf-8") == [
        {"age": "31", "city": "Köln", "note": 'a,"b"'},
        {"age": None, "city": None, "note": None},
    ]


def test_csv_quoted_newlines_blank_lines_bom_and_pandas_index_column() -> None:
    text = '\ufeff,x,y\n0,1,"two\nlines"\n\n1,3,4\n'
    assert csv_records(text) == [{"x": "1", "y": "two\nlines"}, {"x": "3", "y": "4"}]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "expected a header row"),
        ("a,b\n", "expected at least one row, got none"),
        ("a,b\n1,2\n3\n", "line 3: expected 2 fields (one per header column), got 1"),
        ("a,a\n1,2\n", "expected unique column names, got 'a' twice"),
        ("a,,b\n1,2,3\n", "expected a name for every column, got an empty name in column 2"),
        ('a,b\n1,"x"y\n', "line 2: expected valid CSV"),
        (b"a,b\n1,\xff\n", "expected UTF-8 text, got an invalid byte at position 6"),
    ],
)
def test_malformed_csv_is_a_400_naming_the_problem(text: str | bytes, fragment: str) -> None:
    assert fragment in rejected(csv_records, text)


def test_csv_with_too_many_rows_is_a_413() -> None:
    message = rejected(csv_records, "a\n1\n2\n3\n", max_rows=2, status=413)
    assert "at most 2 rows" in message
    assert csv_records("a\n1\n2\n", max_rows=2) == [{"a": "1"}, {"a": "2"}]


# -- MLflow: errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "",
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/json; charset=latin-1",
        "application/json; format=pandas-split",
    ],
)
def test_unsupported_content_types_are_a_415(content_type: str | None) -> None:
    body = orjson.dumps({"dataframe_records": RECORDS})
    message = rejected(parse_invocations, body, content_type, max_rows=10, status=415)
    assert message.startswith("Content-Type: expected")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b'{"dataframe_records": [', "body: expected valid JSON, got a parse error"),
        (b"[1, 2]", "expected a JSON object with exactly one of 'dataframe_split'"),
        (b"{}", "got none"),
        (b'{"params": {}}', "got none"),
        (b'{"dataframe_records": [], "inputs": {}}', "got several: 'dataframe_records', 'inputs'"),
        (b'{"dataframe_record": []}', "unknown key 'dataframe_record'; did you mean"),
        (b'{"inputs": {"a": [1]}, "signature_name": "x"}', "unknown key 'signature_name'"),
        (b'{"inputs": {"a": [1]}, "params": [1]}', "params: expected an object, got a list"),
    ],
)
def test_malformed_json_bodies_are_a_400(body: bytes, fragment: str) -> None:
    assert fragment in rejected(parse_invocations, body, JSON, max_rows=10)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            {"dataframe_split": {"columns": "a,b", "data": [[1, 2]]}},
            "dataframe_split.columns: expected a list of column names, got a string ('a,b')",
        ),
        (
            {"dataframe_split": {"columns": ["a", 2], "data": [[1, 2]]}},
            "dataframe_split.columns[1]: expected a column name (a string), got a number",
        ),
        (
            {"dataframe_split": {"data": [[1]]}},
            "dataframe_split.columns: expected a list of column names, got nothing",
        ),
        (
            {"dataframe_split": {"columns": ["a"], "data": {"a": 1}}},
            "dataframe_split.data: expected a list of rows, got an object",
        ),
        (
            {"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2], [3]]}},
            "dataframe_split.data[1]: expected a list of 2 values (one per column), got 1 values",
        ),
        (
            {"dataframe_split": {"columns": ["a"], "data": [5]}},
            "dataframe_split.data[0]: expected a list of 1 values (one per column), got a number",
        ),
        (
            {"dataframe_split": {"columns": ["a"], "data": [[[1]]]}},
            "dataframe_split.data[0][0] (column 'a'): expected a scalar (number, string, boolean"
            " or null), got a list",
        ),
        (
            {"dataframe_split": {"columns": ["a"], "data": [[1]], "index": [0, 1]}},
            "dataframe_split.index: expected a list of 1 row labels (one per row), got 2 labels",
        ),
        (
            {"dataframe_split": {"colums": ["a"], "data": [[1]]}},
            "dataframe_split: unknown key 'colums'; did you mean 'columns'?",
        ),
        (
            {"dataframe_split": [[1]]},
            "dataframe_split: expected an object with 'columns' and 'data', got a list",
        ),
        (
            {"dataframe_split": {"columns": ["a", "a"], "data": [[1, 2]]}},
            "dataframe_split.columns: expected unique column names, got 'a' twice",
        ),
        (
            {"dataframe_records": {"a": [1]}},
            "dataframe_records: expected a list of objects (one per row), got an object",
        ),
        (
            {"dataframe_records": [{"a": 1}, [1]]},
            "dataframe_records[1]: expected an object mapping column names to values, got a list",
        ),
        (
            {"dataframe_records": [{"a": {"b": 1}}]},
            "dataframe_records[0]['a']: expected a scalar",
        ),
        (
            {"instances": [[1, 2], [3, 4]]},
            "instances: expected a list of objects (one per row) or an object mapping each column"
            " to a list of values, got a list holding a list at index 0",
        ),
        ({"inputs": [1, 2]}, "got a list holding a number at index 0"),
        ({"inputs": "a"}, "inputs: expected a list of objects (one per row), got a string"),
        (
            {"inputs": {"a": 1}},
            "inputs['a']: expected a list of values (one per row), got a number",
        ),
        ({"inputs": {}}, "inputs: expected at least one column, got an empty object"),
        (
            {"instances": {"a": [1, 2], "b": [1]}},
            "instances: expected columns of equal length, got 2 values in 'a' and 1 in 'b'",
        ),
        ({"dataframe_records": []}, "dataframe_records: expected at least one row, got none"),
    ],
)
def test_wrong_types_are_a_400_naming_the_field(document: Any, message: str) -> None:
    assert message in rejected(invocations, document)


def test_instances_list_of_lists_points_to_dataframe_split() -> None:
    assert "dataframe_split with 'columns'" in rejected(invocations, {"instances": [[1, 2]]})


@pytest.mark.parametrize("encoding", list(mlflow_bodies(RECORDS)))
def test_too_many_rows_is_a_413_in_every_format(encoding: str) -> None:
    records = [{"a": i} for i in range(3)]
    document = mlflow_document(encoding, mlflow_bodies(records)[encoding])
    message = rejected(invocations, document, max_rows=2, status=413)
    assert "expected at most 2 rows per request, got 3" in message
    assert len(invocations(document, max_rows=3)) == 3


def test_invocations_response_is_mlflows_shape() -> None:
    response = invocations_response([np.int64(1), np.float64(0.5), "a", True, None])
    assert response == {"predictions": [1, 0.5, "a", True, None]}
    assert type(response["predictions"][0]) is int
    assert orjson.loads(orjson.dumps(response)) == response


# -- Open Inference Protocol (V2) ------------------------------------------------------------------

NAMES = ["age", "city", "member", "visits"]


def v2_body(*inputs: Any, **extra: Any) -> bytes:
    return orjson.dumps({"inputs": list(inputs), **extra})


def tensor(name: str, datatype: Any, data: list[Any], shape: list[int] | None = None) -> Any:
    return {"name": name, "datatype": datatype, "shape": shape or [len(data)], "data": data}


def v2(body: bytes, *, max_rows: int = 100, **kwargs: Any) -> Any:
    return parse_v2_infer(body, max_rows=max_rows, **kwargs)


def test_server_and_model_metadata() -> None:
    assert v2_server_metadata("0.1.0") == {"name": "loopml", "version": "0.1.0", "extensions": []}
    schema = Schema(
        {
            name: ColumnSchema(name=name, dtype="x", kind=kind)
            for name, kind in list[tuple[str, Kind]](
                [
                    ("age", "numeric"),
                    ("city", "categorical"),
                    ("member", "boolean"),
                    ("seen", "datetime"),
                ]
            )
        }
    )
    inputs = v2_model_inputs(schema)
    assert inputs == [("age", "FP64"), ("city", "BYTES"), ("member", "BOOL"), ("seen", "BYTES")]
    metadata = v2_model_metadata(
        "churn", ["3"], "loopml_lightgbm", inputs, [("predictions", "BYTES", [-1])]
    )
    assert metadata == {
        "name": "churn",
        "versions": ["3"],
        "platform": "loopml_lightgbm",
        "inputs": [
            {"name": "age", "datatype": "FP64", "shape": [-1]},
            {"name": "city", "datatype": "BYTES", "shape": [-1]},
            {"name": "member", "datatype": "BOOL", "shape": [-1]},
            {"name": "seen", "datatype": "BYTES", "shape": [-1]},
        ],
        "outputs": [{"name": "predictions", "datatype": "BYTES", "shape": [-1]}],
    }


def test_v2_flat_and_nested_tensors_give_records_id_and_outputs() -> None:
    body = v2_body(
        tensor("age", "FP64", [31.5, None]),
        tensor("city", "BYTES", [["Köln"], ["a,b"]], shape=[2, 1]),
        tensor("member", "BOOL", [True, False]),
        tensor("visits", "UINT8", [3, 255]),
        id="req-1",
        outputs=[{"name": "predictions"}],
        parameters={"content_type": "pd"},
    )
    records, request_id, outputs = v2(body)
    assert records == [
        {"age": 31.5, "city": "Köln", "member": True, "visits": 3},
        {"age": None, "city": "a,b", "member": False, "visits": 255},
    ]
    assert (request_id, outputs) == ("req-1", ["predictions"])


def test_v2_missing_inputs_are_left_to_the_server() -> None:
    records, request_id, outputs = v2(v2_body(tensor("age", "INT64", [1, 2])))
    assert records == [{"age": 1}, {"age": 2}]
    assert request_id is None and outputs is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            v2_body(tensor("age", "FP64", [1.0, 2.0]), tensor("city", "BYTES", ["a"])),
            "inputs[1] 'city'.shape: expected 2 rows like input 'age' (every input has one value"
            " per row), got 1",
        ),
        (
            v2_body(tensor("age", "FP64", [1.0, 2.0], shape=[3])),
            "inputs[0] 'age'.data: expected 3 values (one per row, as the shape says), got 2",
        ),
        (
            v2_body(tensor("age", "FP64", [1.0, 2.0], shape=[1, 2])),
            "inputs[0] 'age'.shape: expected [N] or [N, 1] (one tensor per feature",
        ),
        (
            v2_body(tensor("age", "FP64", [1.0], shape=[-1])),
            "inputs[0] 'age'.shape: expected a list of non-negative integers, got [-1]",
        ),
        (v2_body(tensor("age", "FP64", [], shape=[0])), "expected at least one row, got none"),
        (v2_body(tensor("age", "FP64", [1, 2], shape=[2, 1]) | {"data": 1}), "got a number"),
        (
            v2_body(tensor("age", "FP64", [1.0, "abc"])),
            "inputs[0] 'age' (FP64): expected a number at data index 1, got a string ('abc')",
        ),
        (v2_body(tensor("age", "FP32", [True])), "expected a number at data index 0, got a bool"),
        (
            v2_body(tensor("visits", "INT8", [1, 300])),
            "inputs[0] 'visits' (INT8): expected an integer in [-128, 127] at data index 1",
        ),
        (v2_body(tensor("visits", "UINT8", [-1])), "expected an integer in [0, 255]"),
        (v2_body(tensor("visits", "INT64", [1.5])), "at data index 0, got a number"),
        (v2_body(tensor("member", "BOOL", [1])), "(BOOL): expected a boolean at data index 0"),
        (v2_body(tensor("city", "BYTES", [3])), "(BYTES): expected a string at data index 0"),
        (v2_body(tensor("city", "BYTES", [[["a"]]])), "got a list"),
        (v2_body(tensor("city", "STRING", ["a"])), "'city'.datatype: expected one of BOOL"),
        (v2_body(tensor("city", ["BYTES"], ["a"])), "datatype: expected one of BOOL, BYTES"),
        (
            v2_body(tensor("age", "FP64", [1.0]), tensor("age", "FP64", [2.0])),
            "inputs[1].name: expected each input once, got 'age' twice",
        ),
        (v2_body({"datatype": "FP64"}), "inputs[0].name: expected a string, got nothing"),
        (v2_body([1]), "inputs[0]: expected a tensor object, got a list"),
        (v2_body(), "inputs: expected a non-empty list of input tensors, got an empty list"),
        (orjson.dumps({"id": "x"}), "inputs: expected a non-empty list"),
        (orjson.dumps([1]), "body: expected a JSON object with 'inputs', got a list"),
        (b'{"inputs": [', "body: expected valid JSON"),
        (v2_body(tensor("age", "FP64", [1.0]), id=7), "id: expected a string, got a number"),
        (v2_body(tensor("age", "FP64", [1.0]), outputs={}), "outputs: expected a list"),
        (
            v2_body(tensor("age", "FP64", [1.0]), outputs=[{"name": "prediction"}]),
            "outputs[0].name: unknown output 'prediction'; did you mean 'predictions'?",
        ),
        (v2_body(tensor("age", "FP64", [1.0]), outputs=["x"]), "outputs[0]: expected an object"),
    ],
)
def test_v2_bad_requests_are_a_400_naming_the_tensor(body: bytes, message: str) -> None:
    assert message in rejected(v2, body)


def test_v2_too_many_rows_is_a_413() -> None:
    body = v2_body(tensor("age", "FP64", [1.0, 2.0, 3.0]))
    assert "expected at most 2 rows per request, got 3" in rejected(
        v2, body, max_rows=2, status=413
    )


@pytest.mark.parametrize("datatype", sorted(V2_ACCEPTED_DATATYPES - {"BYTES", "BOOL"}))
def test_every_numeric_datatype_accepts_small_integers(datatype: str) -> None:
    records, _, _ = v2(v2_body(tensor("visits", datatype, [0, 7, None])))
    assert [row["visits"] for row in records] == [0, 7, None]


# -- V2 responses ----------------------------------------------------------------------------------


def response(predictions: Any, **kwargs: Any) -> dict[str, Any]:
    arguments = {"probabilities": None, "classes": None, **kwargs}
    return v2_infer_response(
        model_name="churn", model_version="3", request_id="r1", predictions=predictions, **arguments
    )


@pytest.mark.parametrize(
    ("predictions", "datatype", "data"),
    [
        ([True, False], "BOOL", [True, False]),
        ([np.bool_(True), None], "BOOL", [True, None]),
        ([1, 2], "INT64", [1, 2]),
        (np.array([1, 2]), "INT64", [1, 2]),
        ([1, None], "FP64", [1.0, None]),
        ([1, 2.5], "FP64", [1.0, 2.5]),
        (np.array([0.25]), "FP64", [0.25]),
        (["yes", None], "BYTES", ["yes", None]),
        (np.array(["a", "b"]), "BYTES", ["a", "b"]),
        (["a", 1], "BYTES", ["a", "1"]),
        ([None], "FP64", [None]),
    ],
)
def test_v2_prediction_datatype_follows_the_values(
    predictions: Any, datatype: str, data: list[Any]
) -> None:
    body = response(predictions)
    assert body["model_name"] == "churn" and body["model_version"] == "3" and body["id"] == "r1"
    [output] = body["outputs"]
    assert output == {
        "name": "predictions",
        "datatype": datatype,
        "shape": [len(data)],
        "data": data,
    }


def test_v2_probabilities_are_row_major_with_classes_and_outputs_filter() -> None:
    body = response(["no", "yes"], probabilities=[[0.9, 0.1], [0.2, 0.8]], classes=["no", "yes"])
    assert body["outputs"][1] == {
        "name": "probabilities",
        "datatype": "FP64",
        "shape": [2, 2],
        "data": [0.9, 0.1, 0.2, 0.8],
        "parameters": {"classes": ["no", "yes"]},
    }
    only = response(
        ["no"], probabilities=[[0.9, 0.1]], classes=["no", "yes"], outputs=["probabilities"]
    )
    assert [output["name"] for output in only["outputs"]] == ["probabilities"]


def test_v2_asking_a_regressor_for_probabilities_is_a_400() -> None:
    message = rejected(response, [1.5], outputs=["probabilities"])
    assert "'probabilities' is not produced by this model" in message


def test_v2_probabilities_of_the_wrong_shape_are_a_server_bug() -> None:
    with pytest.raises(ValueError, match=r"expected shape \(2, 2\)"):
        response(["a", "b"], probabilities=[[0.5, 0.5]], classes=["a", "b"])


# -- a real third-party client: tritonclient.http --------------------------------------------------


def triton_input(name: str, datatype: str, values: np.ndarray, *, binary: bool) -> Any:
    infer_input = triton.InferInput(name, list(values.shape), datatype)
    infer_input.set_data_from_numpy(values, binary_data=binary)
    return infer_input


def triton_inputs(*, binary: bool) -> list[Any]:
    return [
        triton_input("age", "FP64", np.array([31.5, 40.0, 0.1]), binary=binary),
        triton_input(
            "city", "BYTES", np.array([["Köln"], ['a,"b"'], [""]], dtype=object), binary=binary
        ),
        triton_input("member", "BOOL", np.array([True, False, True]), binary=binary),
        triton_input("visits", "INT32", np.array([1, -2, 3], dtype=np.int32), binary=binary),
    ]


TRITON_RECORDS = [
    {"age": 31.5, "city": "Köln", "member": True, "visits": 1},
    {"age": 40.0, "city": 'a,"b"', "member": False, "visits": -2},
    {"age": 0.1, "city": "", "member": True, "visits": 3},
]


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_tritonclient_request_bodies_parse(binary: bool) -> None:
    outputs = [triton.InferRequestedOutput("predictions", binary_data=False)]
    body, header_length = triton.InferenceServerClient.generate_request_body(
        triton_inputs(binary=binary), outputs=outputs, request_id="req-7"
    )
    assert (header_length is not None) is binary
    records, request_id, requested = v2(body, header_length=header_length)
    assert records == TRITON_RECORDS
    assert (request_id, requested) == ("req-7", ["predictions"])


def test_tritonclient_binary_body_without_the_header_length_says_what_to_send() -> None:
    body, header_length = triton.InferenceServerClient.generate_request_body(
        triton_inputs(binary=True)
    )
    assert "needs the Inference-Header-Content-Length header" in rejected(v2, body)
    assert "expected at most the body size" in rejected(v2, body, header_length=len(body) + 1)
    assert "expected 61 bytes of binary tensor data" in rejected(
        v2, body + b"!", header_length=header_length
    )
    json_part = orjson.loads(body[:header_length])
    json_part["inputs"][0]["parameters"]["binary_data_size"] = 16
    short = orjson.dumps(json_part)
    message = rejected(v2, short + body[header_length:], header_length=len(short))
    assert "expected 24 bytes (3 FP64 values), got 16" in message


def binary_request(datatype: str, shape: list[int], size: Any, payload: bytes) -> Any:
    header = v2_body(
        {
            "name": "city",
            "datatype": datatype,
            "shape": shape,
            "parameters": {"binary_data_size": size},
        }
    )
    return header + payload, len(header)


def bytes_elements(*items: bytes) -> bytes:
    return b"".join(len(item).to_bytes(4, "little") + item for item in items)


@pytest.mark.parametrize(
    ("request_parts", "message"),
    [
        (binary_request("BYTES", [1], "4", b""), "binary_data_size: expected a byte count, got a"),
        (binary_request("BYTES", [1], 9, b"abc"), "expected 9 bytes of binary data, got 3"),
        (
            binary_request("BYTES", [3], 10, bytes_elements(b"a", b"b")),
            "'city': expected 3 values (one per row), got 2",
        ),
        (
            binary_request("BYTES", [1], 6, bytes_elements(b"abc")[:6]),
            "expected length-prefixed BYTES elements, got a truncated element at index 0",
        ),
        (
            binary_request("BYTES", [2], 10, bytes_elements(b"a", b"\xff")),
            "expected UTF-8 text at index 1, got undecodable bytes",
        ),
    ],
)
def test_malformed_binary_tensor_data_is_a_400(request_parts: Any, message: str) -> None:
    body, header_length = request_parts
    assert message in rejected(v2, body, header_length=header_length)


def test_binary_data_size_without_a_binary_part_is_a_400() -> None:
    body, _ = binary_request("BYTES", [1], 5, b"")
    assert "the request has no binary part" in rejected(v2, body)


def test_tritonclient_reads_v2_responses() -> None:
    body = response(
        np.array(["no", "yes"]),
        probabilities=np.array([[0.9, 0.1], [0.25, 0.75]]),
        classes=["no", "yes"],
    )
    result = triton.InferResult.from_response_body(orjson.dumps(body))
    assert result.as_numpy("predictions").tolist() == ["no", "yes"]
    probabilities = result.as_numpy("probabilities")
    assert probabilities.shape == (2, 2) and probabilities.dtype == np.float64
    np.testing.assert_array_equal(probabilities, [[0.9, 0.1], [0.25, 0.75]])
    assert result.get_output("probabilities")["parameters"]["classes"] == ["no", "yes"]
    assert result.get_response()["id"] == "r1"

    regression = triton.InferResult.from_response_body(orjson.dumps(response([1.5, 2])))
    np.testing.assert_array_equal(regression.as_numpy("predictions"), [1.5, 2.0])
    assert regression.as_numpy("probabilities") is None
    counts = triton.InferResult.from_response_body(orjson.dumps(response([1, 2])))
    assert counts.as_numpy("predictions").dtype == np.int64


# -- properties ------------------------------------------------------------------------------------

names = st.text(st.characters(codec="utf-8", exclude_characters="\ufeff"), min_size=1, max_size=8)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=10),
)
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def tables(draw: st.DrawFn, values: st.SearchStrategy[Any] = scalars) -> list[dict[str, Any]]:
    columns = draw(st.lists(names, min_size=1, max_size=4, unique=True))
    rows = draw(st.integers(1, 6))
    return [{column: draw(values) for column in columns} for _ in range(rows)]


TRICKY: list[dict[str, Any]] = [
    {"a,b": 'x "y", z', "ünï\ncode": None, "n": -0.0},
    {"a,b": "", "ünï\ncode": "日本\r\n", "n": 2**63 - 1},
]


@pytest.mark.parametrize("encoding", list(mlflow_bodies(RECORDS)))
@PROPERTY
@given(records=tables())
@example(records=TRICKY)
def test_every_mlflow_encoding_round_trips(encoding: str, records: list[dict[str, Any]]) -> None:
    document = mlflow_document(encoding, mlflow_bodies(records)[encoding])
    assert invocations(document) == records


csv_values = st.one_of(
    st.none(),
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=10),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False, allow_infinity=False),
)


@PROPERTY
@given(records=tables(csv_values))
@example(records=[{"a,b": 'x "y", z', "ü": None}, {"a,b": None, "ü": "日本\r\nline"}])
@example(records=[{"only": None}, {"only": 1.5}])
def test_csv_round_trips_as_strings(records: list[dict[str, Any]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(list(records[0]))
    writer.writerows([["" if v is None else v for v in row.values()] for row in records])
    expected = [{k: None if v is None else str(v) for k, v in row.items()} for row in records]
    assert csv_records(buffer.getvalue()) == expected


V2_VALUES = {
    "FP64": st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(-99, 99)),
    "FP32": st.floats(width=32, allow_nan=False, allow_infinity=False),
    "INT64": st.integers(-(2**63), 2**63 - 1),
    "UINT16": st.integers(0, 2**16 - 1),
    "BOOL": st.booleans(),
    "BYTES": st.text(max_size=10),
}


@st.composite
def v2_requests(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    columns = draw(st.lists(names, min_size=1, max_size=4, unique=True))
    rows = draw(st.integers(1, 6))
    tensors = []
    for name in columns:
        datatype = draw(st.sampled_from(sorted(V2_VALUES)))
        data = draw(st.lists(st.none() | V2_VALUES[datatype], min_size=rows, max_size=rows))
        if draw(st.booleans()):
            tensors.append(tensor(name, datatype, [[v] for v in data], shape=[rows, 1]))
        else:
            tensors.append(tensor(name, datatype, data))
    records = [{t["name"]: _flat(t["data"])[i] for t in tensors} for i in range(rows)]
    return tensors, records


def _flat(data: list[Any]) -> list[Any]:
    return [v[0] if isinstance(v, list) else v for v in data]


@PROPERTY
@given(request=v2_requests())
def test_v2_tensors_round_trip(request: tuple[list[dict[str, Any]], list[dict[str, Any]]]) -> None:
    tensors, expected = request
    records, _, _ = parse_v2_infer(v2_body(*tensors), max_rows=10)
    assert records == expected


@PROPERTY
@given(
    ages=st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=6),
    binary=st.booleans(),
    data=st.data(),
)
def test_tritonclient_tensors_round_trip(
    ages: list[float], binary: bool, data: st.DataObject
) -> None:
    cities = data.draw(st.lists(st.text(max_size=10), min_size=len(ages), max_size=len(ages)))
    inputs = [
        triton_input("age", "FP64", np.array(ages, dtype=np.float64), binary=binary),
        triton_input("city", "BYTES", np.array(cities, dtype=object), binary=binary),
    ]
    body, header_length = triton.InferenceServerClient.generate_request_body(inputs)
    records, _, _ = v2(body, header_length=header_length)
    assert records == [{"age": a, "city": c} for a, c in zip(ages, cities, strict=True)]


KEYS = [
    *("dataframe_split", "columns", "data", "index", "dataframe_records", "instances", "inputs"),
    *("params", "id", "name", "shape", "datatype", "parameters", "binary_data_size", "outputs"),
    *NAMES,
]
json_documents = st.recursive(
    scalars | st.sampled_from(["FP64", "BYTES", "INT8", "BOOL"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=3), children, max_size=4)
    ),
    max_leaves=25,
)


@PROPERTY
@given(document=json_documents)
def test_any_json_is_records_or_a_request_error_never_a_crash(document: Any) -> None:
    body = orjson.dumps(document)
    for parse in (
        lambda: parse_invocations(body, JSON, max_rows=5),
        lambda: parse_v2_infer(body, max_rows=5),
        lambda: parse_v2_infer(body + b"\x01\x00", max_rows=5, header_length=len(body)),
    ):
        try:
            result = parse()
        except RequestError as error:
            assert error.status in (400, 413)
        else:
            records = result[0] if isinstance(result, tuple) else result
            assert records and all(isinstance(row, dict) for row in records)


@PROPERTY
@given(body=st.binary(max_size=60))
def test_any_bytes_as_csv_are_records_or_a_request_error(body: bytes) -> None:
    try:
        records = parse_invocations(body, "text/csv", max_rows=5)
    except RequestError as error:
        assert error.status in (400, 413)
    else:
        assert records and all(isinstance(row, dict) for row in records)
