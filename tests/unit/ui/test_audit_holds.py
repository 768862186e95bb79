"""The audit log folds each run of consecutive `hold` decisions into one row: nothing but holds
merges, no hold is lost from the counts, and what remains has no two holds of one model in a
row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from loopml.ui.audit import AuditRow, collapse_holds

START = datetime(2026, 1, 1, tzinfo=UTC)

kinds = st.tuples(
    st.sampled_from(["rollout", "loop"]),
    st.sampled_from(["hold", "hold", "hold", "advance", "start", "retrain"]),
    st.sampled_from(["m@1", "m@2"]),
)


def _rows(specs: list[tuple[str, str, str]]) -> list[AuditRow]:
    """Rows newest first, one second apart."""
    n = len(specs)
    return [
        AuditRow(START + timedelta(seconds=n - i), source, action, model, "test", f"#{i}", {})
        for i, (source, action, model) in enumerate(specs)
    ]


def _expand(rows: list[AuditRow]) -> list[tuple[str, str, str | None]]:
    return [(r.source, r.action, r.model_ref) for r in rows for _ in range(r.count)]


@given(st.lists(kinds, max_size=60))
def test_runs_of_holds_collapse_and_nothing_is_lost(specs: list[tuple[str, str, str]]) -> None:
    rows = _rows(specs)
    out = collapse_holds(rows)
    assert _expand(out) == _expand(rows)  # every decision counted, in order
    assert sum(r.count for r in out) == len(rows)
    for newer, older in pairwise(out):  # no two holds of one model in a row
        same = (newer.source, newer.model_ref) == (older.source, older.model_ref)
        assert not (newer.action == older.action == "hold" and same)
    for row in out:
        assert row.count == 1 or row.action == "hold"  # only holds merge
        if row.count > 1:
            assert row.since is not None and row.since < row.at
            assert row.span.startswith(f"{row.count:,} holds from ")
    assert collapse_holds(out) == out  # collapsing again changes nothing


def test_a_run_keeps_its_newest_text_and_spans_from_its_oldest() -> None:
    rows = _rows([("rollout", "hold", "m@2")] * 3 + [("rollout", "start", "m@2")])
    (run, start) = collapse_holds(rows)
    assert (run.count, run.text, run.at, run.since) == (3, "#0", rows[0].at, rows[2].at)
    assert run.span == "3 holds from 00:00:02 to 00:00:04"
    assert (start.count, start.action) == (1, "start")
