"""Prometheus metrics of one server, in the app's own registry (no process globals).

Requests, errors and latency per endpoint, model version and route; rows scored; canary
fallbacks, shadow drops and the canary's weight; missing values and unseen categories per
feature; feedback; the latest monitoring window's metrics; and the prediction log's queue depth.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from loopml.serving.inputs import InputStats
from loopml.store import IncidentRecord, WindowRecord

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class ServerMetrics:
    """The server's metrics; ``registry`` is what ``/metrics`` exposes."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        labels = ("endpoint", "model_version", "route")
        self.requests = Counter(
            "loopml_requests", "Scored requests", labels, registry=self.registry
        )
        self.rows = Counter("loopml_rows", "Scored records", labels, registry=self.registry)
        self.latency = Histogram(
            "loopml_latency_seconds",
            "Validation + scoring time",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.responses = Counter(
            "loopml_error_responses",
            "Requests answered with an error",
            ("endpoint", "status"),
            registry=self.registry,
        )
        self.model_errors = Counter(
            "loopml_model_errors",
            "Model exceptions (HTTP 500 from stable; canary and shadow ones never reach clients)",
            ("model_version", "route"),
            registry=self.registry,
        )
        self.fallbacks = Counter(
            "loopml_canary_fallbacks",
            "Canary failures answered by stable instead",
            ("model_version",),
            registry=self.registry,
        )
        self.shadow_dropped = Counter(
            "loopml_shadow_dropped",
            "Shadow copies skipped because the shadow queue was full",
            registry=self.registry,
        )
        self.canary_weight = Gauge(
            "loopml_canary_weight_percent",
            "Share of traffic routed to the canary",
            registry=self.registry,
        )
        self.missing = Counter(
            "loopml_missing_values",
            "Missing feature values received",
            ("feature",),
            registry=self.registry,
        )
        self.unseen = Counter(
            "loopml_unseen_categories",
            "Categories the model never saw",
            ("feature",),
            registry=self.registry,
        )
        self.feedback = Counter(
            "loopml_feedback",
            "Labels received, by outcome: stored, duplicate, unknown (id never issued), conflict",
            ("outcome",),
            registry=self.registry,
        )
        self.window = Gauge(
            "loopml_window_metric",
            "The latest monitoring window's metrics (loopml monitor run), per model version",
            ("model_version", "metric"),
            registry=self.registry,
        )
        self.drift = Gauge(
            "loopml_drift_statistic",
            "The latest window's drift statistic per feature (the one that decides: PSI by "
            "default), per model version; compare with loopml_drift_threshold",
            ("model_version", "feature", "statistic"),
            registry=self.registry,
        )
        self.drift_threshold = Gauge(
            "loopml_drift_threshold",
            "The threshold the drift statistic of each feature is judged against",
            ("model_version", "feature", "statistic"),
            registry=self.registry,
        )
        self.incidents = Gauge(
            "loopml_open_incidents",
            "Open monitoring incidents (loopml incidents list), per model version and rule family",
            ("model_version", "family", "severity"),
            registry=self.registry,
        )
        self.log_queue = Gauge(
            "loopml_prediction_log_queue_depth",
            "Predictions waiting to be written",
            registry=self.registry,
        )

    def observe(self, endpoint: str, version: str, route: str, seconds: float, rows: int) -> None:
        self.requests.labels(endpoint, version, route).inc()
        self.rows.labels(endpoint, version, route).inc(rows)
        self.latency.labels(endpoint, version, route).observe(seconds)

    def show_windows(self, windows: list[WindowRecord]) -> None:
        """Expose each model version's latest window (numbers only)."""
        latest = {w.model_version: w for w in windows}
        for version, window in latest.items():
            for name, value in window.metrics.items():
                if isinstance(value, int | float):
                    self.window.labels(version, name).set(value)
            for drift in window.details.get("drift", []):
                labels = (version, str(drift["feature"]), str(drift.get("decided_by", "psi")))
                if isinstance(drift.get("value"), int | float):
                    self.drift.labels(*labels).set(drift["value"])
                if isinstance(drift.get("threshold"), int | float):
                    self.drift_threshold.labels(*labels).set(drift["threshold"])

    def show_incidents(self, incidents: list[IncidentRecord]) -> None:
        """Count the open incidents (those given) by model version, family and severity."""
        self.incidents.clear()
        for incident in incidents:
            labels = (incident.model_version, incident.family, incident.severity)
            self.incidents.labels(*labels).inc()

    def count_status(self, endpoint: str, status: int) -> None:
        self.responses.labels(endpoint, str(status)).inc()

    def count_inputs(self, stats: InputStats) -> None:
        for name, count in stats.missing.items():
            self.missing.labels(name).inc(count)
        for name, count in stats.unseen.items():
            self.unseen.labels(name).inc(count)
