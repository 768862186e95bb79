"""Scoping from data: propose a ``loopml.yaml`` for a target column (``loopml init``).

Reads a sample, reads the time column into dates (:mod:`loopml.data.times`; the rule goes into
the spec's ``time_format``), infers each column's kind (:mod:`loopml.data.kinds`), flags columns
that should not be features, proposes the task and a primary metric, and renders a commented
spec that the user edits. The project is named after its data and its target
(:func:`project_name`).

Flags (each excluded from the features with the reason written beside it):

- *identifier*: (almost) unique per row and named or shaped like an id; the first becomes
  ``id_column``.
- *constant*: a single value; *all missing*: no value at all.
- *time proxy*: a calendar part of the time column that repeats fewer than ``MIN_CYCLES`` times in
  the data (month over one quarter, day of month over three months). Such a column names dates:
  with a time-based split, a model learns what happened on those dates and scores worse on the
  future (flights, January–March: day of month cost LightGBM 0.03 test ROC AUC). Hour of day and
  day of week repeat often enough and stay (numeric: their order is time's). A column of two
  values (a holiday flag) is never a time proxy: it splits the dates in two and names none.
- *likely leak*: the column alone predicts the target almost perfectly, the mark of a column
  computed from the outcome (see :mod:`loopml.data.leaks`).
- *missingness leak*: where the column is missing, the target is (almost) always one thing — a
  value left empty because of the outcome, as a cancelled flight has no tail number and counts
  as late. A model learns "missing means late" and answers that to any client that omits it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import polars as pl
import yaml

from loopml.data.kinds import as_float, calendar_cycles, column_kind
from loopml.data.leaks import LEAK_SCORE, leak_score, missing_leak
from loopml.data.times import describe_rule, infer_time_format, read_times
from loopml.errors import DataError, unknown_column
from loopml.spec import (
    DEFAULT_METRIC,
    ModelSearch,
    Monitoring,
    Retrain,
    Rollout,
    Serving,
    Spec,
    Task,
    parse_spec,
)
from loopml.spec.time_format import check_time_format

SAMPLE_ROWS = 200_000
MIN_CYCLES = 6


@dataclass(frozen=True)
class Finding:
    """What init concluded about one column."""

    column: str
    role: str  # feature | target | id | time | excluded
    kind: str | None = None
    reason: str = ""


@dataclass(frozen=True)
class Proposal:
    """A proposed spec, the per-column findings behind it, and the commented YAML to write."""

    spec: Spec
    findings: list[Finding] = field(default_factory=list)
    text: str = ""

    @property
    def flagged(self) -> list[Finding]:
        return [f for f in self.findings if f.role == "excluded"]


def _infer_task(target: pl.Series) -> Task:
    values = target.drop_nulls()
    distinct = values.n_unique()
    if distinct < 2:
        raise DataError(
            f"the target '{target.name}' has {distinct} distinct value(s): expected at least 2 "
            "(a model needs something to tell apart)"
        )
    if distinct == 2:
        return "binary"
    dtype = values.dtype
    if dtype.is_float():
        return "regression"
    if dtype.is_integer():
        return "multiclass" if distinct <= 20 else "regression"
    if distinct <= 50:
        return "multiclass"
    raise DataError(
        f"the target '{target.name}' holds {distinct} distinct {dtype} values: too many classes; "
        "pass --task regression if it is a number stored as text, or group the classes"
    )


def propose_spec(
    frame: pl.DataFrame,
    *,
    target: str,
    task: Task | None = None,
    time_column: str | None = None,
    time_format: str | None = None,
    name: str = "project",
    source: str = "the data",
) -> Proposal:
    """Propose a spec for predicting ``target`` from ``frame``'s other columns.

    The time column (given, or the first column in time order: dates, or text that reads as
    dates) is read into dates by ``time_format`` or the rule :func:`infer_time_format` finds,
    and that rule is written in the spec; a time column that cannot be read is refused."""
    for column in (target, time_column):
        if column is not None and column not in frame.columns:
            raise unknown_column(column, frame.columns, where=source)
    if time_format is not None and time_column is None:
        raise DataError("--time-format says how to read the time column: pass --time-column too")
    findings: list[Finding] = []
    if time_column is None:
        time_column, time_format = _ordering_column(frame, target)
        why = "rows are in its order"
    else:
        if time_format is None:
            time_format = infer_time_format(frame[time_column])
        else:
            try:
                check_time_format(time_format)
            except ValueError as exc:
                raise DataError(f"--time-format: {exc}") from exc
        why = "given with --time-column"
    if time_column is not None:
        if time_format is not None:
            frame = frame.with_columns(read_times(frame[time_column], time_format))
        findings.append(Finding(time_column, "time", reason=f"{why}; {describe_rule(time_format)}"))
    sample = frame.sample(SAMPLE_ROWS, seed=0) if frame.height > SAMPLE_ROWS else frame
    task = task or _infer_task(sample[target])
    findings.insert(0, Finding(target, "target", reason=f"{task} target"))
    kinds: dict[str, list[str]] = {"numeric": [], "categorical": [], "text": [], "datetime": []}
    exclude: list[str] = []
    id_column = None
    for column in frame.columns:
        if column in (target, time_column):
            continue
        kind, reason = column_kind(sample[column])
        if kind is None and reason.startswith("identifier") and id_column is None:
            id_column = column
            findings.append(Finding(column, "id", reason=reason))
            continue
        if kind is not None:
            score = leak_score(sample, column, target, task)
            if score is not None and score >= LEAK_SCORE:
                kind, reason = None, f"likely target leak (alone it scores {score:.2f} of 1)"
            elif (found := missing_leak(sample, column, target, task)) is not None:
                kind, reason = None, found
        if kind is not None and time_column is not None:
            kind, reason = _calendar_part(sample, column, time_column, kind, reason)
        if kind is None:
            exclude.append(column)
            findings.append(Finding(column, "excluded", reason=reason))
        else:
            kinds[kind].append(column)
            findings.append(Finding(column, "feature", kind=kind, reason=reason))
    metric = DEFAULT_METRIC[task]
    positive: Any = None
    share = None
    if task == "binary":
        values = sample[target].drop_nulls()
        positive = _positive_class(values)
        share = as_float((values == positive).mean())
        if share < 0.1:
            metric = "pr_auc"
    # named categories (text, flags) slice more readably than integer codes: they come first
    sliceable = [c for c in kinds["categorical"] if 2 <= sample[c].n_unique() <= 20]
    sliceable.sort(key=lambda c: sample[c].dtype.is_integer())
    slices = [{"name": c, "column": c} for c in sliceable[:3]]
    raw: dict[str, Any] = {
        "name": name,
        "task": task,
        "target": target,
        "positive_class": positive,
        "id_column": id_column,
        "time_column": time_column,
        "time_format": time_format,
        "features": {**kinds, "exclude": exclude},
        "metric": {
            "name": metric,
            "target": _metric_target(metric, sample[target], share),
            "margin": 0.0,
        },
        "slices": slices,
    }
    text = _render(raw, findings, source)
    return Proposal(parse_spec(text, source="loopml.yaml (proposed)"), findings, text)


def _ordering_column(frame: pl.DataFrame, target: str) -> tuple[str | None, str | None]:
    """(the first column other than the target that orders the rows in time, its rule): dates,
    or text read as dates, with no missing value and in non-decreasing order. Numbers are never
    taken for times unasked: a sorted integer is as often a row number as a year."""
    for column in frame.columns:
        values = frame[column]
        if column == target or values.null_count():
            continue
        rule = None
        if values.dtype == pl.String:
            try:
                infer_time_format(values.head(100))
                rule = infer_time_format(values)
            except DataError:
                continue
            if rule is not None:
                values = read_times(values, rule)
        if values.dtype.is_temporal() and values.is_sorted():
            return column, rule
    return None, None


def _calendar_part(
    sample: pl.DataFrame, column: str, time_column: str, kind: str, reason: str
) -> tuple[str | None, str]:
    """A column that time determines: a *time proxy* (excluded) when it runs through its values
    fewer than ``MIN_CYCLES`` times and has more than two values (two values only split the
    dates in two, as any flag does: a holiday flag names no date); otherwise a numeric feature
    (hour, weekday: their order is time's), even when it looks like an integer code."""
    cycles = calendar_cycles(sample, column, time_column)
    if cycles is None:
        return kind, reason
    if cycles < MIN_CYCLES and sample[column].n_unique() > 2:
        return None, (
            f"time proxy (a calendar part of {time_column} with only {cycles} cycle(s) in the "
            "data: a model would memorise dates, not learn patterns)"
        )
    if kind == "categorical" and sample[column].dtype.is_integer():
        return "numeric", f"a calendar part of {time_column} ({cycles} cycles)"
    return kind, reason


_POSITIVE = ("true", "1", "yes", "y", "positive", "pos")


def _positive_class(values: pl.Series) -> Any:
    """The class a binary model reports: 1/True/yes when present, else the rarer class."""
    if values.dtype == pl.Boolean:
        return True
    for value in values.unique().to_list():
        text = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
        if text.strip().lower() in _POSITIVE:
            return value
    return values.value_counts(sort=True)[-1, 0]


def _metric_target(metric: str, target: pl.Series, positive_share: float | None) -> float | None:
    """A first target to edit: ROC AUC 0.7; PR AUC twice the positive share; 80 % of the
    spread for RMSE/MAE (a fifth better than predicting the mean)."""
    if metric == "roc_auc":
        return 0.7
    if metric == "pr_auc":
        return round(min(0.9, 2 * (positive_share or 0.1)), 3)
    if metric in ("rmse", "mae"):
        std = as_float(target.cast(pl.Float64, strict=False).std())
        return round(0.8 * std, 4) if std else None
    return None


_COMMENTS = {
    "task": "binary | multiclass | regression",
    "id_column": "unique per row; carried beside predictions",
    "time_column": "orders the rows: time-based splits and monitoring windows use it",
    "time_format": "how time_column is read into dates (strftime, epoch_s, epoch_ms; null: as is)",
    "positive_class": "the class whose probability the model reports",
}


class _Dumper(yaml.SafeDumper):
    """Block mappings, flow (inline) lists: the layout people write by hand."""


def _inline_list(dumper: yaml.SafeDumper, value: list[Any]) -> yaml.Node:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=True)


_Dumper.add_representer(list, _inline_list)


def _dump(value: Any) -> str:
    return yaml.dump(
        value, Dumper=_Dumper, default_flow_style=False, sort_keys=False, width=96
    ).strip()


def _render(raw: dict[str, Any], findings: list[Finding], source: str) -> str:
    """A commented ``loopml.yaml``; the defaults of later stages are written out to be edited."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    lines = [
        f"# loopml project spec, proposed by `loopml init` from {source} on {stamp}.",
        "# Every loopml command reads this file: edit it, then run `loopml data add`.",
        "",
    ]
    keys = ("name", "task", "target", "positive_class", "id_column", "time_column", "time_format")
    for key in keys:
        entry = _dump({key: raw[key]})
        lines.append(f"{entry}  # {_COMMENTS[key]}" if key in _COMMENTS else entry)
    lines += [
        "",
        "# Model inputs by kind. Move a column between lists to change how it is encoded.",
    ]
    features = raw["features"]
    lines.append("features:")
    for kind in ("numeric", "categorical", "text", "datetime"):
        lines.append(f"  {_dump({kind: features[kind]})}")
    excluded = [f for f in findings if f.role == "excluded"]
    if excluded:
        lines.append("  # Excluded by init (move a column into a list above to use it anyway):")
        lines += [f"  #   {f.column}: {f.reason}" for f in excluded]
    lines.append(f"  {_dump({'exclude': features['exclude']})}")
    lines += [
        "",
        "# The primary metric; a model must reach `target` to be deployed, and beat the",
        "# champion by `margin` to replace it.",
        _dump({"metric": raw["metric"]}),
        "",
        "# Other targets: p99 serving latency (ms), minimums for other metrics, human level.",
        _dump({"targets": {"latency_p99_ms": 50, "metrics": {}, "human_level": None}}),
        "",
        "# Slices are evaluated and monitored on their own.",
        _dump({"slices": raw["slices"]}),
        "",
        "# Rules added to (and overriding) the schema inferred from the training data, e.g.",
        "#   expectations: {distance: {min: 0}, carrier: {allowed: [AA, B6, DL]}}",
        _dump({"data": {"sources": {}, "expectations": {}}}),
        "",
    ]
    defaults = {
        "monitoring": Monitoring(),
        "rollout": Rollout(),
        "retrain": Retrain(),
        "model": ModelSearch(),
        "serving": Serving(),
    }
    lines.append("# Production policies (defaults; see README for every field).")
    for key, section in defaults.items():
        lines.append(_dump({key: section.model_dump(mode="json")}))
    return "\n".join(lines) + "\n"
