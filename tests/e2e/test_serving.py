"""The model server, for real: `loopml serve` in its own process on 127.0.0.1, real HTTP clients
(httpx, and tritonclient for the Open Inference Protocol), bad input, feedback, metrics, and a
graceful stop that loses no logged prediction."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from loopml.predlog import read_log
from loopml.registry import load_package
from tests.support.projects import project_store
from tests.support.servers import Server, start


@pytest.fixture(scope="module")
def project(served_project: Path) -> Path:
    """flights@1, registered and ready to serve (tests/plugins/servers.py)."""
    return served_project


@pytest.fixture(scope="module")
def april(april_records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return april_records


@pytest.fixture(scope="module")
def server(project: Path) -> Iterator[Server]:
    running = start(project)
    yield running
    running.stop()


def test_predict_one_and_many_match_the_registered_model(
    server: Server, project: Path, april: list[dict[str, Any]]
) -> None:
    one = server.client.post("/predict", json=april[0])
    assert one.status_code == 200, one.text
    body = one.json()
    assert body["model_version"] == "flights@1" and body["route"] == "stable"
    assert isinstance(body["prediction"], bool) and len(body["request_id"]) == 32
    assert sum(body["probabilities"].values()) == pytest.approx(1.0)
    with project_store(project) as store:
        model = load_package(store, "flights@1").model
    expected = model.score_records([april[0]])[1][0, 1]
    assert body["probabilities"]["true"] == pytest.approx(expected, abs=1e-12)
    many = server.client.post("/predict", json={"records": april[:50], "entity": "JFK"})
    assert many.status_code == 200
    assert len(many.json()["predictions"]) == 50
    as_list = server.client.post("/predict", json=april[:3]).json()
    assert [p["prediction"] for p in as_list["predictions"]] == [
        p["prediction"] for p in many.json()["predictions"][:3]
    ]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "fragment"),
    [
        (b"{not json", "application/json", 400, "not valid JSON"),
        (b'{"distance": "far", "carrier": "UA"}', "application/json", 422, "field 'distance'"),
        (b"[]", "application/json", 422, "at least one record"),
        (b"[1, 2]", "application/json", 422, "record 0"),
        (b'{"records": "x"}', "application/json", 400, "records: expected a list"),
        (b'{"carrier": ["UA"]}', "application/json", 422, "field 'carrier'"),
    ],
)
def test_bad_requests_get_4xx_with_the_field(
    server: Server, body: bytes, content_type: str, status: int, fragment: str
) -> None:
    response = server.client.post("/predict", content=body, headers={"content-type": content_type})
    assert response.status_code == status, response.text
    assert fragment in response.json()["error"]["message"]


def test_oversized_batch_and_unseen_values_are_handled(
    server: Server, april: list[dict[str, Any]]
) -> None:
    too_many = server.client.post("/predict", json=[april[0]] * 501)
    assert too_many.status_code == 422 and "max_batch" in too_many.text
    odd = {**april[1], "carrier": "ZZ", "temp": None}
    del odd["humid"]
    accepted = server.client.post("/predict", json=odd)
    assert accepted.status_code == 200
    metrics = server.client.get("/metrics").text
    assert 'loopml_unseen_categories_total{feature="carrier"}' in metrics
    assert 'loopml_missing_values_total{feature="humid"}' in metrics


def test_mlflow_invocations_formats(server: Server, april: list[dict[str, Any]]) -> None:
    columns = [
        "distance",
        "hour",
        "temp",
        "humid",
        "wind_speed",
        "visib",
        "carrier",
        "origin",
        "dest",
    ]
    rows = [[record[c] for c in columns] for record in april[:5]]
    split = server.client.post(
        "/invocations", json={"dataframe_split": {"columns": columns, "data": rows}}
    )
    assert split.status_code == 200, split.text
    predictions = split.json()["predictions"]
    assert len(predictions) == 5 and all(isinstance(p, bool) for p in predictions)
    records = server.client.post("/invocations", json={"dataframe_records": april[:5]})
    assert records.json()["predictions"] == predictions
    csv = "\n".join([",".join(columns), *(",".join(str(v) for v in row) for row in rows)])
    as_csv = server.client.post("/invocations", content=csv, headers={"content-type": "text/csv"})
    assert as_csv.status_code == 200, as_csv.text
    assert as_csv.json()["predictions"] == predictions
    wrong = server.client.post("/invocations", content=b"x", headers={"content-type": "image/png"})
    assert wrong.status_code == 415
    assert server.client.get("/ping").status_code == 200
    assert server.client.get("/version").json()["model"] == "flights@1"


def test_open_inference_protocol_with_tritonclient(
    server: Server, april: list[dict[str, Any]]
) -> None:
    import tritonclient.http as triton

    client = triton.InferenceServerClient(url=f"127.0.0.1:{server.port}")
    try:
        assert client.is_server_live() and client.is_model_ready("flights")
        metadata = client.get_model_metadata("flights")
        assert {i["name"] for i in metadata["inputs"]} >= {"distance", "carrier"}
        inputs = []
        for name, datatype in [
            ("distance", "FP64"),
            ("hour", "FP64"),
            ("temp", "FP64"),
            ("carrier", "BYTES"),
            ("origin", "BYTES"),
            ("dest", "BYTES"),
        ]:
            values = [april[i][name] for i in range(4)]
            tensor = triton.InferInput(name, [4], datatype)
            array = np.array(values, dtype=object if datatype == "BYTES" else np.float64)
            tensor.set_data_from_numpy(array, binary_data=False)
            inputs.append(tensor)
        outputs = [
            triton.InferRequestedOutput("predictions", binary_data=False),
            triton.InferRequestedOutput("probabilities", binary_data=False),
        ]
        result = client.infer("flights", inputs, outputs=outputs, request_id="abc")
        assert result.as_numpy("predictions").shape == (4,)
        assert result.as_numpy("probabilities").shape == (4, 2)
        assert result.get_response()["id"] == "abc"
    finally:
        client.close()
    assert server.client.get("/v2/models/nope").status_code == 404


def _missing(server: Server, feature: str) -> float:
    prefix = f'loopml_missing_values_total{{feature="{feature}"}} '
    lines = server.client.get("/metrics").text.splitlines()
    return next((float(x.removeprefix(prefix)) for x in lines if x.startswith(prefix)), 0.0)


def test_the_input_contract_holds_on_every_protocol(
    server: Server, april: list[dict[str, Any]]
) -> None:
    """Garbage is a 422 on all three protocols; JSON NaN (as MLflow's client writes it, with the
    standard library's json) and binary NaN tensors (tritonclient) are missing values."""
    import json

    import tritonclient.http as triton

    garbage = [
        ("/predict", {"Carrier": "UA"}, "did you mean 'carrier'?"),
        ("/invocations", {"dataframe_split": {"columns": [], "data": [[]]}}, "features missing"),
        ("/v2/models/flights/infer", {"inputs": [_null_tensor("distance")]}, "features missing"),
    ]
    for path, body, fragment in garbage:
        refused = server.client.post(path, json=body)
        assert refused.status_code == 422, refused.text
        assert fragment in refused.json()["error"]["message"]

    before = _missing(server, "temp")
    columns = ["distance", "hour", "temp", "carrier", "origin", "dest"]
    rows = [[float("nan") if c == "temp" else april[0][c] for c in columns]]
    body = json.dumps({"dataframe_split": {"columns": columns, "data": rows}})
    assert "NaN" in body
    answer = server.client.post(
        "/invocations", content=body, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 200, answer.text
    client = triton.InferenceServerClient(url=f"127.0.0.1:{server.port}")
    try:
        inputs = []
        for name in columns:
            numeric = name in ("distance", "hour", "temp")
            tensor = triton.InferInput(name, [1], "FP64" if numeric else "BYTES")
            value = float("inf") if name == "temp" else april[0][name]
            tensor.set_data_from_numpy(np.array([value], dtype=np.float64 if numeric else object))
            inputs.append(tensor)
        assert client.infer("flights", inputs).as_numpy("predictions").shape == (1,)
    finally:
        client.close()
    assert _missing(server, "temp") == before + 2
    text = server.client.post(
        "/predict", content=body.encode(), headers={"content-type": "text/plain"}
    )
    assert text.status_code == 415 and "application/json" in text.json()["error"]["message"]


def _null_tensor(name: str) -> dict[str, Any]:
    return {"name": name, "datatype": "FP64", "shape": [1], "data": [None]}


def test_feedback_counts_stored_duplicate_conflicting_and_unknown(
    server: Server, april: list[dict[str, Any]]
) -> None:
    request_id = server.client.post("/predict", json=april[2]).json()["request_id"]
    first = server.client.post("/feedback", json={"request_id": request_id, "label": True}).json()
    assert first == {
        "received": 1,
        "stored": 1,
        "duplicates": 0,
        "unknown": 0,
        "conflicting": 0,
        "unknown_ids": [],
        "conflicts": [],
    }
    batch = server.client.post(
        "/feedback",
        json={
            "feedback": [
                {"request_id": request_id, "label": True},
                {"request_id": request_id, "label": False},
                {"request_id": "never-seen", "label": True},
            ]
        },
    ).json()
    assert (batch["stored"], batch["duplicates"], batch["unknown"]) == (0, 1, 1)
    assert batch["unknown_ids"] == ["never-seen"]
    assert batch["conflicts"] == [{"request_id": request_id, "stored": True, "sent": False}]
    bad = server.client.post("/feedback", json={"feedback": [{"label": 1}]})
    assert bad.status_code == 400 and "request_id" in bad.text


def test_openapi_health_and_admin(server: Server) -> None:
    paths = server.client.get("/openapi.json").json()["paths"]
    for path in (
        "/predict",
        "/invocations",
        "/feedback",
        "/metrics",
        "/healthz",
        "/readyz",
        "/v2/models/{name}/infer",
        "/ping",
        "/version",
    ):
        assert path in paths
    assert server.client.get("/healthz").json() == {"status": "ok"}
    assert server.client.post("/admin/reload").status_code == 403  # no admin token: off


def test_graceful_stop_logs_every_prediction(project: Path, april: list[dict[str, Any]]) -> None:
    running = start(project, "--model", "flights@1")
    acknowledged: set[str] = set()
    try:
        for i in range(40):
            response = running.client.post("/predict", json={"records": april[i * 5 : (i + 1) * 5]})
            assert response.status_code == 200
            acknowledged.update(p["request_id"] for p in response.json()["predictions"])
    finally:
        code = running.stop()
    assert code in (0, -signal.SIGTERM) and len(acknowledged) == 200
    logged = read_log(project / ".loopml" / "artifacts" / "predictions", "flights")
    assert acknowledged <= set(logged["request_id"].to_list())  # SIGTERM flushed every one


def test_prediction_token(project: Path, april: list[dict[str, Any]]) -> None:
    running = start(project, "--prediction-token", "s3cret")
    try:
        assert running.client.post("/predict", json=april[0]).status_code == 401
        ok = running.client.post(
            "/predict", json=april[0], headers={"authorization": "Bearer s3cret"}
        )
        assert ok.status_code == 200
    finally:
        running.stop()
