"""No prediction from garbage (issue 12, item 4): one input contract on ``/predict``, MLflow's
``/invocations`` and the V2 ``infer``. Unknown fields are refused with a "did you mean"
(``serving.unknown_fields``), a record with no feature or mostly missing ones is always refused
(``serving.max_missing_share``), one rule for numbers, JSON's ``NaN``/``Infinity`` tokens read as
missing, and ``/predict`` answers 415 to a body that is not sent as JSON.

The apps run in-process over one store holding a real model trained on the bundled flights data;
the checker's properties are tested on that model's own schema and training profile.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import orjson
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loopml.errors import InputError, SpecError
from loopml.registry import Package, load_package
from loopml.serving.app import create_app
from loopml.serving.inputs import InputStats, RecordChecker
from loopml.serving.routing import known_columns
from loopml.spec import Spec, parse_spec
from loopml.store import Store
from tests.support.asgi import InProcess
from tests.support.projects import FLIGHTS_SPEC, registered_store
from tests.support.servers import as_json

BASE = FLIGHTS_SPEC + "metric: {name: roc_auc}\nmodel: {candidates: [linear]}\n"
NUMERIC = ["distance", "hour", "temp", "humid", "wind_speed", "visib"]
FEATURES = [*NUMERIC, "carrier", "origin", "dest"]
RECORD: dict[str, Any] = {
    "distance": 1400.0, "hour": 5, "temp": 39.0, "humid": 59.4, "wind_speed": 12.7,
    "visib": 10.0, "carrier": "UA", "origin": "EWR", "dest": "IAH",
}  # fmt: skip
V2_PATH = "/v2/models/flights/infer"
Send = Callable[[InProcess, list[dict[str, Any]]], httpx.Response]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, flights_sample: pl.DataFrame) -> Store:
    return registered_store(tmp_path_factory.mktemp("contract"), parse_spec(BASE), flights_sample)


@pytest.fixture(scope="module")
def servers(store: Store) -> Iterator[dict[str, InProcess]]:
    """The default contract, ``unknown_fields: ignore``, and ``missing_values: reject``."""
    specs = {
        "default": parse_spec(BASE),
        "ignore": parse_spec(BASE + "serving: {unknown_fields: ignore}\n"),
        "strict": parse_spec(BASE + "serving: {missing_values: reject}\n"),
    }
    with (
        InProcess(create_app(store, specs["default"])) as default,
        InProcess(create_app(store, specs["ignore"])) as ignore,
        InProcess(create_app(store, specs["strict"])) as strict,
    ):
        yield {"default": default, "ignore": ignore, "strict": strict}


@pytest.fixture(scope="module")
def server(servers: dict[str, InProcess]) -> InProcess:
    return servers["default"]


def _datatype(values: list[Any]) -> str:
    present = [value for value in values if value is not None]
    if present and all(isinstance(value, bool) for value in present):
        return "BOOL"
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return "FP64"
    return "BYTES"


def v2_inputs(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    names = list(dict.fromkeys(name for record in records for name in record))
    columns = {name: [record.get(name) for record in records] for name in names}
    return [
        {"name": name, "datatype": _datatype(data), "shape": [len(data)], "data": data}
        for name, data in columns.items()
    ]


def via_predict(client: InProcess, records: list[dict[str, Any]]) -> httpx.Response:
    return client.post("/predict", json=records[0] if len(records) == 1 else records)


def via_mlflow(client: InProcess, records: list[dict[str, Any]]) -> httpx.Response:
    return client.post("/invocations", json={"dataframe_records": records})


def via_v2(client: InProcess, records: list[dict[str, Any]]) -> httpx.Response:
    return client.post(V2_PATH, json={"inputs": v2_inputs(records)})


PROTOCOLS: dict[str, Send] = {"predict": via_predict, "mlflow": via_mlflow, "v2": via_v2}


def refused(response: httpx.Response, fragment: str) -> list[dict[str, Any]]:
    """Assert a 422 ``invalid_input`` whose problems mention ``fragment``; return the problems."""
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_input", error
    problems = error["problems"]
    for problem in problems:
        assert set(problem) == {"index", "field", "expected", "got", "message"}, problem
    assert any(fragment in problem["message"] for problem in problems), problems
    return problems


def missing_count(client: InProcess, feature: str) -> float:
    """``loopml_missing_values_total`` of ``feature`` on ``client``'s /metrics."""
    prefix = f'loopml_missing_values_total{{feature="{feature}"}} '
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(prefix):
            return float(line.removeprefix(prefix))
    return 0.0


# -- garbage gets a 422 on every protocol ---------------------------------------------------------

ALL_NULL = dict.fromkeys(FEATURES)
MOSTLY_MISSING = {name: RECORD[name] for name in FEATURES[:4]}  # 5 of 9 missing
GARBAGE = {
    "misspelt keys": ({"Carrier": "UA", "Origin": "EWR", "DEST": "IAH"}, "did you mean 'carrier'?"),
    "unknown columns only": ({"colour": "red", "size": 3}, "unknown field 'colour'"),
    "all nulls": (ALL_NULL, "9 of 9 features missing"),
    "mostly missing": (
        MOSTLY_MISSING,
        "5 of 9 features missing (carrier, origin, dest, wind_speed, visib)",
    ),
}


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("case", GARBAGE)
def test_garbage_is_a_422_naming_why_on_every_protocol(
    server: InProcess, protocol: str, case: str
) -> None:
    record, fragment = GARBAGE[case]
    refused(PROTOCOLS[protocol](server, [record]), fragment)


@pytest.mark.parametrize("protocol", ["predict", "mlflow"])
def test_an_empty_record_is_a_422(server: InProcess, protocol: str) -> None:
    problems = refused(PROTOCOLS[protocol](server, [{}]), "9 of 9 features missing")
    assert (
        "serving.max_missing_share is 0.5: a prediction from it would be a guess"
        in (problems[0]["message"])
    )


def test_mlflow_dataframe_split_with_no_columns_is_a_422(server: InProcess) -> None:
    body = {"dataframe_split": {"columns": [], "data": [[]]}}
    refused(server.post("/invocations", json=body), "9 of 9 features missing")


def test_v2_one_null_tensor_or_all_null_data_is_a_422(server: InProcess) -> None:
    one = [{"name": "distance", "datatype": "FP64", "shape": [1], "data": [None]}]
    refused(server.post(V2_PATH, json={"inputs": one}), "9 of 9 features missing")
    refused(via_v2(server, [ALL_NULL, ALL_NULL]), "record 1: 9 of 9 features missing")
    assert server.post(V2_PATH, json={"inputs": []}).status_code == 400  # no tensor: not V2


def test_misspelt_keys_name_the_column_meant(server: InProcess) -> None:
    problems = refused(via_predict(server, [{**RECORD, "Carrier": "UA"}]), "'Carrier'")
    assert problems[0]["field"] == "Carrier" and len(problems) == 1
    assert "unknown field 'Carrier'; did you mean 'carrier'?" in problems[0]["message"]
    assert "serving.unknown_fields: ignore" in problems[0]["message"]
    refused(via_v2(server, [{**RECORD, "DEST": "IAH"}]), "did you mean 'dest'?")


def test_an_unknown_field_is_named_once_per_batch(server: InProcess) -> None:
    batch = [RECORD, {**RECORD, "carier": "UA"}, {**RECORD, "carier": "AA"}]
    problems = refused(via_mlflow(server, batch), "record 1: unknown field 'carier'")
    assert [(p["index"], p["field"]) for p in problems] == [(1, "carier")]


# -- what is accepted -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def training_rows(flights_sample: pl.DataFrame) -> list[dict[str, Any]]:
    """Whole rows of the training table: ids, target, timestamps, unused columns and all."""
    return as_json(flights_sample.drop_nulls(FEATURES).head(3))


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_whole_training_rows_are_accepted_but_not_with_a_misspelt_key(
    server: InProcess, training_rows: list[dict[str, Any]], protocol: str
) -> None:
    assert {"flight_id", "late", "tailnum", "scheduled_departure"} <= set(training_rows[0])
    response = PROTOCOLS[protocol](server, training_rows)
    assert response.status_code == 200, response.text
    misspelt = [{**row, "tail_num": row["tailnum"]} for row in training_rows]
    refused(PROTOCOLS[protocol](server, misspelt), "did you mean 'tailnum'?")


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_up_to_the_share_missing_is_accepted_and_counted_one_more_is_not(
    server: InProcess, protocol: str
) -> None:
    before = missing_count(server, "visib")
    record = {name: value for name, value in RECORD.items() if name not in ("temp", "humid")}
    record |= {"wind_speed": None, "visib": None}  # 4 of 9 missing: at the share, not over it
    response = PROTOCOLS[protocol](server, [record])
    assert response.status_code == 200, response.text
    assert missing_count(server, "visib") == before + 1
    refused(PROTOCOLS[protocol](server, [{**record, "hour": None}]), "5 of 9 features missing")


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_unknown_fields_are_skipped_under_ignore(
    servers: dict[str, InProcess], protocol: str
) -> None:
    send = PROTOCOLS[protocol]
    response = send(servers["ignore"], [{**RECORD, "Carrier": "UA", "colour": "red"}])
    assert response.status_code == 200, response.text
    refused(send(servers["ignore"], [{"Carrier": "UA"}]), "9 of 9 features missing")


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_missing_feature_is_refused_under_missing_values_reject(
    servers: dict[str, InProcess], protocol: str
) -> None:
    send = PROTOCOLS[protocol]
    problems = refused(send(servers["strict"], [{**RECORD, "temp": None}]), "field 'temp'")
    assert problems[0]["field"] == "temp" and "serving.missing_values" in problems[0]["message"]
    assert send(servers["strict"], [RECORD]).status_code == 200


# -- one rule for numbers -------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["NaN", "nan", "inf", "-inf", "Infinity", "1e999", True, False])
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_non_finite_strings_and_booleans_are_not_numbers(
    server: InProcess, protocol: str, value: Any
) -> None:
    problems = refused(PROTOCOLS[protocol](server, [{**RECORD, "distance": value}]), "distance")
    assert problems[0]["field"] == "distance" and problems[0]["expected"] == "a number"


@pytest.mark.parametrize("protocol", ["predict", "mlflow"])
def test_numeric_strings_are_numbers_only_when_finite(server: InProcess, protocol: str) -> None:
    response = PROTOCOLS[protocol](server, [{**RECORD, "distance": "1400.5", "hour": " 5 "}])
    assert response.status_code == 200, response.text
    refused(PROTOCOLS[protocol](server, [{**RECORD, "hour": " 1e999 "}]), "not a finite number")


def nan_bodies() -> dict[str, tuple[str, bytes]]:
    """Bodies whose ``temp`` is a JSON ``NaN``/``Infinity`` token, as MLflow's client and pandas
    write missing values: (path, body)."""
    row = {**RECORD, "temp": "@NAN@", "humid": "@INF@"}
    columns = list(row)
    split = {"dataframe_split": {"columns": columns, "data": [list(row.values())]}}
    v2 = {"inputs": v2_inputs([{**RECORD, "temp": 0.5, "humid": 0.25}])}
    for tensor in v2["inputs"]:
        if tensor["name"] in ("temp", "humid"):
            tensor["data"] = ["@NAN@" if tensor["name"] == "temp" else "@INF@"]

    def tokens(document: Any) -> bytes:
        text = orjson.dumps(document)
        return text.replace(b'"@NAN@"', b"NaN").replace(b'"@INF@"', b"-Infinity")

    return {
        "predict": ("/predict", tokens(row)),
        "mlflow": ("/invocations", tokens(split)),
        "v2": (V2_PATH, tokens(v2)),
    }


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_json_nan_and_infinity_tokens_are_missing_values(server: InProcess, protocol: str) -> None:
    path, body = nan_bodies()[protocol]
    assert b"NaN" in body and b"-Infinity" in body
    before = missing_count(server, "temp"), missing_count(server, "humid")
    response = server.post(path, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 200, response.text
    assert (missing_count(server, "temp"), missing_count(server, "humid")) == (
        before[0] + 1,
        before[1] + 1,
    )


def test_a_record_of_nan_tokens_is_refused_and_what_is_not_json_still_a_400(
    server: InProcess,
) -> None:
    json = {"content-type": "application/json"}
    body = b'{"distance": NaN, "hour": Infinity, "carrier": NaN}'
    refused(server.post("/predict", content=body, headers=json), "9 of 9 features missing")
    for body in (b"{NaN}", b'{"a": nan}', b'"\\ud800"', b"[" * 5000, b"[NaN, " * 3000):
        response = server.post("/predict", content=body, headers=json)
        assert response.status_code == 400, (body[:20], response.text)


# -- /predict takes JSON only ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/x-www-form-urlencoded", "text/csv"]
)
def test_predict_answers_415_to_a_body_not_sent_as_json(
    server: InProcess, content_type: str | None
) -> None:
    headers = {} if content_type is None else {"content-type": content_type}
    response = server.post("/predict", content=orjson.dumps(RECORD), headers=headers)
    assert response.status_code == 415, response.text
    message = response.json()["error"]["message"]
    assert message.startswith("Content-Type: expected application/json, got")
    assert "send the body with 'Content-Type: application/json'" in message
    headers = {"content-type": "application/json; charset=utf-8"}
    response = server.post("/predict", content=orjson.dumps(RECORD), headers=headers)
    assert response.status_code == 200, response.text


# -- the spec -------------------------------------------------------------------------------------


def test_the_spec_keys_and_their_defaults() -> None:
    serving = parse_spec(BASE).serving
    assert (serving.unknown_fields, serving.max_missing_share) == ("reject", 0.5)
    for bad in ("{unknown_fields: drop}", "{max_missing_share: 1.5}"):
        with pytest.raises(SpecError):
            parse_spec(BASE + f"serving: {bad}\n")


# -- the checker's properties, on the real model's schema and profile -----------------------------


@pytest.fixture(scope="module")
def package(store: Store) -> Package:
    return load_package(store, "flights@1")


def checker_for(package: Package, serving: str = "") -> RecordChecker:
    spec: Spec = parse_spec(BASE + (f"serving: {serving}\n" if serving else ""))
    return RecordChecker(package.schema, spec.serving, known_columns(package, spec))


PROPERTY = settings(max_examples=150, deadline=None)
finite = st.floats(allow_nan=False, allow_infinity=False, width=64) | st.integers(-(10**6), 10**6)
missing = st.sampled_from([None, math.nan, math.inf, -math.inf, "absent"])


@st.composite
def records(draw: st.DrawFn, package: Package, max_missing: int) -> dict[str, Any]:
    """A record of the model's features, at most ``max_missing`` of them missing, and maybe other
    columns of the training data."""
    features = list(package.schema.columns)
    absent = draw(st.sets(st.sampled_from(features), max_size=max_missing))
    record: dict[str, Any] = {}
    for name in features:
        if name in absent:
            value = draw(missing)
            if value != "absent":
                record[name] = value
        elif package.schema.columns[name].kind == "numeric":
            record[name] = draw(finite | finite.map(str))
        else:
            record[name] = draw(st.text(max_size=8) | st.sampled_from(["UA", "JFK", "LAX"]))
    others = sorted(set(known_columns(package, parse_spec(BASE))) - set(features))
    for name in draw(st.lists(st.sampled_from(others), max_size=5)):
        record[name] = draw(st.none() | st.booleans() | finite | st.text(max_size=8))
    return record


def gone(value: Any) -> bool:
    """Whether a feature's value is missing: null, absent, NaN or ±inf."""
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def test_properties_hold_on_the_real_model(package: Package) -> None:
    checker, ignoring = checker_for(package), checker_for(package, "{unknown_fields: ignore}")
    features = list(package.schema.columns)
    allowed = math.floor(0.5 * len(features))
    known = set(known_columns(package, parse_spec(BASE)))

    @PROPERTY
    @given(record=records(package, allowed))
    def readable_records_are_accepted(record: dict[str, Any]) -> None:
        checked = checker.check([dict(record)], InputStats())
        for name in features:  # what reaches the model: no non-finite number
            value = checked[0].get(name)
            assert not (isinstance(value, float) and not math.isfinite(value)), (name, value)
        package.model.score_records(checked)

    @PROPERTY
    @given(record=records(package, allowed), key=st.text(min_size=1, max_size=12))
    def unknown_keys_are_refused_under_reject_only(record: dict[str, Any], key: str) -> None:
        if key in known:
            return
        with pytest.raises(InputError) as info:
            checker.check([{**record, key: 1}], InputStats())
        assert any(problem["field"] == key for problem in info.value.problems)
        ignoring.check([{**record, key: 1}], InputStats())

    @PROPERTY
    @given(record=records(package, len(features)))
    def too_little_is_always_refused(record: dict[str, Any]) -> None:
        absent = sum(gone(record.get(name)) for name in features)
        if absent <= allowed:
            return
        with pytest.raises(InputError) as info:
            ignoring.check([record], InputStats())
        assert f"{absent} of {len(features)} features missing" in str(info.value)

    @PROPERTY
    @given(
        record=records(package, 0),
        name=st.sampled_from(NUMERIC),
        value=st.sampled_from([math.nan, math.inf, -math.inf, "NaN", " inf", "-Infinity", "1e999"])
        | st.booleans(),
    )
    def non_finite_numbers_are_never_scored(record: dict[str, Any], name: str, value: Any) -> None:
        try:
            checked = checker.check([{**record, name: value}], InputStats())
        except InputError as exc:
            assert isinstance(value, str | bool) and exc.problems[0]["field"] == name
            return
        assert isinstance(value, float) and checked[0][name] is None

    readable_records_are_accepted()
    unknown_keys_are_refused_under_reject_only()
    too_little_is_always_refused()
    non_finite_numbers_are_never_scored()


def test_a_refused_value_is_shown_cut_short(package: Package) -> None:
    """A 1 MB string (or a 400-digit integer) is named, not echoed back whole."""
    checker = checker_for(package)
    for value, got in (("x" * 10**6, "'xxxx"), (10**400, "an integer of 1329 bits (too large)")):
        with pytest.raises(InputError) as info:
            checker.check([{**RECORD, "distance": value}], InputStats())
        problem = info.value.problems[0]
        assert problem["field"] == "distance" and problem["got"].startswith(got)
        assert len(problem["message"]) < 300, len(problem["message"])


def test_the_predict_wrapper_takes_only_its_own_keys(
    server: InProcess, training_rows: list[dict[str, Any]]
) -> None:
    """A typo beside the records (``entitiy``) would be dropped and routing not sticky."""
    ok = server.post("/predict", json={"records": training_rows, "entity": "N14228"})
    assert ok.status_code == 200, ok.text
    typo = server.post("/predict", json={"records": training_rows, "entitiy": "N14228"})
    assert typo.status_code == 400 and "did you mean 'entity'?" in typo.text, typo.text
    both = server.post("/predict", json={"records": training_rows, "record": training_rows[0]})
    assert both.status_code == 400 and "got both" in both.text, both.text
