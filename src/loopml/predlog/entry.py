"""One logged prediction (:class:`LogEntry`) and the columns every segment has (:data:`SCHEMA`).

``features`` and ``outputs`` are stored as JSON strings (orjson), so records of any shape share
one schema; :func:`loopml.predlog.decode_features` expands them into columns when monitoring
needs them. ``ts`` without a time zone is taken as UTC.

**Long strings are cut in the log only.** A string in ``features`` or ``outputs`` (a value or a
key, at any depth) longer than :data:`MAX_LOGGED_STRING` characters is written as its first
:data:`MAX_LOGGED_STRING` characters and a marker, ``…[truncated from 20,000,000 characters]``;
so a client sending a 20 MB string value makes a small log row, not a 15 MB segment. The entry
itself is never changed (the model already saw, and a shadow may still see, the whole value):
the cut is made on a copy while the segment is encoded, and only when the row's JSON is longer
than the cap at all, so ordinary rows cost nothing more.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import polars as pl
import pyarrow as pa

from loopml.errors import LoopmlError

#: The columns of every segment, in order.
SCHEMA = pa.schema(
    [
        pa.field("ts", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("request_id", pa.string(), nullable=False),
        pa.field("deployment", pa.string(), nullable=False),
        pa.field("model_version", pa.string(), nullable=False),
        pa.field("route", pa.string(), nullable=False),
        pa.field("features", pa.string(), nullable=False),
        pa.field("outputs", pa.string(), nullable=False),
        pa.field("latency_ms", pa.float64(), nullable=False),
        pa.field("error", pa.string()),
        pa.field("score", pa.float64()),
    ],
    metadata={"loopml.prediction_log": "1"},
)
#: :data:`SCHEMA` as Polars reads it back.
_FRAME_SCHEMA = pl.Schema(
    {
        "ts": pl.Datetime("us", "UTC"),
        **{name: pl.String() for name in ("request_id", "deployment", "model_version", "route")},
        "features": pl.String(),
        "outputs": pl.String(),
        "latency_ms": pl.Float64(),
        "error": pl.String(),
        "score": pl.Float64(),
    }
)
#: The longest string (in characters) written to the log as it is; a longer one is cut to this
#: length and marked (see the module's docstring). 1,000 keeps any category or text a model uses
#: in practice recognisable, and bounds a row of 50 fields to about 50 kB.
MAX_LOGGED_STRING = 1000
_DEPLOYMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


@dataclass(frozen=True, slots=True, kw_only=True)
class LogEntry:
    """One prediction (one record). Plain values only; do not mutate the dicts once logged."""

    ts: datetime  # UTC, tz-aware (a naive value is taken as UTC)
    request_id: str
    deployment: str
    model_version: str  # e.g. "flights@3"
    route: str  # "stable" | "canary" | "shadow"
    features: dict[str, Any]  # the record as received (JSON-able)
    outputs: dict[str, Any]  # e.g. {"prediction": True, "probabilities": {...}}
    latency_ms: float
    error: str | None = None
    score: float | None = None  # positive-class probability, predicted value or top probability


def cap_strings(value: Any, limit: int = MAX_LOGGED_STRING) -> Any:
    """``value`` with every string longer than ``limit`` characters (dict keys included, at any
    depth of dicts, lists and tuples) cut to ``limit`` and marked; ``value`` itself when nothing
    is that long. Never modifies ``value``."""
    if isinstance(value, str):
        if len(value) <= limit:
            return value
        return f"{value[:limit]}…[truncated from {len(value):,} characters]"
    if isinstance(value, dict):
        items = [(cap_strings(k, limit), cap_strings(v, limit)) for k, v in value.items()]
        if all(k is a and v is b for (k, v), (a, b) in zip(items, value.items(), strict=True)):
            return value
        return dict(items)
    if isinstance(value, list | tuple):
        capped = [cap_strings(v, limit) for v in value]
        return value if all(c is v for c, v in zip(capped, value, strict=True)) else capped
    return value


def _json(value: dict[str, Any]) -> bytes:
    """``value`` as JSON for the log, its long strings cut (:func:`cap_strings`): no string
    can be over the cap when the whole document is not, so most rows are encoded once."""
    encoded = orjson.dumps(value, default=str, option=_JSON_OPTIONS)
    if len(encoded) <= MAX_LOGGED_STRING:
        return encoded
    capped = cap_strings(value)
    return encoded if capped is value else orjson.dumps(capped, default=str, option=_JSON_OPTIONS)


def _to_table(entries: Sequence[LogEntry]) -> pa.Table:
    """``entries`` as one table of :data:`SCHEMA`; raises when one cannot be encoded."""

    def text(values: list[Any]) -> pa.Array:
        return pa.array(values, pa.string())

    def json(values: list[bytes]) -> pa.Array:  # bytes, then one vectorised UTF-8 check: 5x faster
        return pa.array(values, pa.binary()).cast(pa.string())

    return pa.Table.from_arrays(
        [
            pa.array([e.ts for e in entries], SCHEMA.field("ts").type),
            text([e.request_id for e in entries]),
            text([e.deployment for e in entries]),
            text([e.model_version for e in entries]),
            text([e.route for e in entries]),
            json([_json(e.features) for e in entries]),
            json([_json(e.outputs) for e in entries]),
            pa.array([e.latency_ms for e in entries], pa.float64()),
            text([None if e.error is None else cap_strings(e.error) for e in entries]),
            pa.array([e.score for e in entries], pa.float64()),
        ],
        schema=SCHEMA,
    )


def _check_deployment(name: str) -> str:
    """``name`` if it can name a deployment's folder, else a :class:`LoopmlError`."""
    if not isinstance(name, str) or not _DEPLOYMENT.match(name):
        raise LoopmlError(
            f"invalid deployment name {name!r}: expected letters, digits, '_', '.' or '-' "
            "(starting with a letter or digit, at most 128), as in a spec's name"
        )
    return name
