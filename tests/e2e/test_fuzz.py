"""A schema-driven fuzz of every endpoint: schemathesis against a real ``loopml serve`` on
127.0.0.1 (a trained flights model, a prediction and an admin token), every answer checked
against the OpenAPI document: no 5xx, each status documented, each body its documented schema,
each Content-Type the documented one (and declared at all), a 401 exactly where the document
names a security scheme and the token is missing or wrong.

Bounded and deterministic: per operation, schemathesis' examples and coverage phases (boundary
and invalid values, missing and wrong media types: a fixed set) and 30 derandomized Hypothesis
examples, positive and negative; about 870 requests in all, 30 to 60 s on two busy cores. Three
requests in five carry the operation's token, one none and one a wrong one, as a hash of the
request decides, so the guarded operations are fuzzed both ways.

Admin operations that change state (rollout start, promote, rollback, pause, resume, reload) are
fuzzed like the rest: the server runs on this module's own throwaway project, which has one
registered version, so a start finds nothing to roll out (400, 404, 409) and an action nothing to
act on (409); nothing another test relies on is touched.

schemathesis' lazy ``from_fixture`` loader does not run under pytest 9 (it sets a node's
``_nodeid``), so the schema is loaded when this module is collected, from the very app factory
``loopml serve`` runs (same spec, same tokens); a test pins that the server serves that document.
(Under pytest 9 every operation's item also shows the one node id; a failure names its
operation.)
"""

from __future__ import annotations

import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case, CheckContext
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from loopml.serving.app import create_app
from loopml.spec import parse_spec
from loopml.store import Store
from tests.plugins.servers import SERVED_SPEC
from tests.support.servers import Server, start

PREDICTION, ADMIN = "fuzz-prediction-token", "fuzz-admin-token"


def served_document() -> dict[str, Any]:
    """The OpenAPI document ``loopml serve`` answers for SERVED_SPEC with both tokens (built
    in-process over an empty store: the document depends on the routes, not on the data)."""
    with (
        tempfile.TemporaryDirectory() as folder,
        Store(f"sqlite:///{folder}/loopml.db", Path(folder) / "artifacts") as store,
    ):
        app = create_app(
            store, parse_spec(SERVED_SPEC), prediction_token=PREDICTION, admin_token=ADMIN
        )
        return app.openapi()


DOCUMENT = served_document()
# every operation's own method only: no PUT, PATCH, TRACE... to each path (a 405 each)
CONFIG = schemathesis.Config.from_dict({"phases": {"coverage": {"unexpected-methods": []}}})
schema = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG)


@pytest.fixture(scope="module")
def server(served_project: Path) -> Iterator[Server]:
    running = start(served_project, "--prediction-token", PREDICTION, admin_token=ADMIN)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as client:
        yield client


def operation(case: Case) -> dict[str, Any]:
    """The case's operation as :data:`DOCUMENT` describes it."""
    return dict(DOCUMENT["paths"][case.path][case.method.lower()])


def media_type_documented(ctx: CheckContext, response: schemathesis.Response, case: Case) -> None:
    """Every answer says its Content-Type, and the document declares that media type for its
    status (``content_type_conformance`` passes an answer whose status documents none)."""
    sent = response.headers.get("content-type", [])
    assert sent, f"{case.method} {case.path} {response.status_code}: no Content-Type"
    documented = operation(case)["responses"].get(str(response.status_code), {})
    media = sent[0].split(";")[0].strip()
    assert media in documented.get("content", {}), (
        f"{case.method} {case.path} {response.status_code}: sends {media}, the document "
        f"declares {sorted(documented.get('content', {}))}"
    )


def auth_documented(ctx: CheckContext, response: schemathesis.Response, case: Case) -> None:
    """A 401 comes only from an operation whose document names its security schemes, and such
    an operation answers 401 exactly when the token is missing or wrong."""
    secured = bool(operation(case).get("security"))
    where = f"{case.method} {case.path} {response.status_code}"
    if not secured:
        assert response.status_code != 401, f"{where}: a 401 from an operation without security"
        return
    right = response.request.headers.get("authorization") == f"Bearer {token_for(case)}"
    assert (response.status_code == 401) != right, f"{where} with {'a' if right else 'no'} token"


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
    media_type_documented,
    auth_documented,
]


def token_for(case: Case) -> str:
    """The token the case's operation accepts (on /feedback: the prediction token)."""
    return ADMIN if case.path.startswith("/admin") else PREDICTION


def credentials(case: Case) -> dict[str, str]:
    """The request's Authorization: the operation's token three times in five, else none or a
    wrong one (a hash of the request decides, so a run is the same every time)."""
    token = token_for(case)
    draw = zlib.crc32(repr((case.path_parameters, case.query, case.body)).encode()) % 5
    if draw == 3:
        return {}
    return {"authorization": f"Bearer {'wrong' if draw == 4 else token}"}


def test_the_server_serves_the_fuzzed_document(server: Server) -> None:
    assert server.client.get("/openapi.json").json() == DOCUMENT


@schema.parametrize()
@settings(
    max_examples=30,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_answer_is_documented(case: Case, server: Server, session: requests.Session) -> None:
    case.call_and_validate(
        base_url=server.url, session=session, headers=credentials(case), checks=CHECKS, timeout=30
    )
