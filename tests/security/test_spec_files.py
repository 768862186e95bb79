"""Hostile and careless spec files: YAML anchors and aliases (the "billion laughs"), duplicate
keys, durations the code cannot run with, and ports outside 1-65535."""

from __future__ import annotations

import io
import re
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from loopml.errors import SpecError
from loopml.spec import load_spec, parse_spec
from loopml.spec.loader import read_yaml
from tests.support.projects import FLIGHTS_SPEC

GOOD = FLIGHTS_SPEC + "metric: {name: roc_auc}\n"


def _refusal(text: str, source: str = "loopml.yaml") -> str:
    with pytest.raises(SpecError) as info:
        parse_spec(text, source=source)
    return str(info.value)


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


# --- anchors and aliases ----------------------------------------------------------------------


def _billion_laughs(levels: int = 9) -> str:
    """The classic: nine lists of nine aliases to the level below, 9**9 strings in all."""
    lines = ['lol0: &lol0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels):
        lines.append(f"lol{level}: &lol{level} [" + ", ".join([f"*lol{level - 1}"] * 9) + "]")
    return "\n".join(lines) + f"\ndata:\n  sources: *lol{levels - 1}\n"


@pytest.mark.timeout(10)  # today's loader would expand it for minutes, using gigabytes
def test_a_billion_laughs_is_refused_at_its_first_anchor_fast_and_small(tmp_path: Path) -> None:
    text = GOOD + _billion_laughs()
    path = tmp_path / "loopml.yaml"
    path.write_text(text, encoding="utf-8")
    tracemalloc.start()
    began = time.perf_counter()
    try:
        with pytest.raises(SpecError) as info:
            load_spec(path)
        took = time.perf_counter() - began
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    line = _line_of(text, "&lol0")
    assert f"anchors and aliases are not allowed in {path}: line {line}" in str(info.value)
    assert "'&lol0'" in str(info.value) and "write the value out in full" in str(info.value)
    assert took < 0.5, f"took {took:.2f} s"
    assert peak < 5_000_000, f"peak {peak:,} bytes"


@pytest.mark.timeout(10)
def test_serve_with_a_billion_laughs_spec_fails_fast_with_the_line(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = GOOD + _billion_laughs()
    (tmp_path / "loopml.yaml").write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LOOPML_HOME", str(tmp_path / ".loopml"))
    code, _, err = cli("serve", "--port", "8123")
    assert code == 2
    assert "anchors and aliases are not allowed in loopml.yaml: line" in " ".join(err.split())
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("text", "needle", "what"),
    [
        (GOOD.replace("target: late", "target: &t late") + "id_column: *t\n", "&t", "'&t'"),
        (GOOD + "entity_column: *nowhere\n", "*nowhere", "'*nowhere'"),
        (GOOD.replace("name: flights", "name: &n flights"), "&n", "'&n'"),  # unused: refused too
        (GOOD.replace("numeric: [", "numeric: &num ["), "&num", "'&num'"),
        (GOOD + "slices:\n  - &s {name: o, column: origin}\n  - *s\n", "&s", "'&s'"),
    ],
)
def test_a_plain_anchor_or_alias_is_refused_naming_its_line(
    text: str, needle: str, what: str
) -> None:
    message = _refusal(text)
    assert f"anchors and aliases are not allowed in loopml.yaml: line {_line_of(text, needle)}" in (
        message
    )
    assert what in message


def test_deep_nesting_is_refused_with_the_line_not_a_recursion_error() -> None:
    message = _refusal(GOOD + "data:\n  sources: " + "[" * 5000 + "]" * 5000 + "\n")
    assert "nest deeper than" in message and "line" in message


def test_a_huge_file_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    message = _refusal(GOOD + "# " + "x" * 2_000_000 + "\n")
    assert "characters long" in message and "at most" in message
    path = tmp_path / "loopml.yaml"
    path.write_text(GOOD + "# " + "x" * 50_000_000 + "\n", encoding="utf-8")
    tracemalloc.start()
    try:
        with pytest.raises(SpecError, match="characters long"):
            load_spec(path)  # read no further than the limit
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000, f"peak {peak:,} bytes"


# --- duplicate keys -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "path", "first", "again"),
    [
        (GOOD + "name: other\n", "name", "name: flights", "name: other"),
        (
            GOOD + "serving:\n  max_batch: 10\n  missing_values: reject\n  max_batch: 20\n",
            "serving.max_batch",
            "max_batch: 10",
            "max_batch: 20",
        ),
        (
            GOOD + "slices:\n  - name: a\n    column: origin\n    column: dest\n",
            "slices.0.column",
            "column: origin",
            "column: dest",
        ),
        (
            GOOD + "data:\n  expectations:\n    distance: {min: 0}\n    distance: {max: 9}\n",
            "data.expectations.distance",
            "distance: {min",
            "distance: {max",
        ),
    ],
)
def test_a_duplicate_key_is_an_error_naming_both_lines(
    text: str, path: str, first: str, again: str
) -> None:
    message = _refusal(text)
    a, b = _line_of(text, first), _line_of(text, again)
    assert f"loopml.yaml:{b}: {path}: duplicate key, at lines {a} and {b}" in message
    assert "keep one of them" in message


def test_duplicates_on_one_line_and_keys_equal_once_loaded_are_refused() -> None:
    message = _refusal(GOOD + "targets: {latency_p99_ms: 10, latency_p99_ms: 20}\n")
    assert "targets.latency_p99_ms: duplicate key, twice on line" in message
    assert "duplicate key" in _refusal(GOOD + "data:\n  sources:\n    1: a.csv\n    0x1: b.csv\n")


def test_every_duplicate_is_listed_at_once() -> None:
    message = _refusal(GOOD + "name: a\nserving: {max_batch: 1, max_batch: 2}\n")
    assert "2 duplicate key(s)" in message
    assert "name: duplicate key" in message and "serving.max_batch: duplicate key" in message


class _NoAliases(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


_keys = st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=6)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False),
    st.text(max_size=10),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=3),
    max_leaves=12,
)
_documents = st.dictionaries(_keys | st.integers(0, 99), _values, min_size=1, max_size=5)


def _mappings(node: yaml.Node, path: tuple[int, ...] = ()) -> list[tuple[int, ...]]:
    """The path (the index of each pair or item on the way) of every mapping under ``node``."""
    found: list[tuple[int, ...]] = []
    if isinstance(node, yaml.MappingNode):
        found.append(path)
        for i, (_, value) in enumerate(node.value):
            found += _mappings(value, (*path, i))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            found += _mappings(item, (*path, i))
    return found


def _at(node: yaml.Node, path: tuple[int, ...]) -> yaml.Node:
    for i in path:
        node = node.value[i][1] if isinstance(node, yaml.MappingNode) else node.value[i]
    return node


def _node(value: Any, flow: bool = False) -> yaml.Node:
    dumper = _NoAliases(io.StringIO(), sort_keys=False, default_flow_style=flow)
    node: yaml.Node = dumper.represent_data(value)
    return node


@settings(max_examples=150, deadline=None)
@given(_documents, st.data(), st.booleans())
def test_random_nested_mappings_with_a_duplicated_key_are_always_refused(
    document: dict[Any, Any], data: st.DataObject, flow: bool
) -> None:
    root = _node(document, flow)
    path = data.draw(st.sampled_from(_mappings(root)), label="mapping")
    mapping = _at(root, path)
    assert isinstance(mapping, yaml.MappingNode)
    if not mapping.value:
        mapping.value.append((_node(data.draw(_keys, label="key")), _node("leaf")))
    key, _ = data.draw(st.sampled_from(mapping.value), label="key")
    copy = yaml.ScalarNode(key.tag, key.value, style=key.style)  # a new node: no anchor
    position = data.draw(st.integers(0, len(mapping.value)), label="position")
    mapping.value.insert(position, (copy, _node(data.draw(_values, label="value"), flow)))
    text = yaml.serialize(root, Dumper=_NoAliases, width=10**6)

    with pytest.raises(SpecError) as info:
        read_yaml(text, source="loopml.yaml")
    lines = [
        k.start_mark.line + 1
        for k, _ in _at(yaml.compose(text, Loader=yaml.SafeLoader), path).value
        if k.value == copy.value and k.tag == copy.tag
    ]
    assert len(lines) == 2
    where = f"at lines {lines[0]} and {lines[1]}" if lines[0] != lines[1] else "twice on line"
    assert f"duplicate key, {where}" in str(info.value), (text, str(info.value))


class _Before(yaml.SafeLoader):
    """The loader as it was before anchors and duplicates were refused (YAML 1.2 booleans)."""


_Before.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Before.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


@settings(max_examples=200, deadline=None)
@given(_documents, st.booleans())
def test_documents_without_anchors_load_the_same_as_before(
    document: dict[Any, Any], flow: bool
) -> None:
    text = yaml.serialize(_node(document, flow), Dumper=_NoAliases)
    loaded, node = read_yaml(text)
    assert loaded == yaml.load(text, Loader=_Before)
    assert isinstance(node, yaml.MappingNode)


def test_the_flights_spec_loads_as_before() -> None:
    spec = parse_spec(GOOD + "retrain: {on: [schedule], schedule: 7d}\n")
    assert spec.retrain.on == ["schedule"] and spec.positive_class is True


# --- durations, intervals and sizes -----------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "bad", "expected"),
    [
        ("serving: {log_flush_interval: 0s}", "'0s'", "a duration from 10ms to 1m"),
        ("serving: {log_flush_interval: 0}", "0", "a duration from 10ms to 1m"),
        ("serving: {log_flush_interval: 1h}", "'1h'", "a duration from 10ms to 1m"),
        ("monitoring: {window: 0s}", "'0s'", "a duration from 1s to 365d in whole seconds"),
        ("monitoring: {window: 1500ms}", "'1500ms'", "in whole seconds"),
        ("monitoring: {alerts: [{metric: drift, threshold: 1, window: 0s}]}", "'0s'", "from 1s"),
        ("monitoring: {webhook_timeout: 0s}", "'0s'", "a duration from 100ms to 5m"),
        ("retrain: {data: window, window: 0s}", "'0s'", "a duration from 1m to 3650d"),
        ("retrain: {on: [schedule], schedule: 0s}", "'0s'", "a duration of at least 1m"),
        ("model: {timeout: 0s}", "'0s'", "a duration of at least 1s"),
        ("serving: {log_flush_interval: -1}", "-1", "expected a duration such as '30s'"),
    ],
)
def test_durations_the_code_cannot_run_with_are_refused_when_loaded(
    section: str, bad: str, expected: str
) -> None:
    text = GOOD + section + "\n"
    message = _refusal(text)
    assert f"loopml.yaml:{_line_of(text, section.split(':')[0] + ':')}" in message
    assert expected in message and f"got {bad}" in message


@pytest.mark.parametrize("value", [".inf", "99999999999w", "1e400"])
def test_an_endless_duration_is_a_clear_error_not_an_overflow(value: str) -> None:
    message = _refusal(GOOD + f"rollout: {{min_duration: {value}}}\n")
    assert "rollout.min_duration: expected a duration" in message


@given(st.integers(0, 120_000))
def test_the_flush_interval_is_accepted_exactly_within_its_bounds(milliseconds: int) -> None:
    text = GOOD + f"serving: {{log_flush_interval: {milliseconds}ms}}\n"
    if 10 <= milliseconds <= 60_000:
        assert parse_spec(text).serving.log_flush_interval.total_seconds() * 1000 == (
            pytest.approx(milliseconds)
        )
    else:
        assert "serving.log_flush_interval: expected a duration from 10ms to 1m" in _refusal(text)


@pytest.mark.parametrize("steps", ["[]", "[50, 25, 100]", "[5, 50]"])
def test_rollout_steps_must_increase_to_100(steps: str) -> None:
    message = _refusal(GOOD + f"rollout: {{steps: {steps}}}\n")
    assert "rollout.steps: expected increasing percentages ending at 100" in message


@pytest.mark.parametrize("bins", ["[]", "[500, 0]", "[0, 0, 10]", "[0, .nan]"])
def test_slice_bins_must_increase(bins: str) -> None:
    message = _refusal(GOOD + f"slices: [{{name: d, column: distance, bins: {bins}}}]\n")
    assert "slices.0.bins: expected bin edges in increasing order" in message


# --- ports ------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["serve", "ui"])
@pytest.mark.parametrize("port", ["99999", "65536", "0", "-1"])
def test_a_port_outside_1_to_65535_exits_2_with_the_range(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str, port: str
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = cli(command, "--port", port)
    assert code == 2
    assert f"Invalid value for '--port': expected a port from 1 to 65535, got {port}" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("port", [-1, 65536, 99999])
def test_the_library_refuses_ports_out_of_range(port: int) -> None:
    """``serve(port=99999)`` would bind whatever port getaddrinfo wraps it to: refused first."""
    from loopml.errors import LoopmlError
    from loopml.serving.server import serve

    with pytest.raises(LoopmlError, match=f"expected 1 to 65535.*got {port}"):
        serve(
            host="127.0.0.1",
            port=port,
            workers=1,
            spec=Path("loopml.yaml"),
            model=None,
            prediction_token=None,
        )
