"""Validation: check a frame against a schema and report every violation.

A violation names the column, the rule, how many rows break it (count and fraction), what was
expected, and up to five example values with their row numbers (1 = the first data row). A rule
broken by fewer rows than it tolerates is still reported, as ``info``: what validation tolerates
is never hidden. All rule
counts come from one Polars ``select``, so validating a million rows costs one parallel pass;
examples are gathered only for the rules that broke.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import polars as pl

from loopml.data.schema import COMMON_KEPT, FAR_SPANS, ColumnSchema, Schema, Severity

N_EXAMPLES = 5


@dataclass(frozen=True)
class Violation:
    """One broken rule on one column."""

    column: str
    rule: str
    severity: Severity
    count: int
    fraction: float
    expected: str
    examples: list[Any] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)

    @property
    def message(self) -> str:
        shown = ", ".join(f"row {r}: {v!r}" for r, v in zip(self.rows, self.examples, strict=False))
        where = f" (e.g. {shown})" if shown else ""
        return (
            f"{self.column}: {self.rule}: {self.count:,} row(s) ({self.fraction:.2%}) break it; "
            f"expected {self.expected}{where}"
        )


@dataclass(frozen=True)
class ValidationReport:
    """Every violation found; ``ok`` when none is an error."""

    n_rows: int
    n_columns: int
    violations: list[Violation]

    @property
    def errors(self) -> list[Violation]:
        return [v for v in self.violations if v.severity == "error"]

    @property
    def warnings(self) -> list[Violation]:
        return [v for v in self.violations if v.severity == "warning"]

    @property
    def tolerated(self) -> list[Violation]:
        """Breaks within their rule's tolerance (severity ``info``)."""
        return [v for v in self.violations if v.severity == "info"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "n_rows": self.n_rows,
            "n_columns": self.n_columns,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "tolerated": len(self.tolerated),
            "violations": [{**asdict(v), "message": v.message} for v in self.violations],
        }


def _typed(frame: pl.DataFrame, rule: ColumnSchema) -> tuple[pl.Expr, pl.Expr | None, str]:
    """The column as the schema's kind, a mask of unreadable values, and the kind's name."""
    dtype = frame.schema[rule.name]
    col = pl.col(rule.name)
    if rule.kind == "numeric":
        if dtype.is_numeric():
            return col.cast(pl.Float64), None, "a number"
        if dtype == pl.Boolean:
            return col.cast(pl.Float64), None, "a number"
        as_number = col.cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False)
        return as_number, col.is_not_null() & as_number.is_null(), "a number"
    if rule.kind == "datetime":
        if dtype.is_temporal():
            return col, None, "a date or time"
        as_time = col.cast(pl.String).str.to_datetime(strict=False)
        return as_time, col.is_not_null() & as_time.is_null(), "a date or time"
    if rule.kind == "boolean":
        if dtype == pl.Boolean:
            return col, None, "true or false"
        text = col.cast(pl.String).str.to_lowercase()
        known = text.is_in(["true", "false", "1", "0"])
        return text, col.is_not_null() & ~known, "true or false"
    return col.cast(pl.String), None, "text"


def _rules(frame: pl.DataFrame, rule: ColumnSchema) -> list[tuple[str, pl.Expr, str, float]]:
    """(rule name, mask of offending rows, what was expected, fraction allowed) for one column."""
    typed, unreadable, kind_text = _typed(frame, rule)
    col = pl.col(rule.name)
    checks: list[tuple[str, pl.Expr, str, float]] = []
    if unreadable is not None:
        got = frame.schema[rule.name]
        checks.append(("type", unreadable, f"{kind_text} (the column holds {got})", 0.0))
    if not rule.nullable:
        checks.append(("not_null", col.is_null(), "no missing values", 0.0))
    elif rule.max_missing < 1.0:
        checks.append(
            (
                "max_missing",
                col.is_null(),
                f"at most {rule.max_missing:.2%} missing",
                rule.max_missing,
            )
        )
    if rule.kind == "numeric" and (rule.min is not None or rule.max is not None):
        low = -float("inf") if rule.min is None else rule.min
        high = float("inf") if rule.max is None else rule.max
        outside = (typed < low) | (typed > high) | typed.is_nan()
        checks.append(("range", outside.fill_null(False), f"values in [{low:g}, {high:g}]", 0.0))
        if rule.min is not None and rule.max is not None and "range" not in rule.strict:
            width = (rule.max - rule.min) or max(abs(rule.min), abs(rule.max), 1.0)
            far_low, far_high = rule.min - FAR_SPANS * width, rule.max + FAR_SPANS * width
            far = ((typed < far_low) | (typed > far_high)).fill_null(False)
            checks.append(
                (
                    "far_out_of_range",
                    far,
                    f"values within {FAR_SPANS}× the range's width of [{low:g}, {high:g}], "
                    f"i.e. in [{far_low:g}, {far_high:g}] (a unit or encoding fault?)",
                    0.0,
                )
            )
    if rule.allowed is not None:
        unseen = typed.is_not_null() & ~typed.cast(pl.String).is_in(rule.allowed)
        preview = ", ".join(rule.allowed[:8]) + (", …" if len(rule.allowed) > 8 else "")
        limit = (
            0.0 if "allowed" in rule.strict and "max_unseen" not in rule.strict else rule.max_unseen
        )
        checks.append(
            ("allowed", unseen, f"one of {{{preview}}} ({limit:.0%} other allowed)", limit)
        )
    elif rule.common is not None:
        rare = typed.is_not_null() & ~typed.cast(pl.String).is_in(rule.common)
        # high-cardinality values churn (new customers, other planes); a fault (a new id
        # format, a shifted column) replaces them: the training's most frequent values at
        # less than half their share is the sign
        limit = 1 - COMMON_KEPT * rule.common_share
        checks.append(
            (
                "common",
                rare,
                f"at least {1 - limit:.1%} of values among training's {len(rule.common):,} most "
                f"frequent (half the {rule.common_share:.1%} of training's values they were)",
                limit,
            )
        )
    return checks


def validate(frame: pl.DataFrame, schema: Schema) -> ValidationReport:
    """Check ``frame`` against ``schema``: presence, type, nulls, ranges and categories."""
    n = frame.height
    violations: list[Violation] = []
    present = set(frame.columns)
    for name, rule in schema.columns.items():
        if name not in present:
            violations.append(
                Violation(name, "present", "error", n, 1.0, f"a column of {rule.kind} values")
            )
    for name in frame.columns:
        if name not in schema.columns:
            violations.append(
                Violation(name, "known_column", "warning", n, 1.0, "only the reference's columns")
            )
    checks = [
        (rule, name, mask, expected, limit)
        for rule in schema.columns.values()
        if rule.name in present
        for name, mask, expected, limit in _rules(frame, rule)
    ]
    if not checks or n == 0:
        return ValidationReport(n, frame.width, violations)
    counts = frame.select(
        [mask.sum().alias(str(i)) for i, (_, _, mask, _, _) in enumerate(checks)]
    ).row(0)
    index = pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("__row")
    for (rule, name, mask, expected, limit), count in zip(checks, counts, strict=True):
        fraction = count / n
        if not count:
            continue
        sample = frame.select(index, pl.col(rule.name), mask.alias("__bad")).filter("__bad")
        sample = sample.head(N_EXAMPLES)
        violations.append(
            Violation(
                column=rule.name,
                rule=name,
                severity=rule.severity(name, tolerated=fraction <= limit),
                count=int(count),
                fraction=fraction,
                expected=expected,
                examples=[_plain(v) for v in sample[rule.name].to_list()],
                rows=sample["__row"].to_list(),
            )
        )
    order = {"error": 0, "warning": 1, "info": 2}
    violations.sort(
        key=lambda v: (
            order[v.severity],
            list(schema.columns).index(v.column) if v.column in schema.columns else 1 << 30,
        )
    )
    return ValidationReport(n, frame.width, violations)


def _plain(value: Any) -> Any:
    """A JSON-friendly example value."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
