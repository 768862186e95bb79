"""Labelled production data: what the deployment answered, joined with the labels fed back.

The prediction log keeps each request's record as sent; the store keeps the labels that arrived
later by request id. Joined, they are new training rows in the shape of the training dataset:
the same columns and types, the target filled in from the label. The time column comes from the
record when the client sent it, else from the time the request was answered, so a sliding
window and the comparison window (the most recent labelled rows) order rows by when they
happened.

**Quarantine.** A faulty client must not be trained in: the rows logged while an input incident
was open (:func:`quarantine_spans`: missing values, unseen categories, out-of-range values, as
``retrain.quarantine`` lists) are left out, whatever model answered them (the fault is in the
inputs, and stable and canary saw the same clients), and counted per incident. A missing value
shows in the row itself, so a missing-values incident takes only the rows that lack a feature it
names, and only features the training data nearly always had (missing in under half its rows):
the healthy clients' rows of the same window stay, and a feature whose absence is its usual
state (wind gusts, recorded only when it gusts) is drift when it is absent more, not a fault.
The other families cannot be told row by row, so their whole windows go. An incident covers its
windows from when it opened to its latest window, also once resolved: the rows logged while it
was open are still the faulty ones. Schema faults (unknown fields, wrong types) never reach the
log: serving refuses them.

Which families: by default ``missing`` only. A missing-value increase is a fault (a feature no
longer sent), and training on it teaches the model the fault. Unseen categories and values out
of the training range are as often the world changing as a client breaking (a model trained on
January–March flights sees 60–100 % of June's temperatures beyond its range): quarantining
them would keep the loop from ever learning the change, so they are opt-in
(``retrain.quarantine: [missing, unseen, out_of_range]``). What is certainly a fault is always
left out, row by row: a value beyond ``FAR_SPANS`` times the training range's width (the
validation's ``far_out_of_range`` error, a unit or encoding fault), which would otherwise make
the retrain's validation fail and block the loop for as long as those rows are fresh.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from loopml.data.profile import Profile
from loopml.data.schema import FAR_SPANS, Schema
from loopml.data.times import parse_times
from loopml.errors import FeatureError
from loopml.features._datetime import to_datetime
from loopml.modeling import metrics as M
from loopml.monitoring.windows import SERVED
from loopml.predlog import decode_features, read_log
from loopml.spec import Spec
from loopml.store import IncidentRecord, Store

logger = logging.getLogger(__name__)

#: ``retrain.quarantine`` names -> the incident families (alert metrics) they cover
QUARANTINED = {
    "missing": ("missing_increase", "missing_fraction"),
    "unseen": ("unseen",),
    "out_of_range": ("out_of_range",),
}


@dataclass(frozen=True)
class Span:
    """The time an input incident covered: its windows from ``start`` to ``end`` (a count
    window's end is its last row, so ``inclusive``)."""

    incident: int
    family: str
    title: str
    status: str
    start: datetime
    end: datetime
    inclusive: bool = False
    features: tuple[str, ...] = ()  # the features the incident names

    def mask(self, usually_present: frozenset[str] | None = None) -> pl.Expr:
        """The rows this span quarantines: logged within it and, for missing values, lacking
        one of its features that the training data ``usually_present`` had."""
        ts = pl.col("ts")
        end = ts <= self.end if self.inclusive else ts < self.end
        within = (ts >= self.start) & end
        if self.family not in QUARANTINED["missing"] or usually_present is None:
            return within
        lacking = [pl.col(f).is_null() for f in self.features if f in usually_present]
        return within & pl.any_horizontal(lacking) if lacking else pl.lit(False)


@dataclass(frozen=True)
class Labelled:
    """Labelled production rows shaped like the training data, and those quarantined."""

    rows: pl.DataFrame
    spans: list[Span] = field(default_factory=list)
    quarantined: dict[int, int] = field(default_factory=dict)  # incident id -> labelled rows
    far: dict[str, int] = field(default_factory=dict)  # column -> rows far out of its range
    far_rows: int = 0

    @property
    def left_out(self) -> int:
        return sum(self.quarantined.values()) + self.far_rows

    def report(self) -> list[dict[str, Any]]:
        """Each incident that quarantined rows (its id, family, title, span and rows), then
        each column whose values were far out of its training range."""
        far = [
            {
                "incident": None,
                "family": "far_out_of_range",
                "title": f"{column}: values beyond {FAR_SPANS}× its training range's width",
                "rows": count,
            }
            for column, count in self.far.items()
        ]
        return [
            {
                "incident": span.incident,
                "family": span.family,
                "title": span.title,
                "status": span.status,
                "from": span.start.isoformat(),
                "to": span.end.isoformat(),
                "rows": self.quarantined[span.incident],
            }
            for span in self.spans
            if self.quarantined.get(span.incident)
        ] + far


def quarantine_spans(store: Store, spec: Spec) -> list[Span]:
    """The spans of ``spec``'s input incidents of the ``retrain.quarantine`` families."""
    families = {f for name in spec.retrain.quarantine for f in QUARANTINED[name]}
    return [
        _span(incident)
        for incident in store.incidents.list(deployment=spec.name)
        if incident.family in families
    ]


def _span(incident: IncidentRecord) -> Span:
    ends = [datetime.fromisoformat(w["end"]) for w in incident.evidence.get("windows", [])]
    end = max([_aware(incident.last_window), *map(_aware, ends)])
    named = tuple(
        m["feature"]
        for m in incident.evidence.get("features", [])
        if m.get("feature") != "prediction"
    )
    return Span(
        incident.id, incident.family, incident.title, incident.status,
        _aware(incident.first_window), end, inclusive=incident.size.endswith("rows"),
        features=named,
    )  # fmt: skip


def usually_present(profile: Profile) -> frozenset[str]:
    """The columns missing in under half of ``profile``'s rows: their absence is a fault."""
    return frozenset(c.name for c in profile if c.missing_fraction < 0.5)


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def labelled_rows(
    store: Store,
    spec: Spec,
    log_folder: str | Path,
    like: pl.Schema,
) -> pl.DataFrame:
    """The served, answered and labelled requests of ``spec``'s deployment, shaped like
    ``like`` (the training dataset's schema), oldest first; rows whose label does not fit the
    target's type are left out (see :func:`to_training_frame`)."""
    return labelled_production(store, spec, log_folder, like).rows


def labelled_production(
    store: Store,
    spec: Spec,
    log_folder: str | Path,
    like: pl.Schema,
    quarantine: list[Span] | None = None,
    schema: Schema | None = None,
    profile: Profile | None = None,
) -> Labelled:
    """:func:`labelled_rows`, less the rows a ``quarantine`` span covers (missing values judged
    against the training ``profile``), counted per incident, and the rows with a value far out
    of ``schema``'s ranges, counted per column (see the module doc)."""
    log = read_log(log_folder, spec.name)
    log = log.filter(pl.col("route").is_in(SERVED) & pl.col("error").is_null())
    log = log.unique("request_id", keep="first", maintain_order=True)
    ids = log.get_column("request_id").to_list()
    labels = store.feedback.labels(ids) if ids else {}
    log = log.filter(pl.col("request_id").is_in(list(labels)))
    rows = to_training_frame(log, [labels[i] for i in log.get_column("request_id")], spec, like)
    counted: dict[int, int] = {}
    if quarantine:
        present = usually_present(profile) if profile is not None else None
        stamped = rows.with_columns(log.get_column("ts").dt.convert_time_zone("UTC").alias("ts"))
        which = [pl.when(s.mask(present)).then(pl.lit(s.incident)) for s in quarantine]
        hit = stamped.select(pl.coalesce(which).alias("_quarantine")).to_series()
        counted = {int(i): int(n) for i, n in hit.drop_nulls().value_counts().iter_rows()}
        rows = rows.filter(hit.is_null())
    rows = rows.filter(pl.col(spec.target).is_not_null())
    masks = _far_out_of_range(rows, schema) if schema is not None else {}
    if not masks:
        return Labelled(rows, quarantine or [], counted)
    counts = rows.select(mask.sum().alias(name) for name, mask in masks.items()).row(0, named=True)
    far = {name: int(n) for name, n in counts.items() if n}
    kept = rows.filter(~pl.any_horizontal(list(masks.values())))
    return Labelled(kept, quarantine or [], counted, far, rows.height - kept.height)


def _far_out_of_range(rows: pl.DataFrame, schema: Schema) -> dict[str, pl.Expr]:
    """Per numeric column with a training range, the rows beyond ``FAR_SPANS`` times its
    width (the validation's ``far_out_of_range`` rule, where it applies)."""
    masks = {}
    for name, rule in schema.columns.items():
        if name not in rows.columns or rule.kind != "numeric" or "range" in rule.strict:
            continue
        if rule.min is None or rule.max is None or not rows.schema[name].is_numeric():
            continue
        width = (rule.max - rule.min) or max(abs(rule.min), abs(rule.max), 1.0)
        value = pl.col(name).cast(pl.Float64)
        far = (value < rule.min - FAR_SPANS * width) | (value > rule.max + FAR_SPANS * width)
        masks[name] = far.fill_null(False)
    return masks


def to_training_frame(
    log: pl.DataFrame, labels: list[Any], spec: Spec, like: pl.Schema
) -> pl.DataFrame:
    """Logged requests (``features`` JSON, ``ts``) and their labels as rows of schema ``like``.

    Times are read as serving reads them (ISO-8601; aware values in UTC) and stored in the
    training column's own type. When the time column is not a feature and a client did not send
    it (or sent something unreadable), the time the request was answered stands in for it.
    """
    wanted = {name: dtype for name, dtype in like.items() if name != spec.target}
    as_sent = {
        name: pl.String() if dtype.is_temporal() else dtype for name, dtype in wanted.items()
    }
    frame = decode_features(log.select("features"), as_sent)
    frame = frame.with_columns(
        _times(
            frame.get_column(name), dtype, spec.time_format if name == spec.time_column else None
        )
        for name, dtype in wanted.items()
        if dtype.is_temporal()
    )
    time = spec.time_column
    if time is not None and time in wanted and time not in spec.features.all:
        answered = _in_type(log.get_column("ts").dt.replace_time_zone(None), wanted[time])
        frame = frame.with_columns(pl.coalesce(pl.col(time), pl.lit(answered)))
    label = _labels(labels, spec.target, like[spec.target])
    return frame.with_columns(label).select(list(like.keys()))


def _times(values: pl.Series, dtype: pl.DataType, time_format: str | None = None) -> pl.Series:
    """Texts as ``dtype`` values: read by the spec's ``time_format`` (for its time column,
    which clients send as the data has it, e.g. ``Jan-2018``), else as ISO 8601; unreadable
    ones are null."""
    parsed = []
    for value in values.to_list():
        try:
            parsed.append(to_datetime(values.name, value))
        except FeatureError:
            parsed.append(None)
    iso = pl.Series(values.name, parsed, dtype=pl.Datetime("us"))
    if time_format is not None:
        iso = parse_times(values, time_format).cast(pl.Datetime("us")).fill_null(iso)
    return _in_type(iso, dtype)


def _in_type(naive_utc: pl.Series, dtype: pl.DataType) -> pl.Series:
    """Naive UTC datetimes in ``dtype``: a date, a naive datetime, or one in its time zone."""
    if dtype == pl.Date:
        return naive_utc.dt.date()
    zone = getattr(dtype, "time_zone", None)
    values = naive_utc.dt.replace_time_zone("UTC").dt.convert_time_zone(zone) if zone else naive_utc
    return values.cast(dtype)


def _labels(labels: list[Any], name: str, dtype: pl.DataType) -> pl.Series:
    """Labels as the target's type; one that would change on the way (2 → true, 1.7 → 1) or
    not convert at all is null, with a warning naming a few."""
    series = pl.Series(name, labels, dtype=dtype, strict=False)
    kept = series.to_list()
    bad = [
        i
        for i, (value, back) in enumerate(zip(labels, kept, strict=True))
        if value is not None
        and (back is None or (back != value and M.label_text(back) != M.label_text(value)))
    ]
    if bad:
        examples = ", ".join(repr(labels[i]) for i in bad[:5])
        logger.warning(
            "%d label(s) fed back for '%s' are not %s values (e.g. %s): left out of retraining",
            len(bad),
            name,
            dtype,
            examples,
        )
        series = series.scatter(bad, None)
    return series
