"""The Open Inference Protocol (KServe V2, REST), with Triton's binary tensor extension.

Decisions, written here because clients will ask:
- One input tensor per feature, named after it, of shape ``[N]`` or ``[N, 1]`` (MLServer's pandas
  codec convention); ``data`` flat or nested one level; every tensor has the same N. Which names
  are known and how many features may be missing is the input contract's, the same on every
  protocol (:mod:`loopml.serving.inputs`): an unknown name, or a request whose tensors are all
  null, is a 422 there.
- ``null`` is accepted in any tensor as a missing value, and so are the tokens ``NaN`` and
  ``Infinity`` (read as null) and non-finite binary floats. Values are returned as sent: the
  datatype is checked (an INT8 tensor holds integers in [-128, 127]), not applied.
- Binary tensor data (Triton's extension and tritonclient's default) is read when the server
  passes the ``Inference-Header-Content-Length`` request header as ``header_length``.
- Outputs: ``predictions`` (shape [N], datatype from the values) and, for classifiers,
  ``probabilities`` (FP64, shape [N, n_classes], row-major, ``parameters.classes``). Outputs are
  always JSON; a client asking for binary outputs reads the JSON ``data`` just as well.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from loopml.errors import RequestError, did_you_mean
from loopml.serving.protocols._common import (
    _MISSING,
    _check_rows,
    _load_json,
    _plain,
    _quoted,
    _what,
)

if TYPE_CHECKING:
    from loopml.data.schema import Schema

V2_DATATYPES = {"numeric": "FP64", "categorical": "BYTES", "boolean": "BOOL", "datetime": "BYTES"}
_BITS = (8, 16, 32, 64)
_INT_RANGES = {
    **{f"INT{bits}": (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) for bits in _BITS},
    **{f"UINT{bits}": (0, 2**bits - 1) for bits in _BITS},
}
_NUMPY_DTYPES = {  # little-endian, as Triton's binary tensor data is laid out
    "BOOL": "?",
    "FP16": "<f2",
    "FP32": "<f4",
    "FP64": "<f8",
    **{f"INT{bits}": f"<i{bits // 8}" for bits in _BITS},
    **{f"UINT{bits}": f"<u{bits // 8}" for bits in _BITS},
}
V2_ACCEPTED_DATATYPES = frozenset({*_NUMPY_DTYPES, "BYTES"})
V2_OUTPUTS = ("predictions", "probabilities")


def v2_server_metadata(version: str) -> dict[str, Any]:
    """The ``GET /v2`` body."""
    return {"name": "loopml", "version": version, "extensions": []}


def v2_model_inputs(schema: Schema) -> list[tuple[str, str]]:
    """(name, V2 datatype) per feature of an input schema, for :func:`v2_model_metadata`."""
    return [(column.name, V2_DATATYPES[column.kind]) for column in schema.columns.values()]


def v2_model_metadata(
    name: str,
    versions: list[str],
    platform: str,
    inputs: list[tuple[str, str]],
    outputs: list[tuple[str, str, list[int]]],
) -> dict[str, Any]:
    """The ``GET /v2/models/{name}`` body; every input is a column of shape ``[-1]``."""
    return {
        "name": name,
        "versions": list(versions),
        "platform": platform,
        "inputs": [{"name": n, "datatype": d, "shape": [-1]} for n, d in inputs],
        "outputs": [{"name": n, "datatype": d, "shape": list(s)} for n, d, s in outputs],
    }


def parse_v2_infer(
    body: bytes, *, max_rows: int, header_length: int | None = None
) -> tuple[list[dict[str, Any]], str | None, list[str] | None]:
    """Read a V2 inference request into (records, request id, requested output names or None).

    ``header_length`` is the ``Inference-Header-Content-Length`` request header: the size of the
    JSON part when binary tensor data follows it.
    """
    binary: bytes | None = None
    if header_length is not None:
        if not 0 <= header_length <= len(body):
            raise RequestError(
                f"Inference-Header-Content-Length: expected at most the body size "
                f"({len(body)}), got {header_length}"
            )
        body, binary = body[:header_length], body[header_length:]
    hint = ""
    if binary is None and b'"binary_data_size"' in body:
        hint = "; binary tensor data needs the Inference-Header-Content-Length header"
    document = _load_json(body, hint)
    if not isinstance(document, dict):
        raise RequestError(f"body: expected a JSON object with 'inputs', got {_what(document)}")
    request_id = document.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise RequestError(f"id: expected a string, got {_what(request_id)}")
    tensors = document.get("inputs", _MISSING)
    if not isinstance(tensors, list) or not tensors:
        got = "an empty list" if tensors == [] else _what(tensors)
        raise RequestError(f"inputs: expected a non-empty list of input tensors, got {got}")
    columns: dict[str, list[Any]] = {}
    offset = 0
    for i, tensor in enumerate(tensors):
        if not isinstance(tensor, dict):
            raise RequestError(f"inputs[{i}]: expected a tensor object, got {_what(tensor)}")
        name = tensor.get("name", _MISSING)
        if not isinstance(name, str):
            raise RequestError(f"inputs[{i}].name: expected a string, got {_what(name)}")
        if name in columns:
            raise RequestError(f"inputs[{i}].name: expected each input once, got '{name}' twice")
        where = f"inputs[{i}] '{name}'"
        datatype = tensor.get("datatype", _MISSING)
        if not isinstance(datatype, str) or datatype not in V2_ACCEPTED_DATATYPES:
            raise RequestError(
                f"{where}.datatype: expected one of {', '.join(sorted(V2_ACCEPTED_DATATYPES))}, "
                f"got {_what(datatype)}"
            )
        rows = _v2_rows(tensor.get("shape", _MISSING), where, max_rows)
        first = next(iter(columns), None)
        if first is not None and rows != len(columns[first]):
            raise RequestError(
                f"{where}.shape: expected {len(columns[first])} rows like input '{first}' "
                f"(every input has one value per row), got {rows}"
            )
        parameters = tensor.get("parameters") or {}
        size = parameters.get("binary_data_size") if isinstance(parameters, dict) else None
        if size is None:
            values = _v2_json_values(tensor.get("data", _MISSING), where, rows)
        else:
            values = _v2_binary_values(binary, offset, size, datatype, rows, where)
            offset += size
        _check_datatype(values, datatype, where)
        columns[name] = values
    if binary is not None and offset != len(binary):
        raise RequestError(
            f"body: expected {offset} bytes of binary tensor data (the sum of binary_data_size), "
            f"got {len(binary)}"
        )
    names = list(columns)
    records = [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]
    return records, request_id, _v2_requested(document.get("outputs"))


def _v2_rows(shape: Any, where: str, max_rows: int) -> int:
    if not isinstance(shape, list) or not all(
        isinstance(dim, int) and not isinstance(dim, bool) and dim >= 0 for dim in shape
    ):
        got = shape if isinstance(shape, list) else _what(shape)
        raise RequestError(f"{where}.shape: expected a list of non-negative integers, got {got}")
    if not (len(shape) == 1 or (len(shape) == 2 and shape[1] == 1)):
        raise RequestError(
            f"{where}.shape: expected [N] or [N, 1] (one tensor per feature, one value per row), "
            f"got {shape}"
        )
    _check_rows(shape[0], max_rows, f"{where}.shape")
    return int(shape[0])


def _v2_json_values(data: Any, where: str, rows: int) -> list[Any]:
    if not isinstance(data, list):
        raise RequestError(f"{where}.data: expected a list of {rows} values, got {_what(data)}")
    values: list[Any] = []
    for item in data:
        if isinstance(item, list):
            values.extend(item)
        else:
            values.append(item)
    if len(values) != rows:
        raise RequestError(
            f"{where}.data: expected {rows} values (one per row, as the shape says), "
            f"got {len(values)}"
        )
    return values


def _v2_binary_values(
    binary: bytes | None, offset: int, size: Any, datatype: str, rows: int, where: str
) -> list[Any]:
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise RequestError(
            f"{where}.parameters.binary_data_size: expected a byte count, got {_what(size)}"
        )
    if binary is None:
        raise RequestError(
            f"{where}: binary_data_size is set but the request has no binary part; send the "
            "Inference-Header-Content-Length header, or JSON data"
        )
    chunk = binary[offset : offset + size]
    if len(chunk) != size:
        raise RequestError(
            f"{where}.parameters.binary_data_size: expected {size} bytes of binary data, "
            f"got {len(chunk)}"
        )
    if datatype == "BYTES":
        values = _decode_bytes_tensor(chunk, where)
    else:
        dtype = np.dtype(_NUMPY_DTYPES[datatype])
        if size != rows * dtype.itemsize:
            raise RequestError(
                f"{where}.parameters.binary_data_size: expected {rows * dtype.itemsize} bytes "
                f"({rows} {datatype} values), got {size}"
            )
        values = np.frombuffer(chunk, dtype=dtype).tolist()
    if len(values) != rows:
        raise RequestError(f"{where}: expected {rows} values (one per row), got {len(values)}")
    return values


def _decode_bytes_tensor(chunk: bytes, where: str) -> list[Any]:
    """Triton's BYTES serialisation: each element is a 4-byte little-endian length, then bytes."""
    values: list[Any] = []
    position = 0
    while position < len(chunk):
        length = int.from_bytes(chunk[position : position + 4], "little")
        item = chunk[position + 4 : position + 4 + length]
        if position + 4 > len(chunk) or len(item) != length:
            raise RequestError(
                f"{where}: expected length-prefixed BYTES elements, got a truncated element "
                f"at index {len(values)}"
            )
        try:
            values.append(item.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise RequestError(
                f"{where}: expected UTF-8 text at index {len(values)}, got undecodable bytes"
            ) from exc
        position += 4 + length
    return values


def _check_datatype(values: list[Any], datatype: str, where: str) -> None:
    low, high = _INT_RANGES.get(datatype, (0, 0))
    if datatype == "BYTES":
        expected = "a string"
    elif datatype == "BOOL":
        expected = "a boolean"
    elif datatype.startswith("FP"):
        expected = "a number"
    else:
        expected = f"an integer in [{low}, {high}]"
    for index, value in enumerate(values):
        if value is None:
            continue
        if datatype == "BYTES":
            ok = isinstance(value, str)
        elif datatype == "BOOL":
            ok = isinstance(value, bool)
        elif isinstance(value, bool):
            ok = False
        elif datatype.startswith("FP"):
            ok = isinstance(value, int | float)
        else:
            ok = isinstance(value, int) and low <= value <= high
        if not ok:
            raise RequestError(
                f"{where} ({datatype}): expected {expected} at data index {index}, "
                f"got {_what(value)}"
            )


def _v2_requested(outputs: Any) -> list[str] | None:
    if outputs is None:
        return None
    if not isinstance(outputs, list):
        raise RequestError(f"outputs: expected a list of requested outputs, got {_what(outputs)}")
    names = []
    for i, output in enumerate(outputs):
        name = output.get("name", _MISSING) if isinstance(output, dict) else _MISSING
        if not isinstance(name, str):
            got = _what(name) if isinstance(output, dict) else _what(output)
            raise RequestError(f"outputs[{i}]: expected an object with a 'name' string, got {got}")
        if name not in V2_OUTPUTS:
            raise RequestError(
                f"outputs[{i}].name: unknown output '{name}'{did_you_mean(name, V2_OUTPUTS)} "
                f"(outputs: {_quoted(V2_OUTPUTS)})"
            )
        names.append(name)
    return names or None


def _prediction_tensor(values: list[Any]) -> tuple[str, list[Any]]:
    """The datatype the values fit and the values in that type (integers with nulls → FP64)."""
    present = [value for value in values if value is not None]
    if all(isinstance(value, bool) for value in present) and present:
        return "BOOL", values
    if all(isinstance(value, int | float) and not isinstance(value, bool) for value in present):
        if present and len(present) == len(values) and all(isinstance(v, int) for v in present):
            return "INT64", values
        return "FP64", [None if value is None else float(value) for value in values]
    return "BYTES", [
        value if value is None or isinstance(value, str) else str(value) for value in values
    ]


def v2_infer_response(
    *,
    model_name: str,
    model_version: str,
    request_id: str,
    predictions: Sequence[Any],
    probabilities: Sequence[Sequence[float]] | None,
    classes: Sequence[str] | None,
    outputs: list[str] | None = None,
) -> dict[str, Any]:
    """The V2 inference response body; ``outputs`` (from :func:`parse_v2_infer`) filters it."""
    datatype, values = _prediction_tensor([_plain(value) for value in predictions])
    tensors: list[dict[str, Any]] = [
        {"name": "predictions", "datatype": datatype, "shape": [len(values)], "data": values}
    ]
    if probabilities is not None:
        matrix = np.asarray(probabilities, dtype=np.float64)
        width = len(classes) if classes is not None else (matrix.shape[-1] if matrix.ndim else 0)
        if matrix.shape != (len(values), width):
            raise ValueError(
                f"probabilities: expected shape ({len(values)}, {width}) (rows × classes), "
                f"got {matrix.shape}"
            )
        tensor: dict[str, Any] = {
            "name": "probabilities",
            "datatype": "FP64",
            "shape": [len(values), width],
            "data": matrix.ravel().tolist(),
        }
        if classes is not None:
            tensor["parameters"] = {"classes": [_plain(label) for label in classes]}
        tensors.append(tensor)
    if outputs is not None:
        available = [tensor["name"] for tensor in tensors]
        for name in outputs:
            if name not in available:
                raise RequestError(
                    f"outputs: '{name}' is not produced by this model (probabilities come only "
                    f"from classifiers); available outputs: {_quoted(available)}"
                )
        tensors = [tensor for tensor in tensors if tensor["name"] in outputs]
    return {
        "model_name": model_name,
        "model_version": model_version,
        "id": request_id,
        "outputs": tensors,
    }
