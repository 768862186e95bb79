"""Request bodies have a size limit (issue 12, item 3): ``serving.max_body`` in the spec. A body
over it is a 413 before it is read whole: at once on a ``Content-Length`` over the limit, and
as soon as the chunks of a chunked body pass it.

The apps run in-process (httpx's ASGI transport pulls the request body from the test's
generator only as the app asks for it, so the test counts what the server read).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import orjson
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from loopml.errors import SpecError
from loopml.serving.app import create_app
from loopml.spec import Spec, parse_spec
from loopml.store import Store
from tests.support.asgi import InProcess
from tests.support.projects import FLIGHTS_SPEC, registered_store

BASE = FLIGHTS_SPEC + "metric: {name: roc_auc}\nmodel: {candidates: [linear]}\n"
LIMIT = 64_000
SPEC = BASE + "serving: {max_body: 64kB}\n"
RECORD = {"distance": 500.0, "hour": 9, "carrier": "UA", "origin": "JFK", "dest": "LAX"}
ADMIN = "admin-t"
CHUNK = 8192
# every route that reads a body: (path, token)
ROUTES = [
    ("/predict", None),
    ("/invocations", None),
    ("/v2/models/flights/infer", None),
    ("/feedback", ADMIN),
    ("/admin/rollout/start", ADMIN),
    ("/admin/rollout/promote", ADMIN),
]


@pytest.fixture(scope="module")
def spec() -> Spec:
    return parse_spec(SPEC)


@pytest.fixture(scope="module")
def store(
    tmp_path_factory: pytest.TempPathFactory, flights_sample: pl.DataFrame, spec: Spec
) -> Store:
    return registered_store(tmp_path_factory.mktemp("bodies"), spec, flights_sample)


@pytest.fixture(scope="module")
def server(store: Store, spec: Spec) -> Iterator[InProcess]:
    with InProcess(create_app(store, spec, admin_token=ADMIN)) as running:
        yield running


class Body:
    """A request body sent in ``chunks`` chunks of ``CHUNK`` bytes, counting how many the server
    pulled."""

    def __init__(self, chunks: int) -> None:
        self.chunks, self.pulled = chunks, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.chunks):
            self.pulled += 1
            yield b" " * CHUNK


def assert_too_large(response: Any, limit: int = LIMIT) -> None:
    assert response.status_code == 413, response.text
    error = response.json()["error"]
    assert error["type"] == "payload_too_large", error
    assert f"{limit:,} bytes" in error["message"] and "serving.max_body" in error["message"]


@pytest.mark.parametrize(("path", "token"), ROUTES)
def test_a_content_length_over_the_limit_is_refused_without_reading(
    server: InProcess, path: str, token: str | None
) -> None:
    body = Body(1000)  # 8 MB announced
    headers = {"content-type": "application/json", "content-length": str(CHUNK * 1000)}
    response = server.post(path, token, content=body, headers=headers)
    assert_too_large(response)
    assert body.pulled == 0


@pytest.mark.parametrize(("path", "token"), ROUTES)
def test_a_chunked_body_over_the_limit_stops_being_read_past_it(
    server: InProcess, path: str, token: str | None
) -> None:
    body = Body(1000)  # 8 MB, no Content-Length
    response = server.post(path, token, content=body, headers={"content-type": "application/json"})
    assert_too_large(response)
    assert body.pulled <= LIMIT // CHUNK + 2, body.pulled


def padded(size: int) -> bytes:
    """A valid /predict body of exactly ``size`` bytes (JSON with trailing spaces)."""
    record = orjson.dumps(RECORD)
    return record + b" " * (size - len(record))


def test_a_body_at_the_limit_is_accepted_and_one_byte_more_is_not(server: InProcess) -> None:
    json = {"content-type": "application/json"}
    assert server.post("/predict", content=padded(LIMIT), headers=json).status_code == 200

    async def chunked(data: bytes) -> AsyncIterator[bytes]:
        for start in range(0, len(data), CHUNK):
            yield data[start : start + CHUNK]

    streamed = server.post("/predict", content=chunked(padded(LIMIT - 1)), headers=json)
    assert streamed.status_code == 200, streamed.text
    assert_too_large(server.post("/predict", content=padded(LIMIT + 1), headers=json))
    assert_too_large(server.post("/predict", content=chunked(padded(LIMIT + 1)), headers=json))


def test_the_limit_is_the_spec_s(store: Store) -> None:
    """The same 100 kB body: under the default 10 MB, over a spec's 64kB and a spec's 2048."""
    body, json = padded(100_000), {"content-type": "application/json"}
    with InProcess(create_app(store, parse_spec(BASE))) as default:
        assert default.post("/predict", content=body, headers=json).status_code == 200
    with InProcess(create_app(store, parse_spec(SPEC))) as small:
        assert_too_large(small.post("/predict", content=body, headers=json))
    with InProcess(create_app(store, parse_spec(BASE + "serving: {max_body: 2048}\n"))) as tiny:
        assert_too_large(tiny.post("/predict", content=padded(3000), headers=json), 2048)
        assert tiny.post("/predict", content=padded(2048), headers=json).status_code == 200


UNITS = {"": 1, "B": 1, "kB": 1000, "KB": 1000, "MB": 10**6, "KiB": 1024, "MiB": 2**20}


@given(st.integers(1, 2**20), st.sampled_from(sorted(UNITS)), st.booleans())
def test_max_body_reads_a_byte_count_or_a_size(number: int, unit: str, spaced: bool) -> None:
    text = f"{number}{' ' if spaced else ''}{unit}"
    size = number * UNITS[unit]
    if 2**10 <= size <= 2**30:
        assert parse_spec(BASE + f"serving: {{max_body: '{text}'}}\n").serving.max_body == size
    else:
        with pytest.raises(SpecError, match="from 1KiB to 1GiB"):
            parse_spec(BASE + f"serving: {{max_body: '{text}'}}\n")


@pytest.mark.parametrize("value", ["10XB", "-5MB", "1.5MB", "true", "[1]", "100", "2GB"])
def test_a_bad_max_body_is_a_spec_error_saying_what_is_expected(value: str) -> None:
    with pytest.raises(SpecError, match=r"max_body.*a byte count or a size such as"):
        parse_spec(BASE + f"serving: {{max_body: {value}}}\n")


def test_the_default_is_10_megabytes() -> None:
    assert parse_spec(BASE).serving.max_body == 10_000_000
