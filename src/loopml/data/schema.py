"""Schemas: what a column should look like, inferred from a profile plus the user's expectations.

Inference is deliberately conservative about what it makes an *error*. Structure learned from the
reference is reliable (the column exists, has a compatible type, is never null, stays under a
missing-value limit), so breaking it fails validation. Value ranges and category sets learned from
a sample are only as good as the sample (April is warmer than January), so breaking an inferred
range or category set is a *warning*; the same rule written by the user in the spec's
``data.expectations`` is an error.

Defaults, documented here because users will ask:

- ``nullable`` is false when the reference had no nulls.
- ``max_missing`` = min(1, 2 × the reference's missing fraction + 0.01).
- ``min``/``max`` (numbers only; not for the spec's id, time and target columns, nor the
  columns it excludes) widen the reference's
  range by ``RANGE_MARGIN`` (10 %) of its span on each side.
- ``allowed`` is the reference's category set when it is complete and has at most 1,000 values;
  up to ``max_unseen`` (1 %) of rows may hold other values before the rule is broken.
- ``common`` (a column with more categories than that, or more than its profile kept) is the
  reference's most frequent categories and ``common_share`` the share of its values they
  covered: a new frame where they make up less than ``COMMON_KEPT`` (half) of that share holds
  values training never saw (a new id format, a shifted column), beyond the churn such columns
  have.
- A number beyond ``FAR_SPANS`` (10) times the range's width outside it (1e9 in a 0/1 column)
  is an error even for an inferred range: that is a unit or encoding fault, not a warm month.

Validation reports a rule's breaks even when they are under its tolerance (severity ``info``):
the tolerance decides the severity, never the visibility.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from loopml.data.profile import ColumnProfile, Profile
from loopml.errors import DataError, unknown_column
from loopml.spec import Expectation, Spec

Kind = Literal["numeric", "categorical", "boolean", "datetime"]
Severity = Literal["error", "warning", "info"]

RANGE_MARGIN = 0.1
FAR_SPANS = 10
COMMON_KEPT = 0.5
MAX_ALLOWED_CATEGORIES = 1000
MAX_UNSEEN = 0.01


@dataclass(frozen=True)
class ColumnSchema:
    """Rules for one column; ``strict`` names the rules the user set (their breaks are errors)."""

    name: str
    dtype: str
    kind: Kind
    nullable: bool = True
    max_missing: float = 1.0
    min: float | None = None
    max: float | None = None
    allowed: list[str] | None = None
    max_unseen: float = MAX_UNSEEN
    strict: tuple[str, ...] = ()
    common: list[str] | None = None
    common_share: float = 0.0

    def severity(self, rule: str, *, tolerated: bool = False) -> Severity:
        """Whether breaking ``rule`` fails validation (error), is a warning, or is reported as
        ``info`` because it stays within the rule's tolerance."""
        if tolerated:
            return "info"
        if rule in ("range", "allowed", "common") and rule not in self.strict:
            return "warning"
        return "error"


@dataclass(frozen=True)
class Schema:
    """Column rules in the reference's column order."""

    columns: dict[str, ColumnSchema] = field(default_factory=dict)

    def __getitem__(self, name: str) -> ColumnSchema:
        try:
            return self.columns[name]
        except KeyError:
            raise unknown_column(name, self.columns, where="the schema") from None

    def to_dict(self) -> dict[str, Any]:
        return {"columns": [asdict(column) for column in self.columns.values()]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Schema:
        try:
            columns = [
                ColumnSchema(**{**item, "strict": tuple(item.get("strict", ()))})
                for item in data["columns"]
            ]
        except (KeyError, TypeError) as exc:
            raise DataError(f"malformed schema document: {exc}") from exc
        return cls({column.name: column for column in columns})


def _infer_column(column: ColumnProfile) -> ColumnSchema:
    kind: Kind = column.kind
    missing = column.missing_fraction
    rules: dict[str, Any] = {
        "nullable": column.nulls > 0,
        "max_missing": min(1.0, round(2 * missing + 0.01, 6)) if column.nulls else 0.0,
    }
    stats = column.numeric
    if kind == "numeric" and stats is not None and stats.min is not None and stats.max is not None:
        low, high = float(stats.min), float(stats.max)
        margin = RANGE_MARGIN * (high - low)
        rules["min"], rules["max"] = low - margin, high + margin
    counts = column.categories
    if kind == "categorical" and counts is not None:
        complete = counts.freq_error == 0 and counts.other_count == 0
        if complete and 0 < len(counts.counts) <= MAX_ALLOWED_CATEGORIES:
            rules["allowed"] = sorted(str(value) for value in counts.counts)
        elif counts.counts and counts.total:
            top = list(counts.counts)[:MAX_ALLOWED_CATEGORIES]
            rules["common"] = sorted(str(value) for value in top)
            rules["common_share"] = round(sum(counts.counts[v] for v in top) / counts.total, 6)
    return ColumnSchema(name=column.name, dtype=column.dtype, kind=kind, **rules)


def _apply(column: ColumnSchema, expectation: Expectation) -> ColumnSchema:
    changes = {
        key: value
        for key, value in expectation.model_dump(exclude_none=True).items()
        if value is not None
    }
    if "allowed" in changes:
        changes["allowed"] = sorted(str(value) for value in changes["allowed"])
    if "max_missing" in changes and changes["max_missing"] > 0 and "nullable" not in changes:
        changes["nullable"] = True
    strict = set(column.strict)
    strict.update("range" if key in ("min", "max") else key for key in changes)
    return replace(column, **changes, strict=tuple(sorted(strict)))


def _unvalued(column: ColumnSchema) -> ColumnSchema:
    """``column`` without value rules (range, category set, common values)."""
    return replace(column, min=None, max=None, allowed=None, common=None, common_share=0.0)


def infer_schema(profile: Profile, spec: Spec | None = None) -> Schema:
    """Infer column rules from a reference profile, then apply the spec's expectations.

    The spec's id and time columns keep their structural rules but get no value range or
    category set: new rows always bring new ids and later times. Nor does the target (its range
    and classes are what the model learns, not an input's contract), and the columns the spec
    excludes from the features keep only presence and type: the model never reads them, so
    their values and gaps are no fault of the data it is given.
    """
    columns = {name: _infer_column(column) for name, column in profile.columns.items()}
    if spec is None:
        return Schema(columns)
    for name in (spec.id_column, spec.time_column, spec.target):
        if name in columns:
            columns[name] = _unvalued(columns[name])
    for name in spec.features.exclude:
        if name in columns:
            columns[name] = replace(_unvalued(columns[name]), nullable=True, max_missing=1.0)
    for name, expectation in spec.data.expectations.items():
        if name not in columns:
            raise unknown_column(name, columns, where="the reference data (data.expectations)")
        columns[name] = _apply(columns[name], expectation)
    return Schema(columns)
