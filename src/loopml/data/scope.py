"""Scoping from data: propose a ``loopml.yaml`` for a target column (``loopml init``).

Reads a sample, infers each column's kind, flags columns that should not be features, proposes the
task and a primary metric, and renders a commented spec that the user edits.

Flags (each excluded from the features with the reason written beside it):

- *identifier*: (almost) unique per row and named or shaped like an id; the first becomes
  ``id_column``.
- *constant*: a single value; *all missing*: no value at all.
- *time proxy*: a calendar part of the time column that repeats fewer than ``MIN_CYCLES`` times in
  the data (month over one quarter, day of month over three months). Such a column names dates:
  with a time-based split, a model learns what happened on those dates and scores worse on the
  future (flights, January–March: day of month cost LightGBM 0.03 test ROC AUC). Hour of day and
  day of week repeat often enough and stay.
- *likely leak*: the column alone predicts the target almost perfectly, the mark of a column
  computed from the outcome (see :mod:`loopml.data.leaks`).
- *missingness leak*: where the column is missing, the target is (almost) always one thing — a
  value left empty because of the outcome, as a cancelled flight has no tail number and counts
  as late. A model learns "missing means late" and answers that to any client that omits it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import polars as pl
import yaml

from loopml.data.leaks import LEAK_SCORE, leak_score, missing_leak
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

SAMPLE_ROWS = 200_000
MIN_CYCLES = 6
_ID_NAME = re.compile(r"(^id$|_id$|^id_|uuid|guid)", re.IGNORECASE)


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


def _kind(series: pl.Series) -> tuple[str | None, str]:
    """(feature kind or None when excluded, reason)."""
    nonnull = series.drop_nulls()
    if nonnull.len() == 0:
        return None, "all missing"
    distinct = nonnull.n_unique()
    if distinct == 1:
        return None, f"constant (a single value: {nonnull[0]!r})"
    dtype = series.dtype
    unique_share = distinct / nonnull.len()
    if dtype.is_temporal():
        return "datetime", ""
    if dtype == pl.Boolean:
        return "categorical", ""
    looks_like_id = _ID_NAME.search(series.name) is not None
    unique = unique_share > 0.95 and distinct > 50
    if unique and (dtype == pl.String or (dtype.is_integer() and looks_like_id)):
        if dtype == pl.String and _mean_words(nonnull) >= 4:
            return "text", ""
        return None, f"identifier ({unique_share:.0%} of values unique)"
    if dtype.is_numeric():
        return "numeric", ""
    if _mean_words(nonnull) >= 4 and unique_share > 0.5:
        return "text", ""
    return "categorical", ""


def _float(value: Any, default: float = 0.0) -> float:
    """A Polars scalar (typed loosely by Polars) as a float."""
    return default if value is None else float(value)


def _mean_words(values: pl.Series) -> float:
    sample = values.head(5_000).cast(pl.String)
    return _float(sample.str.count_matches(r"\S+").mean())


def calendar_cycles(frame: pl.DataFrame, column: str, time_column: str) -> int | None:
    """How many times ``column`` runs through its values along time, if time determines it.

    ``None`` when ``column`` is not a function of ``time_column`` (one value per time).
    Otherwise the number of cycles: 1 plus how often the value falls back along time (a month
    column over one quarter: 1; day of month: 3; hour of day: one per day).
    """
    if not frame[column].dtype.is_numeric() or frame[column].null_count():
        return None
    data = frame.select(time_column, column).drop_nulls(time_column)
    if data.height == 0:
        return None
    per_time = data.group_by(time_column).agg(pl.col(column).n_unique()).get_column(column)
    if _float(per_time.max()) > 1:
        return None
    ordered = data.unique(time_column).sort(time_column).get_column(column)
    return int(_float((ordered.diff() < 0).sum())) + 1


def propose_spec(
    frame: pl.DataFrame,
    *,
    target: str,
    task: Task | None = None,
    time_column: str | None = None,
    name: str = "project",
    source: str = "the data",
) -> Proposal:
    """Propose a spec for predicting ``target`` from ``frame``'s other columns."""
    for column in (target, time_column):
        if column is not None and column not in frame.columns:
            raise unknown_column(column, frame.columns, where=source)
    sample = frame.sample(SAMPLE_ROWS, seed=0) if frame.height > SAMPLE_ROWS else frame
    task = task or _infer_task(sample[target])
    findings: list[Finding] = [Finding(target, "target", reason=f"{task} target")]
    if time_column is None:
        time_column = next(
            (
                c
                for c in frame.columns
                if c != target
                and frame[c].dtype.is_temporal()
                and frame[c].is_sorted()
                and frame[c].null_count() == 0
            ),
            None,
        )
        if time_column:
            findings.append(Finding(time_column, "time", reason="rows are in its order"))
    else:
        findings.append(Finding(time_column, "time", reason="given with --time-column"))
    kinds: dict[str, list[str]] = {"numeric": [], "categorical": [], "text": [], "datetime": []}
    exclude: list[str] = []
    id_column = None
    for column in frame.columns:
        if column in (target, time_column):
            continue
        kind, reason = _kind(sample[column])
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
            cycles = calendar_cycles(sample, column, time_column)
            if cycles is not None and cycles < MIN_CYCLES:
                kind, reason = (
                    None,
                    (
                        f"time proxy (a calendar part of {time_column} with only {cycles} cycle(s) "
                        "in the data: a model would memorise dates, not learn patterns)"
                    ),
                )
        if kind is None:
            exclude.append(column)
            findings.append(Finding(column, "excluded", reason=reason))
        else:
            kinds[kind].append(column)
            findings.append(Finding(column, "feature", kind=kind))
    metric = DEFAULT_METRIC[task]
    positive: Any = None
    share = None
    if task == "binary":
        values = sample[target].drop_nulls()
        positive = _positive_class(values)
        share = _float((values == positive).mean())
        if share < 0.1:
            metric = "pr_auc"
    slices = [
        {"name": c, "column": c} for c in kinds["categorical"] if 2 <= sample[c].n_unique() <= 20
    ][:3]
    raw: dict[str, Any] = {
        "name": name,
        "task": task,
        "target": target,
        "positive_class": positive,
        "id_column": id_column,
        "time_column": time_column,
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
        std = _float(target.cast(pl.Float64, strict=False).std())
        return round(0.8 * std, 4) if std else None
    return None


_COMMENTS = {
    "task": "binary | multiclass | regression",
    "id_column": "unique per row; carried beside predictions",
    "time_column": "orders the rows: time-based splits and monitoring windows use it",
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
    for key in ("name", "task", "target", "positive_class", "id_column", "time_column"):
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
