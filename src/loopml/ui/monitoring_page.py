"""The monitoring page and the page of each feature, gathered as plain data.

The monitoring page answers "is my model all right?" first: a verdict, the open incidents (what,
since when, how much), quality (labelled, and estimated with its interval), then one chart per
question and the features ranked by importance-weighted drift, each linking to its page. A
feature's page shows its histogram now (the latest window of at least ``min_samples`` rows, read
back from the prediction log) against the drift reference on the drift test's bins, and its
drift over time.

:class:`ModelFacts` keeps what ranking and histograms need of a model version — its importance
shares and its drift reference — after loading its package once: a package never changes under
its reference, and loading a LightGBM model costs far more than a page should.
"""

from __future__ import annotations

import difflib
import logging
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import polars as pl

from loopml.data.profile import Profile
from loopml.errors import LoopmlError, NotFoundError, PageError
from loopml.modeling.importance import importance_shares
from loopml.monitoring.windows import SERVED
from loopml.predlog import decode_features, read_log
from loopml.predlog.reader import log_folder
from loopml.registry import load_package
from loopml.reports.monitor_charts import LEAD_CHARTS, Figure
from loopml.reports.monitor_feature import drift_over_time, histogram
from loopml.reports.monitor_ranking import RankedFeature
from loopml.reports.monitor_report import MonitorReport
from loopml.reports.tables import number
from loopml.spec import Spec
from loopml.store import IncidentRecord, Store, WindowRecord
from loopml.workflows import build_monitor_report

logger = logging.getLogger(__name__)

KEPT = 8  # model versions whose facts are kept (a deployment serves one or two at a time)
_DTYPES: dict[str, pl.DataType] = {"numeric": pl.Float64(), "categorical": pl.String()}


class ModelFacts:
    """Importance shares and drift reference per model version, each package loaded once (the
    :data:`KEPT` most recent; a failed load is retried on the next page). Thread-safe."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._facts: dict[str, tuple[dict[str, float], Profile]] = {}
        self._lock = threading.Lock()

    def get(self, ref: str) -> tuple[dict[str, float], Profile | None]:
        with self._lock:
            if ref in self._facts:
                return self._facts[ref]
        try:
            package = load_package(self._store, ref)
        except LoopmlError as exc:
            logger.warning("the monitoring page goes without %s's importance: %s", ref, exc)
            return {}, None
        facts = (importance_shares(package.model), package.drift_reference)
        with self._lock:
            self._facts[ref] = facts
            while len(self._facts) > KEPT:
                self._facts.pop(next(iter(self._facts)))
        return facts


@dataclass(frozen=True)
class MonitoringPage:
    report: MonitorReport
    verdict: str
    attention: bool
    incidents: list[IncidentRecord]
    lead: list[Figure]  # the charts that answer "is my model all right?"
    more: list[Figure] = field(default_factory=list)


def _verdict(report: MonitorReport, incidents: list[IncidentRecord]) -> tuple[str, bool]:
    """One sentence, and whether something needs a person: an open incident, labelled quality
    missing its target, or labels outside the estimate's interval."""
    parts, attention = [], bool(incidents)
    if incidents:
        critical = sum(i.severity == "critical" for i in incidents)
        parts.append(
            f"{len(incidents)} open incident{'s' if len(incidents) != 1 else ''}"
            + (f" ({critical} critical)" if critical else "")
        )
    else:
        parts.append("no open incident")
    q = report.quality
    if q is not None and q.labelled is not None:
        target = f" its target {q.target:g}" if q.target is not None else ""
        met = q.meets_target
        how = "meets" if met else "misses" if met is False else "has no target:"
        parts.append(f"{q.metric} {number(q.labelled)} on labelled rows {how}{target}".strip())
        attention = attention or met is False
        if q.outside:
            parts.append("the labels left the estimate's interval: do not trust the estimate")
            attention = True
    elif q is not None and q.estimated is not None:
        parts.append(f"no labels yet; {q.metric} estimated {q.estimate_text}")
    head = "Needs attention" if attention else "All right"
    return f"{head}: " + "; ".join(parts), attention


def monitoring(store: Store, spec: Spec, facts: ModelFacts, *, last: int) -> MonitoringPage | None:
    """The monitoring page over the last ``last`` windows, or ``None`` before the first one."""
    latest = store.monitoring.list_windows(spec.name, limit=1)
    if not latest:
        return None
    shares, _ = facts.get(latest[-1].model_version)
    try:
        report = build_monitor_report(store, spec, limit=last, shares=shares)
    except NotFoundError:
        return None
    incidents = store.incidents.list(deployment=spec.name, status="open")
    verdict, attention = _verdict(report, incidents)
    lead = [f for f in report.figures if f[0] in LEAD_CHARTS]
    more = [f for f in report.figures if f[0] not in LEAD_CHARTS]
    return MonitoringPage(report, verdict, attention, incidents, lead, more)


@dataclass(frozen=True)
class FeaturePage:
    name: str
    report: MonitorReport
    rank: RankedFeature | None
    position: int | None  # 1 = drifts most, importance-weighted (prediction drift aside)
    features: int
    window: WindowRecord | None  # the window the histogram and ranking are read from
    effect: str | None
    incidents: list[IncidentRecord]
    figures: list[Figure]
    problem: str | None = None  # why the histogram is missing


def _unknown(name: str, known: list[str]) -> PageError:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return PageError(
        f"no feature '{name}' is monitored{hint} (features: {', '.join(known[:20])}); "
        "pick one from the monitoring page's ranking",
        404,
    )


def _window_values(
    store: Store, spec: Spec, window: WindowRecord, name: str, kind: str
) -> list[Any]:
    """``name``'s logged values in ``window`` (served rows of its model version)."""
    until = window.end + timedelta(microseconds=1) if window.size.endswith("rows") else window.end
    frame = read_log(log_folder(store), spec.name, since=window.start, until=until)
    frame = frame.filter(
        (pl.col("model_version") == window.model_version) & pl.col("route").is_in(SERVED)
    ).select("features")
    if frame.is_empty():
        return []
    decoded = decode_features(frame, {name: _DTYPES.get(kind, pl.String())}, prefix="f.")
    return decoded.get_column(f"f.{name}").to_list()


def _effect(reference: Profile | None, window: WindowRecord, name: str) -> str | None:
    """The median's move in the feature's units, e.g. ``reference median 38, window median 78``."""
    now = window.details.get("quantiles", {}).get(name) or []
    if reference is None or name not in reference.columns or len(now) < 3 or now[2] is None:
        return None
    stats = reference[name].numeric
    if stats is None or not stats.count:
        return None
    before = float(stats.sketch.quantiles([0.5])[0])
    return f"reference median {before:,.4g}, window median {float(now[2]):,.4g}"


def feature(store: Store, spec: Spec, facts: ModelFacts, name: str, *, last: int) -> FeaturePage:
    """The page of feature ``name`` (a :class:`PageError` naming the features if unknown)."""
    page = monitoring(store, spec, facts, last=last)
    ranked_names = [r.feature for r in page.report.ranking] if page else []
    known = [n for n in dict.fromkeys([*spec.features.all, *ranked_names]) if n != "prediction"]
    if name not in known:
        raise _unknown(name, known)
    if page is None:
        raise PageError(
            f"no monitoring windows of '{spec.name}' yet, so nothing to show for '{name}': "
            "serve predictions, then run 'loopml monitor run'",
            404,
        )
    report = page.report
    ranked = [r for r in report.ranking if r.feature != "prediction"]
    position = next((i for i, r in enumerate(ranked, 1) if r.feature == name), None)
    rank = next((r for r in report.ranking if r.feature == name), None)
    window = report.judged
    charts: list[Figure] = []
    problem, effect = None, None
    reference = facts.get(window.model_version)[1] if window is not None else None
    if window is not None and reference is not None and name in reference.columns:
        column = reference[name]
        values = _window_values(store, spec, window, name, column.kind)
        effect = _effect(reference, window, name)
        now = f"window {window.start:%m-%d %H:%M} ({len(values):,} rows)"
        chart = histogram(column, values, now) if values else None
        if chart is not None:
            charts.append(chart)
        elif not values:
            problem = (
                f"the prediction log holds no rows of the window from "
                f"{window.start:%Y-%m-%d %H:%M} any more (it was pruned or moved): its histogram "
                "cannot be drawn"
            )
        else:
            problem = f"'{name}' is a {column.kind} feature: drift does not compare its values"
    elif window is not None:
        problem = f"the drift reference of {window.model_version} cannot be read (see the log)"
    over_time = drift_over_time(spec, report.windows, report.alerts, name)
    if over_time is not None:
        charts.append(over_time)
    incidents = [
        i
        for i in page.incidents
        if any(m.get("feature") == name for m in i.evidence.get("features", []))
    ]
    return FeaturePage(
        name, report, rank, position, len(ranked), window, effect, incidents, charts, problem
    )
