"""Request validation: check records against the model's input schema before they reach it.

Runs per record on plain Python values (no DataFrame), so a single-record request pays a few
microseconds. What it decides, for each feature of the model:

- a value of the wrong type (a word where a number is expected, a list anywhere) is an error
  naming the record, the field, what was expected and what was got;
- a missing key or ``null`` is *missing*: accepted and counted by default, an error when the
  spec's ``serving.missing_values`` is ``reject``;
- a category the model never saw is *unseen*: accepted and counted (it is encoded as "other"), an
  error when ``serving.unseen_categories`` is ``reject``;
- keys that are not features (ids, the target, anything else) are ignored.

Every problem of every record is reported at once (up to 50), so a client fixes a batch in one go.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from loopml.data.schema import Schema
from loopml.errors import InputError
from loopml.spec import Serving

MAX_REPORTED = 50


@dataclass
class InputStats:
    """What validation counted: missing values and unseen categories per feature."""

    missing: Counter[str] = field(default_factory=Counter)
    unseen: Counter[str] = field(default_factory=Counter)


def _kind_of(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _number_ok(value: Any) -> bool:
    if isinstance(value, bool):
        return True
    if isinstance(value, int | float):
        return True
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return value.strip() == ""
        return True
    return False


def _time_ok(value: Any) -> bool:
    if isinstance(value, datetime | date):
        return True
    if isinstance(value, str):
        try:
            datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return value.strip() == ""
        return True
    return False


_EXPECTED = {
    "numeric": "a number",
    "categorical": "a string or number",
    "boolean": "true or false",
    "datetime": "an ISO-8601 date or time string",
}


class RecordChecker:
    """Checks records against one model's input schema and the spec's serving policy."""

    def __init__(self, schema: Schema, serving: Serving) -> None:
        self.columns = [
            (rule.name, rule.kind, frozenset(rule.allowed) if rule.allowed else None)
            for rule in schema.columns.values()
        ]
        self.reject_missing = serving.missing_values == "reject"
        self.reject_unseen = serving.unseen_categories == "reject"
        self.max_batch = serving.max_batch

    def __eq__(self, other: object) -> bool:
        """Two checkers with the same rules accept and refuse the same records."""
        if not isinstance(other, RecordChecker):
            return NotImplemented
        return (
            self.columns,
            self.reject_missing,
            self.reject_unseen,
            self.max_batch,
        ) == (other.columns, other.reject_missing, other.reject_unseen, other.max_batch)

    __hash__ = None  # type: ignore[assignment]  # mutable rules: compared, never hashed

    def check(self, records: list[Any], stats: InputStats) -> list[dict[str, Any]]:
        """Return the records (dicts) if they fit; else raise :class:`InputError`."""
        problems: list[dict[str, Any]] = []
        if not records:
            raise InputError(
                [
                    {
                        "index": None,
                        "field": None,
                        "expected": "at least one record",
                        "got": "none",
                        "message": "expected at least one record, got none",
                    }
                ]
            )
        if len(records) > self.max_batch:
            raise InputError(
                [
                    {
                        "index": None,
                        "field": None,
                        "expected": f"at most {self.max_batch} records",
                        "got": len(records),
                        "message": f"expected at most {self.max_batch} records per request "
                        f"(serving.max_batch), got {len(records)}: split the batch",
                    }
                ]
            )
        for index, record in enumerate(records):
            if not isinstance(record, dict):
                problems.append(
                    self._problem(
                        index, None, "a JSON object keyed by feature name", _kind_of(record)
                    )
                )
                continue
            for name, kind, allowed in self.columns:
                value = record.get(name)
                if value is None or (isinstance(value, float) and math.isnan(value)):
                    stats.missing[name] += 1
                    if self.reject_missing:
                        problems.append(
                            self._problem(index, name, _EXPECTED[kind], "null or no value")
                        )
                    continue
                if not self._type_ok(kind, value):
                    problems.append(self._problem(index, name, _EXPECTED[kind], repr(value)))
                    continue
                if allowed is not None and _category(value) not in allowed:
                    stats.unseen[name] += 1
                    if self.reject_unseen:
                        shown = ", ".join(sorted(allowed)[:8])
                        problems.append(self._problem(index, name, f"one of {shown}…", repr(value)))
            if len(problems) >= MAX_REPORTED:
                break
        if problems:
            raise InputError(problems[:MAX_REPORTED])
        return records

    @staticmethod
    def _type_ok(kind: str, value: Any) -> bool:
        if isinstance(value, dict | list):
            return False
        if kind == "numeric":
            return _number_ok(value)
        if kind == "datetime":
            return _time_ok(value)
        if kind == "boolean":
            return isinstance(value, bool) or str(value).strip().lower() in (
                "true",
                "false",
                "1",
                "0",
            )
        return isinstance(value, str | int | float | bool)

    @staticmethod
    def _problem(index: int, name: str | None, expected: str, got: str) -> dict[str, Any]:
        where = f"record {index}" + (f", field '{name}'" if name else "")
        return {
            "index": index,
            "field": name,
            "expected": expected,
            "got": got,
            "message": f"{where}: expected {expected}, got {got}",
        }


def _category(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
