"""A package's metadata (``meta.json``), typed: what the model is, how good, where it came from,
and what the gate decided when it was registered.

:class:`PackageMeta` has one field per key of ``meta.json``, in the file's order, so a package
written before this model existed reads back unchanged and writing it again gives the same bytes
(and so the same package identity). The fields that pages and reports treat as optional (a
package copied by hand, a test's package) have defaults: ``baselines``, ``score_profile``,
``lineage.sizes``, ``lineage.code_version``, and the gate record's ``on`` and ``metrics``.
Metric values are ``None`` where a metric was undefined (JSON has no NaN).

The keys added since (``calibration``, ``error_model``: what estimated quality needs, see
:mod:`loopml.monitoring.estimate`) are written only when set, so a package without them writes
the bytes it was read from.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from pydantic import (
    BaseModel,
    ConfigDict,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
)

from loopml.errors import PackageError
from loopml.spec import Task

FORMAT = "loopml.model/1"

#: metric name -> value on one split (``None``: undefined there)
Metrics = dict[str, float | None]
#: optional keys left out of ``meta.json`` when unset (older packages have none of them)
_WRITTEN_WHEN_SET = ("held_out", "calibration", "error_model")


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Lineage(_Record):
    """Where the model came from: its runs, the dataset version and its hash, the split, the
    code version and the spec it was trained with."""

    run_id: int | None
    candidate_run_id: int | None
    dataset: str
    dataset_hash: str
    split: str
    sizes: dict[str, int] | None = None
    code_version: str | None = None
    spec: dict[str, Any]


class GateRecord(_Record):
    """The gate's decision at registration: blessed or not, ``on`` which data, every check
    (``check``, ``value``, ``threshold``, ``passed``, ``message``), the metrics it compared and
    the champion it compared with."""

    blessed: bool
    on: str | None = None
    checks: list[dict[str, Any]] = []
    metrics: Metrics | None = None
    champion: str | None = None
    champion_metrics: Metrics | None = None


class PackageMeta(_Record):
    """``meta.json``: the model (task, candidate, classes, threshold, parameters, feature names),
    its metrics per split and its baselines', the score distribution on the held-out rows (the
    reference for prediction drift), its lineage, the gate's decision, and what estimated quality
    needs: a classifier's calibration map or a regression's error model (validation split)."""

    format: str = FORMAT
    task: Task
    candidate: str
    classes: list[Any]
    threshold: float | None
    params: dict[str, Any]
    metrics: dict[str, Metrics]
    feature_names: list[str]
    input_columns: list[str]
    baselines: dict[str, dict[str, Metrics]] = {}
    score_profile: dict[str, Any] | None = None
    lineage: Lineage
    gate: GateRecord | None = None
    #: the held-out rows' label rate (or mean and std) and predicted-positive rate: the
    #: reference of target and prior shift (:mod:`loopml.monitoring.shift`)
    held_out: dict[str, float] | None = None
    #: binary: the isotonic map of the validation split's scores to probabilities
    #: (:class:`~loopml.stats.calibration.Calibration`'s dict)
    calibration: dict[str, Any] | None = None
    #: regression: the validation split's residuals by predicted value
    #: (:class:`~loopml.stats.error_model.ErrorModel`'s dict)
    error_model: dict[str, Any] | None = None

    @model_serializer(mode="wrap")
    def _written(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for key in _WRITTEN_WHEN_SET:
            if data.get(key) is None:
                data.pop(key, None)
        return data

    @classmethod
    def from_json(cls, data: bytes | Mapping[str, Any], *, ref: str) -> PackageMeta:
        """Read ``meta.json`` (its bytes or parsed) of model ``ref``; :class:`PackageError` when a
        field is missing or of the wrong type."""
        try:
            raw = orjson.loads(data) if isinstance(data, bytes) else data
            return cls.model_validate(raw)
        except orjson.JSONDecodeError as exc:
            raise _invalid(ref, f"not valid JSON ({exc})") from exc
        except ValidationError as exc:
            problems = [
                f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg'].lower()}"
                for e in exc.errors()
            ]
            raise _invalid(ref, "; ".join(problems)) from exc


def _invalid(ref: str, problem: str) -> PackageError:
    return PackageError(
        f"model {ref}: meta.json does not describe a model package: {problem}; "
        "re-register the model from its run"
    )
