"""Feedback at intake: the items of a ``/feedback`` body, and each label checked against the task
the way retraining will read it back.

A label becomes a training row's target: :func:`loopml.loop.production.labelled_rows` casts it to
the training target's type and drops it when it would change on the way, and the gate keeps only
rows whose label is one of the model's classes. Intake accepts only what survives that read-back
and stores the label in its canonical form (the class itself, or the number in the target's
type), so reading it back is lossless, and the same label sent again in another accepted form
(``1`` for ``true``) is the same label, not a conflict.

- **Classification** (binary, multiclass): one of the model's classes. A class is named by its
  own value; a boolean class also by the numbers 0 and 1 (not by the strings ``"true"`` and
  ``"false"``, which read-back drops); an integer class also by an integral float, its decimal
  text (``"2"``) or a boolean (``true`` is 1); a string class also by a boolean or an integer
  whose text it is (``true`` for ``"true"``, ``2`` for ``"2"``).
- **Regression**: a finite number (booleans and strings are not numbers; nor an integer a
  float cannot hold exactly); an integer within the type's range when the training target is an
  integer column.
- Never a label: objects, lists, ``null``. A refused value is described, never echoed whole (a
  1 MB string shows as its length and first characters).

Pure functions: the route calls them, tests call them directly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from loopml.errors import InputError, RequestError
from loopml.modeling.metrics import label_text

#: request ids longer than this are never issued by the server (and the store refuses them)
MAX_REQUEST_ID = 64
_SHOWN = 60  # characters of a refused value shown in an error


def shown(value: Any) -> str:
    """``value`` described for an error message, short whatever its size."""
    if value is None:
        return "null"
    if isinstance(value, dict):
        return f"an object ({len(value)} key{'s' if len(value) != 1 else ''})"
    if isinstance(value, list):
        return f"a list ({len(value)} item{'s' if len(value) != 1 else ''})"
    if isinstance(value, str) and len(value) > _SHOWN:
        return f"a string of {len(value):,} characters ({value[:20]!r}…)"
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return repr(value)[:_SHOWN]


def _integer_range(dtype: str | None) -> tuple[int, int] | None:
    """The range of an integer training target's type (``Int64``, ``UInt8``…), else ``None``."""
    if not dtype or not dtype.lower().lstrip("u").startswith("int"):
        return None
    try:
        info = np.iinfo(dtype.lower())
    except (TypeError, ValueError):
        return None
    return int(info.min), int(info.max)


@dataclass(frozen=True)
class LabelRule:
    """What a label must be for a model of ``task`` with ``classes`` (classification) or a
    regression target of type ``target_dtype`` (a Polars type name, when known)."""

    task: str
    classes: tuple[Any, ...] = ()
    target_dtype: str | None = None

    @property
    def expected(self) -> str:
        """What a label must be, in words."""
        if self.task == "regression":
            bounds = _integer_range(self.target_dtype)
            if bounds is not None:
                return f"an integer from {bounds[0]:,} to {bounds[1]:,} (the target is integer)"
            return "a finite number"
        names = ", ".join(shown(c) for c in self.classes)
        if self.classes and all(isinstance(c, bool) for c in self.classes):
            return f"one of the classes {names} (or 0 and 1)"
        return f"one of the classes {names}"

    def read(self, value: Any) -> Any:
        """``value`` as the canonical label; :class:`ValueError` when it is not a label here."""
        if value is None or isinstance(value, dict | list):
            raise ValueError(self.expected)
        if self.task == "regression":
            return self._number(value)
        for cls in self.classes:
            if _names(value, cls):
                return cls
        raise ValueError(self.expected)

    def _number(self, value: Any) -> int | float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(self.expected)
        bounds = _integer_range(self.target_dtype)
        if bounds is not None:
            if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
                raise ValueError(self.expected)
            number = int(value)
            if not bounds[0] <= number <= bounds[1]:
                raise ValueError(self.expected)
            return number
        try:
            real = float(value)
        except OverflowError as exc:  # an integer too large for a float
            raise ValueError(self.expected) from exc
        if not math.isfinite(real) or (isinstance(value, int) and real != value):
            raise ValueError(self.expected)  # an integer a float cannot hold exactly, too
        return real


def _names(value: Any, cls: Any) -> bool:
    """Whether ``value`` names class ``cls`` in a form read-back maps to ``cls``."""
    if isinstance(cls, bool):
        if isinstance(value, bool):
            return value is cls
        return isinstance(value, int | float) and value == int(cls)
    if isinstance(cls, int):
        if isinstance(value, str):
            return value == str(cls)
        return isinstance(value, int | float) and value == cls  # True is 1, 2.0 is 2
    if isinstance(cls, str):
        if isinstance(value, str):
            return value == cls
        return isinstance(value, bool | int) and label_text(value) == cls
    return isinstance(value, int | float | str) and label_text(value) == label_text(cls)


def rule_for(task: str, classes: list[Any], target_dtype: str | None) -> LabelRule:
    """The label rule of a served model (its task, classes and training target type)."""
    return LabelRule(task, tuple(classes), target_dtype)


@dataclass(frozen=True)
class Item:
    """One feedback item as sent: its position, request id and label (not yet checked)."""

    index: int
    request_id: str
    label: Any


def parse_items(body: Any) -> list[Item]:
    """The items of a ``/feedback`` body: one ``{request_id, label}`` object, a list of them,
    or ``{"feedback": [...]}``. A body of another shape is a :class:`RequestError` (400)."""
    if isinstance(body, dict) and "feedback" in body:
        items = body["feedback"]
        where = "feedback"
    elif isinstance(body, list):
        items, where = body, "the body"
    else:
        items, where = [body], "the body"
    if not isinstance(items, list) or not items:
        raise RequestError(
            f"{where}: expected a non-empty list of {{request_id, label}} objects, got "
            f'{shown(items)}; send {{"request_id": "...", "label": ...}}, a list of those, '
            'or {"feedback": [...]}',
            status=400,
        )
    parsed = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("request_id"), str):
            raise RequestError(
                f'feedback[{i}]: expected {{"request_id": str, "label": value}}, '
                f"got {shown(item) if not isinstance(item, dict) else _keys(item)}",
                status=400,
            )
        if "label" not in item:
            raise RequestError(
                f'feedback[{i}]: expected {{"request_id": str, "label": value}}, got no '
                f"'label' (keys: {', '.join(sorted(item))})",
                status=400,
            )
        parsed.append(Item(i, item["request_id"], item["label"]))
    return parsed


def _keys(item: dict[str, Any]) -> str:
    given = item.get("request_id")
    if "request_id" not in item:
        return f"no 'request_id' (keys: {', '.join(sorted(item)) or 'none'})"
    return f"a request_id that is {shown(given)}, not a string"


def check_labels(items: list[Item], rule: LabelRule, *, limit: int = 100) -> list[Any]:
    """Each item's canonical label; :class:`InputError` (422) naming every refused item (the
    first ``limit``) and what was expected."""
    labels: list[Any] = []
    problems: list[dict[str, Any]] = []
    for item in items:
        try:
            labels.append(rule.read(item.label))
        except ValueError:
            if len(problems) < limit:
                got = shown(item.label)
                problems.append(
                    {
                        "index": item.index,
                        "field": "label",
                        "expected": rule.expected,
                        "got": got,
                        "message": f"feedback[{item.index}].label: expected {rule.expected} "
                        f"for a {rule.task} model, got {got}",
                    }
                )
            labels.append(None)
    if problems:
        raise InputError(problems)
    return labels
