"""The input contract: records are checked against the model before they reach it, the same way
on every protocol (``/predict``, MLflow's ``/invocations``, the V2 ``infer``), since each protocol
adapter only turns its body into records (dicts) and hands them here.

Runs per record on plain Python values (no DataFrame), so a single-record request pays a few
microseconds. What it decides:

- **Unknown fields.** A key that is no column of the model's training data (the package's
  training profile, plus the spec's target, id, time, entity and weight columns) is refused under
  ``serving.unknown_fields: reject`` (the default), named with the closest known column, compared
  case-insensitively ("unknown field 'Carrier'; did you mean 'carrier'?"); under ``ignore`` it is
  skipped. The whole row as it came from the training table (ids, the target, timestamps, columns
  the model does not use) is therefore accepted; a misspelt or made-up key is not, so it cannot
  silently become a missing value.
- **Missing values.** A feature that is absent, ``null``, a non-finite number (NaN, ±inf: what
  JSON's ``NaN``/``Infinity`` tokens are read as, and what binary tensors may carry) or, for a
  number or a time, a blank string, is *missing*: accepted and counted by default (monitoring
  alerts when missing values rise), an error naming it under ``serving.missing_values: reject``.
  A non-finite number is set to ``None`` in the record, so the model reads it as missing too.
- **Too little to predict from.** A record with no feature at all, or with more than
  ``serving.max_missing_share`` (default 0.5) of the model's features missing, is always refused:
  a prediction from it would be a guess.
- **Numbers.** A numeric feature takes a JSON number or a string that parses to a finite number
  (``"12.5"``, ``" 3 "``, ``"1e3"``: CSV bodies carry every value as a string). Booleans and
  strings that parse to a non-finite number (``"NaN"``, ``"inf"``, ``"1e999"``) are not numbers.
- **Other types.** A value of the wrong type (a word where a number is expected, a list or an
  object anywhere) is an error naming the record, the field, what was expected and what was got.
- **Unseen categories.** A category the model never saw is accepted and counted (it is encoded
  as "other"), an error under ``serving.unseen_categories: reject``.

Every problem of every record is reported at once (up to 50), so a client fixes a batch in one
go; an unknown field is reported once per request, at the first record that has it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from loopml.data.schema import Schema
from loopml.errors import InputError, did_you_mean
from loopml.spec import Serving

MAX_REPORTED = 50
SHOWN = 8  # names listed in one message at most
SHOWN_CHARS = 60  # characters of a refused value shown in its message at most


@dataclass
class InputStats:
    """What validation counted: missing values and unseen categories per feature."""

    missing: Counter[str] = field(default_factory=Counter)
    unseen: Counter[str] = field(default_factory=Counter)


def _kind_of(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _shown(value: Any) -> str:
    """``value`` as an error shows it: its repr, cut to ``SHOWN_CHARS`` (a body may be 10 MB)."""
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 4] + "…" + text[-3:]


def _listed(names: list[str]) -> str:
    return ", ".join(names[:SHOWN]) + (", …" if len(names) > SHOWN else "")


def _is_missing(kind: str, value: Any) -> bool:
    """Whether ``value`` of a ``kind`` feature is a missing value (see the module doc)."""
    if value is None:
        return True
    if isinstance(value, float):
        return not math.isfinite(value)
    return kind in ("numeric", "datetime") and isinstance(value, str) and not value.strip()


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (ValueError, OverflowError):
        return False


def _number_problem(value: Any) -> str | None:
    """What is wrong with ``value`` as a number (the error's "got"), or ``None`` if it is one."""
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{value!r} (not a finite number)"
    if isinstance(value, int):
        return None if _finite(value) else f"an integer of {value.bit_length()} bits (too large)"
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return _shown(value)
        return None if math.isfinite(number) else f"{_shown(value)} (not a finite number)"
    return _shown(value)


def _time_ok(value: Any) -> bool:
    if isinstance(value, datetime | date):
        return True
    if isinstance(value, str):
        try:
            datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return False
        return True
    return False


def _type_problem(kind: str, value: Any) -> str | None:
    """What is wrong with a present ``value`` for a ``kind`` feature, or ``None``."""
    if isinstance(value, dict | list):
        return _shown(value)
    if kind == "numeric":
        return _number_problem(value)
    if kind == "datetime":
        return None if _time_ok(value) else _shown(value)
    if kind == "boolean":
        ok = isinstance(value, bool) or str(value).strip().lower() in ("true", "false", "1", "0")
        return None if ok else _shown(value)
    return None if isinstance(value, str | int | float | bool) else _shown(value)


_EXPECTED = {
    "numeric": "a number",
    "categorical": "a string or number",
    "boolean": "true or false",
    "datetime": "an ISO-8601 date or time string",
}
_FIX = {
    "numeric": "send a finite number (or a numeric string such as '12.5'), or null when unknown",
    "datetime": "send a date or time such as '2013-04-01T05:15:00', or null when unknown",
}


class RecordChecker:
    """Checks records against one model's input schema and the spec's serving policy.

    ``known``: the columns a record may carry besides the model's features (its training data's
    columns); every feature is known too.
    """

    def __init__(self, schema: Schema, serving: Serving, known: Iterable[str] = ()) -> None:
        self.columns = [
            (rule.name, rule.kind, frozenset(rule.allowed) if rule.allowed else None)
            for rule in schema.columns.values()
        ]
        self.features = [name for name, _, _ in self.columns]
        self.known = frozenset([*self.features, *known])
        self.reject_unknown = serving.unknown_fields == "reject"
        self.reject_missing = serving.missing_values == "reject"
        self.reject_unseen = serving.unseen_categories == "reject"
        self.max_missing_share = serving.max_missing_share
        self.max_batch = serving.max_batch

    def _rules(self) -> tuple[Any, ...]:
        return (
            self.columns,
            self.known,
            self.reject_unknown,
            self.reject_missing,
            self.reject_unseen,
            self.max_missing_share,
            self.max_batch,
        )

    def __eq__(self, other: object) -> bool:
        """Two checkers with the same rules accept and refuse the same records."""
        if not isinstance(other, RecordChecker):
            return NotImplemented
        return self._rules() == other._rules()

    __hash__ = None  # type: ignore[assignment]  # mutable rules: compared, never hashed

    def check(self, records: list[Any], stats: InputStats) -> list[dict[str, Any]]:
        """Return the records (dicts) if they fit; else raise :class:`InputError`.

        Non-finite numbers in the records are replaced by ``None`` (missing) in place.
        """
        if not records:
            raise InputError([_request_problem("at least one record", "none", ", got none")])
        if len(records) > self.max_batch:
            raise InputError(
                [
                    _request_problem(
                        f"at most {self.max_batch} records",
                        len(records),
                        f" per request (serving.max_batch), got {len(records)}: split the batch",
                    )
                ]
            )
        problems: list[dict[str, Any]] = []
        reported: set[str] = set()  # unknown fields are named once per request
        for index, record in enumerate(records):
            if not isinstance(record, dict):
                expected = "a JSON object keyed by feature name"
                problems.append(_problem(index, None, expected, _kind_of(record)))
                continue
            if self.reject_unknown and not self.known.issuperset(record):
                for key in record:
                    if key not in self.known and key not in reported:
                        reported.add(key)
                        problems.append(self._unknown(index, key))
            self._check_record(index, record, stats, problems)
            if len(problems) >= MAX_REPORTED:
                break
        if problems:
            raise InputError(problems[:MAX_REPORTED])
        return records

    def _check_record(
        self, index: int, record: dict[str, Any], stats: InputStats, problems: list[dict[str, Any]]
    ) -> None:
        missing: list[str] = []
        for name, kind, allowed in self.columns:
            value = record.get(name)
            if _is_missing(kind, value):
                if value is not None and not isinstance(value, str):
                    record[name] = None  # NaN or ±inf: the model reads it as missing too
                missing.append(name)
                stats.missing[name] += 1
                if self.reject_missing:
                    problems.append(
                        _problem(
                            index,
                            name,
                            _EXPECTED[kind],
                            "null or no value",
                            "serving.missing_values is reject: send a value for every feature",
                        )
                    )
                continue
            got = _type_problem(kind, value)
            if got is not None:
                problems.append(_problem(index, name, _EXPECTED[kind], got, _FIX.get(kind)))
                continue
            if allowed is not None and _category(value) not in allowed:
                stats.unseen[name] += 1
                if self.reject_unseen:
                    shown = ", ".join(sorted(allowed)[:SHOWN])
                    problems.append(_problem(index, name, f"one of {shown}…", _shown(value)))
        if missing:
            refusal = self._too_many_missing(index, missing)
            if refusal is not None:
                problems.append(refusal)

    def _too_many_missing(self, index: int, missing: list[str]) -> dict[str, Any] | None:
        """The problem of a record with no feature or too many missing, or ``None``."""
        total, absent = len(self.features), len(missing)
        if absent < total and absent <= self.max_missing_share * total:
            return None
        share = f"serving.max_missing_share is {self.max_missing_share:g}"
        need = max(1, total - math.floor(self.max_missing_share * total + 1e-9))
        return {
            "index": index,
            "field": None,
            "expected": f"at least {need} of {total} features",
            "got": f"{absent} missing",
            "message": f"record {index}: {absent} of {total} features missing "
            f"({_listed(missing)}); {share}: a prediction from it would be a guess; send at "
            f"least {need} of the model's features ({_listed(self.features)})",
        }

    def _unknown(self, index: int, key: str) -> dict[str, Any]:
        hint = did_you_mean(key, [*self.features, *sorted(self.known)], ignore_case=True)
        return {
            "index": index,
            "field": key,
            "expected": "a column of the model's training data",
            "got": f"unknown field '{key}'",
            "message": f"record {index}: unknown field '{key}'{hint} (the model's features: "
            f"{_listed(self.features)}); serving.unknown_fields is reject: send only columns of "
            "the training data, or set serving.unknown_fields: ignore",
        }


def _problem(
    index: int, name: str | None, expected: str, got: str, fix: str | None = None
) -> dict[str, Any]:
    where = f"record {index}" + (f", field '{name}'" if name else "")
    return {
        "index": index,
        "field": name,
        "expected": expected,
        "got": got,
        "message": f"{where}: expected {expected}, got {got}" + (f"; {fix}" if fix else ""),
    }


def _request_problem(expected: str, got: Any, rest: str) -> dict[str, Any]:
    return {
        "index": None,
        "field": None,
        "expected": expected,
        "got": got,
        "message": f"expected {expected}{rest}",
    }


def _category(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
