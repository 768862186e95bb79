"""The project spec: typed loading, defaults, and errors that point at the line."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loopml.errors import SpecError
from loopml.spec import Spec, load_spec, parse_duration, parse_spec
from tests.support.projects import FLIGHTS_SPEC

GOOD = """\
name: flights
task: binary
target: late
time_column: scheduled_departure
features:
  numeric: [distance, temp]
  categorical: [carrier, origin]
metric:
  name: roc_auc
  target: 0.7
slices:
  - {name: origin, column: origin}
"""


def test_minimal_spec_loads_with_defaults() -> None:
    spec = parse_spec(GOOD, source="loopml.yaml")
    assert spec.task == "binary"
    assert spec.features.all == ["distance", "temp", "carrier", "origin"]
    assert spec.metric.greater_is_better
    assert spec.targets.latency_p99_ms == 50
    assert spec.rollout.steps == [5, 25, 50, 100]
    assert spec.monitoring.window == timedelta(hours=1)
    assert spec.serving.log_flush_interval == timedelta(milliseconds=200)
    assert spec.retrain.on == ["labels", "drift", "quality"]  # issue 14: labels on by default
    assert spec.retrain.quality_drop == 0.02 and spec.retrain.min_new_labels is None


def test_round_trip_through_json_dump() -> None:
    spec = parse_spec(GOOD)
    dumped = spec.model_dump(mode="json")
    assert dumped["monitoring"]["window"] == "1h"
    assert Spec.model_validate(dumped).model_dump() == spec.model_dump()


def _problems(text: str) -> str:
    with pytest.raises(SpecError) as info:
        parse_spec(text, source="loopml.yaml")
    return str(info.value)


def test_misspelled_key_names_line_path_and_suggestion() -> None:
    message = _problems(GOOD.replace("  target: 0.7", "  targte: 0.7"))
    assert "loopml.yaml:10: metric.targte: unknown key; did you mean 'target'?" in message


def test_wrong_value_says_expected_and_got() -> None:
    message = _problems(GOOD.replace("task: binary", "task: binari"))
    assert "loopml.yaml:2: task:" in message
    assert "got 'binari'" in message and "did you mean 'binary'?" in message


def test_every_problem_is_reported_at_once() -> None:
    text = GOOD.replace("task: binary", "task: 3").replace("name: roc_auc", "name: auc")
    text += "monitoring:\n  window: soon\n"
    message = _problems(text)
    assert "3 problem(s)" in message or "problem(s)" in message
    assert "task" in message and "monitoring.window" in message
    assert "expected a duration" in message


def test_metric_must_fit_the_task() -> None:
    message = _problems(GOOD.replace("name: roc_auc", "name: rmse"))
    assert "metric.name" in message and "does not apply to a binary task" in message
    assert "loopml.yaml:9" in message


def test_unknown_metric_suggests() -> None:
    assert "did you mean 'roc_auc'" in _problems(GOOD.replace("name: roc_auc", "name: roc_uac"))


def test_target_cannot_be_a_feature_and_kinds_do_not_overlap() -> None:
    text = GOOD.replace("[carrier, origin]", "[carrier, late, distance]")
    message = _problems(text)
    assert "the target 'late' cannot also be a feature" in message
    assert "'distance' is listed as both numeric and categorical" in message


def test_missing_required_fields() -> None:
    message = _problems("name: x\ntask: binary\n")
    assert "target: required, but missing" in message
    assert "features: required, but missing" in message


def test_invalid_yaml_and_non_mapping() -> None:
    assert "not valid YAML" in _problems("name: [unclosed\n")
    assert "expected a mapping" in _problems("- just\n- a list\n")


def test_rollout_steps_must_increase_to_100() -> None:
    assert "rollout.steps" in _problems(GOOD + "rollout:\n  steps: [50, 10]\n")


def test_check_columns_lists_every_missing_column_with_hints() -> None:
    spec = parse_spec(GOOD, source="loopml.yaml")
    with pytest.raises(SpecError) as info:
        spec.check_columns(["distance", "temperature", "carrier", "origin", "lat"], where="a.csv")
    message = str(info.value)
    assert "loopml.yaml:3: target: column 'late' is not in a.csv; did you mean 'lat'?" in message
    assert "features.numeric.1: column 'temp'" in message
    assert "scheduled_departure" in message


def test_load_spec_file_errors(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="loopml init"):
        load_spec(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(SpecError, match="cannot read"):
        load_spec(bad)


@given(st.integers(min_value=0, max_value=10**6), st.sampled_from(["ms", "s", "m", "h", "d", "w"]))
def test_durations_parse_and_format_round_trip(amount: int, unit: str) -> None:
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[unit]
    parsed = parse_duration(f"{amount}{unit}")
    assert parsed.total_seconds() == pytest.approx(amount * scale)
    # rollout.min_duration takes any duration; monitoring.window (used here before) is bounded
    spec = parse_spec(GOOD + f"rollout:\n  min_duration: {amount}{unit}\n")
    assert (
        parse_duration(spec.model_dump(mode="json")["rollout"]["min_duration"])
        == spec.rollout.min_duration
    )


@given(st.text(max_size=12))
def test_garbage_durations_are_rejected_with_a_clear_message(text: str) -> None:
    try:
        value = parse_duration(text)
    except ValueError as exc:
        assert "expected a duration" in str(exc)
    else:
        assert value.total_seconds() >= 0
        assert text.strip()[-1] in "smhdw"


def test_bounded_metric_targets() -> None:
    message = _problems(GOOD.replace("  target: 0.7", "  target: 1.9"))
    assert "metric.target: roc_auc lies between 0 and 1, got a target of 1.9" in message


@given(word=st.sampled_from(["yes", "no", "on", "off", "Yes", "NO", "On", "OFF", "y", "n"]))
def test_only_true_and_false_are_booleans(word: str) -> None:
    """YAML 1.2: the key ``on:`` stays ``on`` and a class named ``yes`` stays a string; YAML 1.1
    would read both as booleans."""
    text = FLIGHTS_SPEC.replace("positive_class: true", f"positive_class: {word}")
    spec = parse_spec(text + "metric: {name: roc_auc}\nretrain: {on: [schedule], schedule: 7d}\n")
    assert spec.positive_class == word
    assert spec.retrain.on == ["schedule"]
    assert parse_spec(FLIGHTS_SPEC + "metric: {name: roc_auc}\n").positive_class is True
