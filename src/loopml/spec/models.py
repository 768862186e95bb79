"""The project spec (``loopml.yaml``) as typed models: the problem, its data, its targets and its
production policies, each section a Pydantic model that refuses unknown keys.

Sections a later stage fills in (monitoring, rollout, retrain) exist now with sensible defaults so a
spec written today stays valid. A :class:`Spec` loaded from a file remembers the line of every
field (see :mod:`loopml.spec.loader`), so :meth:`Spec.check_columns` can cite them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import timedelta
from itertools import pairwise
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

from loopml.errors import SpecError, did_you_mean
from loopml.spec.durations import Duration, within
from loopml.spec.sizes import BodySize
from loopml.spec.time_format import TimeFormat

Path_ = tuple[str | int, ...]

Task = Literal["binary", "multiclass", "regression"]
FeatureKind = Literal["numeric", "categorical", "text", "datetime"]

#: metric name -> (tasks it applies to, greater is better)
METRICS: dict[str, tuple[frozenset[str], bool]] = {
    "roc_auc": (frozenset({"binary", "multiclass"}), True),
    "pr_auc": (frozenset({"binary"}), True),
    "accuracy": (frozenset({"binary", "multiclass"}), True),
    "balanced_accuracy": (frozenset({"binary", "multiclass"}), True),
    "f1": (frozenset({"binary", "multiclass"}), True),
    "precision": (frozenset({"binary"}), True),
    "recall": (frozenset({"binary"}), True),
    "log_loss": (frozenset({"binary", "multiclass"}), False),
    "rmse": (frozenset({"regression"}), False),
    "mae": (frozenset({"regression"}), False),
    "r2": (frozenset({"regression"}), True),
}
DEFAULT_METRIC: dict[str, str] = {"binary": "roc_auc", "multiclass": "f1", "regression": "rmse"}

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]

# Durations the code cannot run with at zero (or beyond a bound), named for their fields.
#: monitoring windows are cut in whole seconds from the epoch (see loopml.monitoring.windows)
WindowSpan = Annotated[
    Duration, within("1s", "365d", why="a window of logged predictions", whole_seconds=True)
]
FlushInterval = Annotated[
    Duration, within("10ms", "1m", why="how often logged predictions are written to disk")
]
WebhookTimeout = Annotated[Duration, within("100ms", "5m", why="one webhook attempt's time limit")]
UploadTimeout = Annotated[
    Duration, within("1s", "10m", why="how long a request's headers, then its body, may take")
]
RecentSpan = Annotated[Duration, within("1m", "3650d", why="how far back training rows reach")]
Schedule = Annotated[Duration, within("1m", why="the time between scheduled retrains")]
TuneBudget = Annotated[Duration, within("1s", why="the time budget for tuning")]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Features(_Section):
    """Model inputs by kind; each kind gets its own transform in the feature pipeline."""

    numeric: list[str] = []
    categorical: list[str] = []
    text: list[str] = []
    datetime: list[str] = []
    exclude: list[str] = []

    def by_kind(self) -> dict[str, list[str]]:
        return {
            "numeric": self.numeric,
            "categorical": self.categorical,
            "text": self.text,
            "datetime": self.datetime,
        }

    @property
    def all(self) -> list[str]:
        return [*self.numeric, *self.categorical, *self.text, *self.datetime]


class Metric(_Section):
    """The primary metric, the value that makes a model good enough, and the gate's margin and
    confidence: a new version replaces the champion (and counts as better than a baseline) only
    when the ``confidence`` interval of its gain on the same rows lies wholly above ``margin``
    (above 0 for baselines)."""

    name: str
    target: float | None = None
    margin: float = Field(0.0, ge=0)
    confidence: Annotated[float, Field(gt=0.5, lt=1.0)] = 0.95

    @property
    def greater_is_better(self) -> bool:
        return METRICS[self.name][1]


class Targets(_Section):
    """Targets besides the primary metric: serving latency, other metrics, a human-level figure."""

    latency_p99_ms: float = Field(50.0, gt=0)
    metrics: dict[str, float] = {}
    human_level: float | None = None


class Slice(_Section):
    """A slice of the data to evaluate and monitor on its own (by category or numeric bins)."""

    name: str
    column: str
    bins: list[float] | None = None

    @field_validator("bins")
    @classmethod
    def _increasing(cls, bins: list[float] | None) -> list[float] | None:
        if bins is not None and (
            not bins
            or any(not low < high for low, high in pairwise(bins))
            or any(edge != edge for edge in bins)
        ):
            raise ValueError("expected bin edges in increasing order, such as [0, 500, 1500]")
        return bins


class Expectation(_Section):
    """A user's rule for one column, added to (and overriding) the inferred schema."""

    nullable: bool | None = None
    max_missing: Fraction | None = None
    min: float | None = None
    max: float | None = None
    allowed: list[str | int | float | bool] | None = None
    max_unseen: Fraction | None = None


class Data(_Section):
    """Named data sources (a file path, or a SQLAlchemy URL with a query) and expectations."""

    sources: dict[str, str] = {}
    expectations: dict[str, Expectation] = {}


class Drift(_Section):
    """Drift thresholds and which statistic decides (effect sizes suit big windows)."""

    decide_by: Literal["psi", "jensen_shannon", "wasserstein", "ks_pvalue", "chi2_pvalue"] = "psi"
    psi: float = Field(0.2, gt=0)
    jensen_shannon: float = Field(0.1, gt=0)
    wasserstein: float = Field(0.1, gt=0)
    p_value: Fraction = 0.01


class AlertRule(_Section):
    """Fire when ``metric`` (for ``feature``, or every feature with ``*``) crosses ``threshold``
    in ``consecutive`` windows of at least ``min_samples`` predictions, at most once per
    ``cooldown``. Windows are the monitoring windows, or windows of ``window`` when given (time
    windows only: with ``monitoring.window_rows`` every rule uses the count windows)."""

    metric: str
    feature: str = "*"
    comparator: Literal[">", ">=", "<", "<="] = ">"
    threshold: float
    window: WindowSpan | None = None
    min_samples: int = Field(100, ge=1)
    consecutive: int = Field(1, ge=1)
    cooldown: Duration = timedelta(hours=6)
    severity: Literal["info", "warning", "critical"] = "warning"


class Monitoring(_Section):
    """Windows of logged predictions (by time, or every ``window_rows`` predictions when set),
    the drift thresholds, and alert rules on top of the defaults (see loopml.monitoring.alerts).
    """

    window: WindowSpan = timedelta(hours=1)
    window_rows: int | None = Field(None, ge=1)
    min_samples: int = Field(100, ge=1)
    default_alerts: bool = True
    webhook: str | None = None
    webhook_timeout: WebhookTimeout = timedelta(seconds=5)
    webhook_retries: int = Field(3, ge=0, le=10)
    drift: Drift = Drift()
    alerts: list[AlertRule] = []


class Rollout(_Section):
    """How a canary moves through its steps, and the limits that roll it back.

    At each step the controller waits for ``min_requests`` canary requests and ``min_duration``,
    evaluating every ``interval``. A check fails on its absolute limit (``max_error_rate``,
    ``min_non_null``, ``max_latency_ratio`` with stable's p99 (and slower by more than
    ``latency_slack_ms``: sub-millisecond gaps are jitter), ``max_prediction_psi``, the spec's
    latency target, quality within the metric's margin) or when a one-sided test says the canary
    is worse than stable with ``confidence``. ``max_failed_checks`` failing evaluations in one
    rollout, or ``max_consecutive_failures`` in a row, roll it back.
    """

    steps: list[Annotated[float, Field(gt=0, le=100)]] = [5, 25, 50, 100]
    min_requests: int = Field(200, ge=1)
    min_duration: Duration = timedelta(seconds=60)
    interval: Duration = timedelta(seconds=5)
    max_error_rate: Fraction = 0.01
    min_non_null: Fraction = 0.99
    max_latency_ratio: float = Field(1.5, gt=0)
    latency_slack_ms: float = Field(5.0, ge=0)
    max_prediction_psi: float = Field(0.25, gt=0)
    min_labels: int = Field(100, ge=1)
    confidence: Annotated[float, Field(gt=0.5, lt=1.0)] = 0.95
    max_failed_checks: int = Field(3, ge=1)
    max_consecutive_failures: int = Field(2, ge=1)
    shadow_fraction: Annotated[float, Field(gt=0, le=1)] = 1.0

    @field_validator("steps")
    @classmethod
    def _ending_at_100(cls, steps: list[float]) -> list[float]:
        if not steps or steps != sorted(steps) or steps[-1] != 100:
            raise ValueError("expected increasing percentages ending at 100, such as [5, 25, 100]")
        return steps


class Retrain(_Section):
    """When the maintenance loop retrains (``on``; see loopml.loop.policy), on what data
    (``append`` to the serving model's training data, or a sliding ``window`` of the newest
    ``window`` span and/or ``window_rows`` rows), how often at most, and whether a person
    approves before the canary (``approval: manual``).

    ``labels`` retrains once ``min_new_labels`` labelled production rows the serving model did
    not train on have arrived (default: a quarter of its training rows, see
    loopml.loop.triggers); ``quality`` once its labelled quality is worse than at registration by
    more than ``quality_drop`` (relative), beyond the window's noise. Rows logged under an input
    incident of a ``quarantine`` family (default: missing values; unseen categories and values
    out of range are as often real change, see loopml.loop.production) are left out of the
    retraining data."""

    on: list[Literal["labels", "drift", "quality", "schedule", "manual"]] = [
        "labels",
        "drift",
        "quality",
    ]
    data: Literal["append", "window"] = "append"
    window: RecentSpan | None = None
    window_rows: int | None = Field(None, ge=1)
    schedule: Schedule | None = None
    cooldown: Duration = timedelta(days=1)
    max_per_week: int = Field(3, ge=1)
    approval: Literal["auto", "manual"] = "auto"
    min_new_labels: int | None = Field(None, ge=1)
    quality_drop: Annotated[float, Field(ge=0, lt=1)] = 0.02
    quarantine: list[Literal["missing", "unseen", "out_of_range"]] = ["missing"]

    @model_validator(mode="after")
    def _consistent(self) -> Retrain:
        if self.data == "window" and self.window is None and self.window_rows is None:
            raise ValueError("data: window needs window (e.g. 90d) or window_rows (e.g. 100000)")
        if self.data == "append" and (self.window is not None or self.window_rows is not None):
            raise ValueError("window and window_rows apply to data: window; drop them or set it")
        if "schedule" in self.on and self.schedule is None:
            raise ValueError("on: schedule needs schedule (e.g. 7d)")
        return self


class ModelSearch(_Section):
    candidates: list[Literal["linear", "random_forest", "lightgbm"]] = [
        "linear",
        "random_forest",
        "lightgbm",
    ]
    tune: int = Field(0, ge=0)
    parallel_trials: int = Field(1, ge=1)
    timeout: TuneBudget | None = None
    cv_folds: int | None = Field(None, ge=2)
    validation_fraction: Annotated[float, Field(gt=0, lt=0.5)] = 0.15
    test_fraction: Annotated[float, Field(gt=0, lt=0.5)] = 0.15
    seed: int = 42


class Serving(_Section):
    """The server's input contract and limits (see :mod:`loopml.serving.inputs`).

    ``unknown_fields``: a key that is no column of the model's training data is refused (422)
    under ``reject``, skipped under ``ignore``. ``missing_values``: a feature absent or null is
    accepted and counted, or refused. ``max_missing_share``: a record with no feature, or with more
    than this share of the model's features missing, is always refused.
    """

    max_batch: int = Field(1000, ge=1)
    max_body: BodySize = 10 * 10**6
    unknown_fields: Literal["reject", "ignore"] = "reject"
    unseen_categories: Literal["accept", "reject"] = "accept"
    missing_values: Literal["accept", "reject"] = "accept"
    max_missing_share: Fraction = 0.5
    log_flush_interval: FlushInterval = timedelta(milliseconds=200)
    request_timeout: UploadTimeout = timedelta(seconds=30)


class Spec(_Section):
    """A loopml project: the problem, its data, its targets and its production policies."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")]
    task: Task
    target: str
    positive_class: str | int | bool | None = None
    id_column: str | None = None
    time_column: str | None = None
    time_format: TimeFormat | None = None  # how time_column's values are read
    entity_column: str | None = None
    weight_column: str | None = None
    features: Features
    metric: Metric
    targets: Targets = Targets()
    slices: list[Slice] = []
    data: Data = Data()
    monitoring: Monitoring = Monitoring()
    rollout: Rollout = Rollout()
    retrain: Retrain = Retrain()
    model: ModelSearch = ModelSearch()
    serving: Serving = Serving()
    _source: str | None = PrivateAttr(None)
    _lines: dict[tuple[str | int, ...], int] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _window_needs_time(self) -> Spec:
        if self.retrain.window is not None and self.time_column is None:
            raise ValueError(
                "retrain.window needs time_column to know which rows are recent; set "
                "time_column, or use retrain.window_rows"
            )
        return self

    def referenced_columns(self) -> Iterator[tuple[tuple[str | int, ...], str]]:
        """Every (field path, column name) the spec mentions, for checking against data."""
        yield ("target",), self.target
        for key in ("id_column", "time_column", "entity_column", "weight_column"):
            if getattr(self, key):
                yield (key,), getattr(self, key)
        for kind, names in [*self.features.by_kind().items(), ("exclude", self.features.exclude)]:
            for i, column in enumerate(names):
                yield ("features", kind, i), column
        for i, piece in enumerate(self.slices):
            yield ("slices", i, "column"), piece.column
        for column in self.data.expectations:
            yield ("data", "expectations", column), column

    def check_columns(self, columns: Iterable[str], *, where: str = "the data") -> None:
        """Raise :class:`SpecError` listing every column the spec names that ``columns`` lacks."""
        columns = list(columns)
        known = set(columns)
        problems = [
            _format(
                self._source,
                self._lines,
                path,
                f"column '{name}' is not in {where}{did_you_mean(name, columns)}",
            )
            for path, name in self.referenced_columns()
            if name not in known
        ]
        if problems:
            raise SpecError(
                _bullet(problems, f"{len(problems)} column(s) the spec names are missing")
            )


def _format(source: str | None, lines: dict[Path_, int], path: Path_, message: str) -> str:
    """``file:line: field.path: message``, with the line of ``path`` (or its nearest parent)."""
    line = None
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            line = lines[path[:end]]
            break
    where = f"{source}:{line}" if source and line else (source or "spec")
    field = ".".join(str(p) for p in path) or "(top level)"
    return f"{where}: {field}: {message}"


def _bullet(problems: list[str], headline: str) -> str:
    return headline + ":\n" + "\n".join(f"  - {p}" for p in problems)
