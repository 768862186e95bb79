"""Scoping: the project spec (``loopml.yaml``), the single source of truth every later stage reads.

- :mod:`loopml.spec.models`: the typed Pydantic models (:class:`Spec` and its sections), the
  metrics and their tasks;
- :mod:`loopml.spec.durations`: durations (``30s``, ``1h``) and the bounds a field puts on them;
- :mod:`loopml.spec.loader`: the YAML loader (:func:`load_spec`, :func:`parse_spec`), which
  validates a spec once, when loaded, with line-level messages.
"""

from loopml.spec.durations import Duration, parse_duration
from loopml.spec.loader import load_spec, parse_spec
from loopml.spec.models import (
    DEFAULT_METRIC,
    METRICS,
    AlertRule,
    Data,
    Drift,
    Expectation,
    FeatureKind,
    Features,
    Fraction,
    Metric,
    ModelSearch,
    Monitoring,
    Retrain,
    Rollout,
    Serving,
    Slice,
    Spec,
    Targets,
    Task,
)

__all__ = [
    "DEFAULT_METRIC",
    "METRICS",
    "AlertRule",
    "Data",
    "Drift",
    "Duration",
    "Expectation",
    "FeatureKind",
    "Features",
    "Fraction",
    "Metric",
    "ModelSearch",
    "Monitoring",
    "Retrain",
    "Rollout",
    "Serving",
    "Slice",
    "Spec",
    "Targets",
    "Task",
    "load_spec",
    "parse_duration",
    "parse_spec",
]
