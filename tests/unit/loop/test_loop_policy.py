"""The retrain policy, walked through time: triggers, cooldown and the weekly budget."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import orjson
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loopml.loop.policy import History, Signal, kind_of, plan, signals_from_alerts
from loopml.spec import Retrain
from loopml.store import AlertRecord

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def alert(
    id: int, metric: str, model: str, feature: str | None = None, status: str = "open"
) -> AlertRecord:
    return AlertRecord(
        id, "flights", f"{metric} > 0.5", "warning", metric, feature, 1.0, 0.5,
        {"model_version": model}, status, T0, None,
    )  # fmt: skip


def test_only_open_drift_and_quality_alerts_on_the_serving_model_are_triggers() -> None:
    alerts = [
        alert(1, "drift", "flights@2", "temp"),
        alert(2, "quality.roc_auc", "flights@2"),
        alert(3, "expected.accuracy", "flights@2"),
        alert(4, "missing_increase", "flights@2", "temp"),  # a fault: not a trigger
        alert(5, "error_rate", "flights@2"),
        alert(6, "drift", "flights@1", "temp"),  # an older model's
        alert(7, "drift", "flights@2", "humid", status="acked"),  # a person said: known
    ]
    signals = signals_from_alerts(alerts, "flights@2")
    assert [(s.alert_id, s.kind) for s in signals] == [(1, "drift"), (2, "quality"), (3, "quality")]
    assert "on temp" in signals[0].what
    assert kind_of("latency_p99_ms") is None


def decide(
    policy: Retrain,
    signals: list[Signal],
    now: datetime,
    attempts: list[datetime] = (),  # type: ignore[assignment]
    outcome: str | None = None,
    labels: int = 0,
) -> Any:
    return plan(
        policy,
        signals,
        now=now,
        history=History(sorted(attempts, reverse=True), outcome, labels),
        serving_since=T0,
        new_labels=100,
    )


def test_cooldown_weekly_budget_schedule_retry_and_manual_only() -> None:
    drift = [Signal("drift", T0, "drift on temp")]
    policy = Retrain(cooldown=timedelta(hours=6), max_per_week=2)
    assert decide(policy, [], T0).action == "none"
    assert decide(policy, drift, T0).action == "retrain"
    waiting = decide(policy, drift, T0, [T0 - timedelta(hours=1)], "rollout")
    assert waiting.action == "wait" and waiting.why == "cooldown" and "5.0 h left" in waiting.reason
    spent = [T0 - timedelta(days=1), T0 - timedelta(days=2)]
    budget = decide(policy, drift, T0, spent, "rollout")
    assert budget.action == "wait" and budget.why == "budget" and "max_per_week 2" in budget.reason
    # a rejected retrain is tried again only with new labels: the same data, the same verdict
    before = [T0 - timedelta(days=1)]
    same = decide(policy, drift, T0, before, "rejected", labels=40)
    assert same.action == "wait" and same.why == "labels" and "100 new labels" in same.reason
    assert decide(policy, drift, T0, before, "rejected", labels=100).action == "retrain"
    assert decide(Retrain(on=["manual"]), drift, T0).action == "none"
    scheduled = Retrain(on=["schedule"], schedule=timedelta(days=7))
    assert decide(scheduled, [], T0).action == "none"
    later = decide(scheduled, [], T0 + timedelta(days=8))
    assert later.action == "retrain" and later.signals[0].kind == "schedule"
    recently = decide(scheduled, [], T0 + timedelta(days=8), [T0 + timedelta(days=3)], "rollout")
    assert recently.action == "none", "the schedule counts from the last retrain"


@settings(max_examples=150, deadline=None)
@given(
    hours=st.lists(st.integers(0, 24 * 60), min_size=1, max_size=80),
    cooldown_h=st.integers(0, 72),
    per_week=st.integers(1, 5),
)
def test_retrains_never_break_the_cooldown_or_the_weekly_budget(
    hours: list[int], cooldown_h: int, per_week: int
) -> None:
    """Signals at random hours over two months: every retrain the policy allows is at least a
    cooldown after the previous one, no 7 days hold more than ``max_per_week``, and a signal is
    only left waiting when one of the two limits holds it."""
    policy = Retrain(cooldown=timedelta(hours=cooldown_h), max_per_week=per_week)
    done: list[datetime] = []
    for hour in sorted(hours):
        now = T0 + timedelta(hours=hour)
        decided = decide(policy, [Signal("drift", now, "drift")], now, done, "rollout")
        if decided.action == "retrain":
            done.append(now)
        else:
            assert decided.action == "wait"
            cooling = bool(done) and now - done[-1] < policy.cooldown
            spent = sum(now - t < timedelta(days=7) for t in done) >= per_week
            assert cooling or spent
    for i, moment in enumerate(done):
        if i:
            assert moment - done[i - 1] >= policy.cooldown
        assert sum(moment - timedelta(days=7) < t <= moment for t in done) <= per_week


# --- logged records back into training rows -----------------------------------------------------

LIKE = {
    "flight_id": pl.Int64(),
    "scheduled_departure": pl.Datetime("us"),
    "day": pl.Date(),
    "landed": pl.Datetime("us", "America/New_York"),
    "distance": pl.Float64(),
    "carrier": pl.String(),
    "late": pl.Boolean(),
}
ZONES = st.sampled_from([None, UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=2))])
MOMENTS = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1), timezones=ZONES
)


def _utc_naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


@settings(max_examples=100, deadline=None)
@given(
    rows=st.lists(
        st.fixed_dictionaries(
            {},
            optional={
                "flight_id": st.integers(-(2**62), 2**62),
                "scheduled_departure": MOMENTS,
                "day": st.dates(min_value=date(1971, 1, 1), max_value=date(2100, 1, 1)),
                "landed": MOMENTS,
                "distance": st.floats(allow_nan=False, allow_infinity=False, width=64),
                "carrier": st.text(max_size=8),
            },
        ),
        min_size=1,
        max_size=20,
    ),
    labels=st.lists(st.sampled_from([True, False, 1, 0, 2, "yes", None]), min_size=20, max_size=20),
)
def test_logged_records_come_back_as_the_training_rows_they_were(
    rows: list[dict[str, object]], labels: list[object]
) -> None:
    """Whatever keys a client sent, each value comes back in its training type (aware times in
    UTC, then in the column's zone); a missing key is null, except the time column, which falls
    back to when the request was answered; a label that would change on the way is null."""
    from loopml.loop.production import to_training_frame
    from loopml.spec import parse_spec

    spec = parse_spec(
        "name: f\ntask: binary\ntarget: late\ntime_column: scheduled_departure\n"
        "features: {numeric: [distance], categorical: [carrier]}\nmetric: {name: roc_auc}\n"
    )
    like = pl.Schema(LIKE)
    answered = T0 + timedelta(minutes=5)
    sent = [
        {k: v.isoformat() if isinstance(v, datetime | date) else v for k, v in row.items()}
        for row in rows
    ]
    log = pl.DataFrame(
        {"ts": [answered] * len(rows), "features": [orjson.dumps(row).decode() for row in sent]}
    )
    frame = to_training_frame(log, labels[: len(rows)], spec, like)
    assert frame.schema == like
    for row, back, label in zip(rows, frame.to_dicts(), labels, strict=False):
        expected = None if label is None or label in (2, "yes") else bool(label)
        assert back["late"] is expected
        for name in ("flight_id", "distance", "carrier", "day"):
            assert back[name] == row.get(name)
        when = row.get("scheduled_departure", answered)
        assert back["scheduled_departure"] == _utc_naive(when)  # type: ignore[arg-type]
        landed = row.get("landed")
        if landed is None:
            assert back["landed"] is None
        else:
            assert _utc_naive(back["landed"]) == _utc_naive(landed)  # type: ignore[arg-type]


# --- fresh rows, the comparison window and the data policies ------------------------------------


def _rows(ids: list[int | None], start: int = 0) -> pl.DataFrame:
    n = len(ids)
    return pl.DataFrame(
        {
            "flight_id": pl.Series(ids, dtype=pl.Int64),
            "scheduled_departure": [
                datetime(2013, 1, 1) + timedelta(hours=start + i) for i in range(n)
            ],
            "distance": [float(start + i) for i in range(n)],
            "carrier": ["AA"] * n,
            "late": [i % 2 == 0 for i in range(n)],
        }
    )


def test_fresh_rows_leave_out_what_the_model_trained_on_and_hold_out_the_newest() -> None:
    from loopml.errors import RetrainError
    from loopml.loop.fresh import split_fresh, training_frame
    from loopml.spec import parse_spec

    text = (
        "name: f\ntask: binary\ntarget: late\nid_column: flight_id\n"
        "time_column: scheduled_departure\n"
        "features: {numeric: [distance], categorical: [carrier]}\n"
        "metric: {name: roc_auc}\nmonitoring: {min_samples: 10}\nmodel: {test_fraction: 0.2}\n"
    )
    spec = parse_spec(text)
    base = _rows(list(range(100)))
    production = pl.concat(
        [
            _rows(list(range(90, 100)), start=90),  # already trained on
            _rows(list(range(100, 160)), start=100),
            _rows(list(range(150, 160)), start=150),  # sent twice
            _rows([None] * 5, start=200),  # no id: kept, by value
            _rows([None] * 5, start=200),  # the same rows again
        ]
    )
    fresh = split_fresh(production.sample(fraction=1.0, shuffle=True, seed=1), base, spec)
    both = pl.concat([fresh.train, fresh.comparison])
    assert both.height == 65 and both["flight_id"].drop_nulls().n_unique() == 60
    assert fresh.comparison.height == 13  # 20 % of 65, at least min_samples
    assert fresh.train["scheduled_departure"].max() <= fresh.comparison["scheduled_departure"].min()
    assert not set(both["flight_id"].drop_nulls()) & set(base["flight_id"])
    appended = training_frame(base, fresh.train, spec)
    assert appended.height == 100 + 52
    rows = parse_spec(text + "retrain: {data: window, window_rows: 30}\n")
    assert training_frame(base, fresh.train, rows).height == 30
    span = parse_spec(text + "retrain: {data: window, window: 1d}\n")
    recent = training_frame(base, fresh.train, span)
    newest = fresh.train["scheduled_departure"].max()
    assert recent["scheduled_departure"].min() > newest - timedelta(days=1)
    assert recent.height == 24
    with pytest.raises(RetrainError, match="needs at least 20"):
        split_fresh(_rows(list(range(100, 115)), start=100), base, spec)
    one_class = _rows(list(range(100, 140)), start=100).with_columns(pl.lit(True).alias("late"))
    with pytest.raises(RetrainError, match="one class"):
        split_fresh(one_class, base, spec)


@pytest.mark.parametrize(
    ("time_format", "sent", "expected"),
    [("%b-%Y", "Mar-2018", date(2018, 3, 1)), ("%Y", 2013, date(2013, 1, 1))],
)
def test_a_time_column_in_the_spec_s_format_comes_back_as_that_date(
    time_format: str, sent: object, expected: date
) -> None:
    """Clients send the time column as the data has it (``Mar-2018``, ``2013``): the retrain
    reads it by the spec's rule, not as the time the request was answered."""
    from loopml.loop.production import to_training_frame
    from loopml.spec import parse_spec

    spec = parse_spec(
        f"name: f\ntask: regression\ntarget: y\ntime_column: month\ntime_format: '{time_format}'\n"
        "features: {numeric: [x]}\nmetric: {name: rmse}\n"
    )
    like = pl.Schema({"month": pl.Date(), "x": pl.Float64(), "y": pl.Float64()})
    rows = [{"month": sent, "x": 1.0}, {"x": 2.0}]
    log = pl.DataFrame({"ts": [T0] * 2, "features": [orjson.dumps(row).decode() for row in rows]})
    frame = to_training_frame(log, [3.0, 4.0], spec, like)
    assert frame["month"].to_list() == [expected, T0.date()]


def test_a_missing_values_span_takes_only_rows_lacking_a_usually_present_feature() -> None:
    """Row by row: the healthy rows of the window stay, and a feature whose absence is its
    usual state in training (wind gusts) is not a fault when it is absent more."""
    from loopml.loop.production import Span

    span = Span(
        7, "missing_increase", "missing values", "open", T0, T0 + timedelta(hours=1),
        features=("temp", "wind_gust"),
    )  # fmt: skip
    rows = pl.DataFrame(
        {
            "ts": [T0, T0, T0 + timedelta(hours=2)],
            "temp": [None, 20.0, None],
            "wind_gust": [None, None, None],
        }
    )
    kept = rows.select(span.mask(frozenset({"temp"}))).to_series().to_list()
    assert kept == [True, False, False]  # the second lacks only wind_gust; the third is later
    windowed = Span(7, "unseen", "unseen", "open", T0, T0 + timedelta(hours=1))
    assert rows.select(windowed.mask(frozenset({"temp"}))).to_series().to_list() == [
        True, True, False,
    ]  # fmt: skip
