"""The prediction log's sink contract (:class:`loopml.predlog.SegmentSink`), checked on every
sink in :data:`SINKS`: a write that returns is one whole segment of its day, visible to readers;
a write that raises leaves readers nothing; segments are never changed or overwritten, even by
another sink writing to the same place."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from loopml.predlog import LocalSegments, MemorySegments, SegmentSink

#: What readers see: segment (the name ``write`` returned) -> (its UTC day, its rows).
Visible = dict[str, tuple[str, pa.Table]]


@dataclass(frozen=True)
class SinkCase:
    """How the contract drives one kind of sink."""

    make: Callable[[Path], SegmentSink]
    """A sink writing to ``place`` (called twice with one place: two writers sharing it)."""
    visible: Callable[[Path, SegmentSink], Visible]
    """Every segment a reader of ``place`` (or of this sink) sees."""
    fail_write: Callable[[SegmentSink], object]
    """A write of this sink that raises."""


def _local_visible(place: Path, sink: SegmentSink) -> Visible:
    """What read_log reads: ``part-*.parquet`` in the day folders of the deployment."""
    return {
        str(path): (path.parent.name, pq.read_table(path))
        for path in sorted((place / "flights").glob("*/part-*.parquet"))
    }


def _local_fail(sink: SegmentSink) -> object:
    unwritable = pa.table({"span": pa.array([(1, 2, 3)], pa.month_day_nano_interval())})
    return sink.write(unwritable, "2024-03-01")  # Parquet has no such type: fails mid-write


def _memory(sink: SegmentSink) -> MemorySegments:
    assert isinstance(sink, MemorySegments)
    return sink


#: Every sink the contract runs on; a new sink joins by one entry here.
SINKS = [
    pytest.param(
        SinkCase(lambda place: LocalSegments(place, "flights"), _local_visible, _local_fail),
        id="local",
    ),
    pytest.param(
        SinkCase(
            lambda place: MemorySegments(),
            lambda place, sink: {s.name: (s.day, s.rows) for s in _memory(sink).segments},
            lambda sink: sink.write(None, "2024-03-01"),  # not a table: refused
        ),
        id="memory",
    ),
]


@pytest.fixture(params=SINKS)
def case(request: pytest.FixtureRequest) -> SinkCase:
    chosen: SinkCase = request.param
    return chosen


def rows(*ids: str) -> pa.Table:
    return pa.table({"request_id": list(ids), "score": [0.5 + i / 100 for i in range(len(ids))]})


def test_a_write_is_one_whole_segment_of_its_day(case: SinkCase, tmp_path: Path) -> None:
    sink = case.make(tmp_path)
    assert case.visible(tmp_path, sink) == {}
    name = sink.write(rows("r0", "r1", "r2"), "2024-03-01")
    seen = case.visible(tmp_path, sink)
    assert list(seen) == [name]
    day, table = seen[name]
    assert day == "2024-03-01" and table.equals(rows("r0", "r1", "r2"))


def test_every_write_is_a_new_segment_and_none_changes(case: SinkCase, tmp_path: Path) -> None:
    sink = case.make(tmp_path)
    written = {
        sink.write(rows("a"), "2024-03-01"): ("2024-03-01", rows("a")),
        sink.write(rows("b", "c"), "2024-03-01"): ("2024-03-01", rows("b", "c")),
        sink.write(rows("d"), "2024-03-02"): ("2024-03-02", rows("d")),
    }
    assert len(written) == 3, "each write names a new segment"
    seen = case.visible(tmp_path, sink)
    assert set(seen) == set(written)
    for name, (day, table) in written.items():
        assert seen[name][0] == day and seen[name][1].equals(table), name


def test_a_failed_write_leaves_readers_nothing(case: SinkCase, tmp_path: Path) -> None:
    sink = case.make(tmp_path)
    kept = sink.write(rows("a"), "2024-03-01")
    before = case.visible(tmp_path, sink)
    with pytest.raises(Exception):  # noqa: B017 - any error: the contract is what is left
        case.fail_write(sink)
    after = case.visible(tmp_path, sink)
    assert set(after) == set(before) == {kept}
    assert after[kept][1].equals(rows("a"))
    again = sink.write(rows("b"), "2024-03-01")  # the sink still works: the caller may retry
    assert set(case.visible(tmp_path, sink)) == {kept, again}


def test_sinks_sharing_a_place_never_overwrite_each_other(case: SinkCase, tmp_path: Path) -> None:
    """Two writers (say two server processes) on one place, one day, interleaved."""
    first, second = case.make(tmp_path), case.make(tmp_path)
    written = {}
    for i in range(5):
        for sink, label in ((first, "first"), (second, "second")):
            written[sink.write(rows(f"{label}-{i}"), "2024-03-01")] = rows(f"{label}-{i}")
    assert len(written) == 10, "every write names its own segment"
    seen = case.visible(tmp_path, first) | case.visible(tmp_path, second)
    assert set(seen) == set(written)
    for name, table in written.items():
        assert seen[name][1].equals(table), name
