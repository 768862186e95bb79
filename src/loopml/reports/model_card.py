"""The model card: what a model is for, what it was trained on, how good it is, and where it fails.

Compute, then render: :func:`build_model_card` reads the package's metadata
(:class:`~loopml.registry.PackageMeta`: task, candidate, classes, threshold, params, metrics per
split, input columns, lineage and the gate's decision), the model's :class:`Analysis` (optional)
and the spec into a :class:`ModelCard`; :func:`model_card` renders Markdown and
:func:`model_card_html` a self-contained HTML page.

Sections: intended use, data, metrics (per split, against baselines when given), slices, limits,
lineage. Optional inputs, each used when present: ``meta.lineage.sizes`` (rows per split),
``meta.lineage.code_version``, ``meta.baselines`` (``{name: metrics per split}``, the shape of
``meta.metrics``), ``meta.gate`` and the training ``profile`` (ranges of the important features and
the last time seen). Without them the card says what was not recorded rather than guessing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from loopml.data.profile import Profile
from loopml.modeling.analysis import Analysis
from loopml.registry import PackageMeta
from loopml.registry.gate import GateDecision
from loopml.reports.render import render_page
from loopml.reports.tables import number
from loopml.spec import METRICS, Spec

SPLITS = ("train", "validation", "test")
LIMIT_SLICES = 3
LIMIT_FEATURES = 5
MISSING_NOTE = 0.05  # missing shares worth a line under Limits
UNSEEN_NOTE = 0.001  # shares of unseen categories worth a line
_TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class ModelCard:
    """The card's content as plain data (strings and small tables)."""

    title: str
    summary: str
    intended_use: list[tuple[str, str]]
    out_of_scope: list[str]
    data: list[tuple[str, str]]
    metric_names: list[str]
    metrics: list[dict[str, Any]]  # {"split" or "model": ..., metric: value}
    baselines: list[dict[str, Any]]
    gate: list[str]
    slice_metric: str | None
    slices: list[dict[str, Any]]
    worst_slices: list[dict[str, Any]]
    limits: list[str]
    lineage: list[tuple[str, str]]


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, int | float) else number(value)


def _intended_use(meta: PackageMeta, spec: Spec) -> list[tuple[str, str]]:
    task, classes = meta.task, meta.classes
    rows = [("task", f"{task}: predict '{spec.target}'")]
    if task == "binary" and classes:
        rows.append(
            (
                "positive class",
                f"{classes[-1]} (flagged when P ≥ {number(meta.threshold, 3)})",
            )
        )
    elif task == "multiclass":
        rows.append(("classes", ", ".join(str(c) for c in classes)))
    if spec.time_column:
        rows.append(
            ("time column", f"{spec.time_column} (train on earlier rows, test on the latest)")
        )
    if spec.entity_column:
        rows.append(("entity", spec.entity_column))
    by_kind = [
        f"{kind} {', '.join(cols)}" for kind, cols in spec.features.by_kind().items() if cols
    ]
    rows.append(("inputs", "; ".join(by_kind)))
    target = f"{spec.metric.name}" + (
        f", target {spec.metric.target}" if spec.metric.target is not None else ""
    )
    if spec.targets.human_level is not None:
        target += f", human level {spec.targets.human_level}"
    rows.append(("primary metric", target))
    rows.append(("model", f"{meta.candidate} ({_params(meta.params)})"))
    return rows


def _params(params: dict[str, Any]) -> str:
    shown = [f"{k}={number(v, 3)}" for k, v in params.items() if not isinstance(v, dict | list)]
    return ", ".join(shown) or "default parameters"


def _data(meta: PackageMeta, analysis: Analysis | None) -> list[tuple[str, str]]:
    lineage = meta.lineage
    sizes = lineage.sizes
    if sizes:
        rows_text = ", ".join(f"{k} {number(v)}" for k, v in sizes.items())
    elif analysis is not None:
        rows_text = f"test {analysis.n_rows:,} (other splits not recorded)"
    else:
        rows_text = "not recorded"
    return [
        ("dataset version", number(lineage.dataset)),
        ("content hash", number(lineage.dataset_hash)),
        ("split", number(lineage.split)),
        ("rows per split", rows_text),
    ]


def _limits(
    meta: PackageMeta, analysis: Analysis | None, spec: Spec, profile: Profile | None
) -> list[str]:
    limits: list[str] = []
    if analysis is None:
        limits.append(
            "No analysis was recorded for this model: its weak slices and most important inputs "
            "are unknown; run the error analysis on held-out data."
        )
    else:
        for item in analysis.worst_slices[:LIMIT_SLICES]:
            limits.append(
                f"Weak on {item['description']} ({item['count']:,} test rows): "
                f"{analysis.slice_metric} {item['metric']:.4f} against {item['overall']:.4f} "
                "overall."
            )
    if profile is not None and spec.time_column and spec.time_column in profile.columns:
        stats = profile[spec.time_column].numeric
        if stats is not None and stats.max_iso:
            limits.append(
                f"Trained on data up to {stats.max_iso} ({spec.time_column}); later periods "
                "may differ."
            )
    for column in spec.features.datetime:
        limits.append(
            f"'{column}' is a date: its year is always beyond the training range in production, "
            "where tree models score it as the last year seen."
        )
    important = [i["feature"] for i in (analysis.importance if analysis else [])][:LIMIT_FEATURES]
    numeric = [c for c in important if c in spec.features.numeric]
    for column in numeric:
        stats = (
            profile[column].numeric if profile is not None and column in profile.columns else None
        )
        if stats is not None and stats.count:
            low, high = (float(v) for v in stats.sketch.quantiles([0.01, 0.99]))
            limits.append(
                f"'{column}' (an important input) was seen from {_short(stats.min)} to "
                f"{_short(stats.max)} (1st–99th percentile {low:.4g}–{high:.4g}); values outside "
                "are drift: trees score them as the nearest edge, linear models extrapolate."
            )
        else:
            limits.append(f"'{column}' is an important input: watch it for drift (loopml monitor).")
    for item in analysis.coverage if analysis else []:
        if item["kind"] == "categorical" and (item.get("other") or 0) >= UNSEEN_NOTE:
            limits.append(
                f"{item['other']:.1%} of test rows have a '{item['column']}' value unseen (or too "
                f"rare) in training ({item['levels']:,} known values); such values all share the "
                "'other' code, so the model cannot tell them apart."
            )
        if (item.get("missing") or 0) >= MISSING_NOTE:
            limits.append(
                f"'{item['column']}' is missing in {item['missing']:.1%} of test rows; missing "
                "values are imputed (numbers: training median; categories: a 'missing' code)."
            )
    unseen = spec.features.categorical
    if unseen:
        policy = (
            "accepted and scored as 'other'"
            if spec.serving.unseen_categories == "accept"
            else "rejected"
        )
        limits.append(
            f"Categories never seen in training ({', '.join(unseen)}) are {policy} at serving."
        )
    return limits


def build_model_card(
    meta: PackageMeta, analysis: Analysis | None, spec: Spec, *, profile: Profile | None = None
) -> ModelCard:
    """The card of the model described by ``meta`` (see the module docstring)."""
    task = meta.task
    primary = spec.metric.name
    per_split = meta.metrics
    names = [primary] + [
        m for m, (tasks, _) in METRICS.items() if task in tasks and m != primary
        and any(m in (per_split.get(s) or {}) for s in SPLITS)
    ]  # fmt: skip
    metrics = [
        {"split": split, **{m: (per_split.get(split) or {}).get(m) for m in names}}
        for split in SPLITS
        if split in per_split
    ]
    baselines = [
        {
            "model": name,
            "validation": ((split_metrics or {}).get("validation") or {}).get(primary),
            "test": ((split_metrics or {}).get("test") or {}).get(primary),
        }
        for name, split_metrics in meta.baselines.items()
    ]
    if baselines:
        baselines.insert(
            0,
            {
                "model": f"{meta.candidate} (this model)",
                "validation": (per_split.get("validation") or {}).get(primary),
                "test": (per_split.get("test") or {}).get(primary),
            },
        )
    gate = []
    if meta.gate is not None:
        gate = [
            ("warning: " if c.get("warning") else "passed: " if c.get("passed") else "failed: ")
            + str(c.get("message"))
            for c in meta.gate.checks
        ]
        verdict = GateDecision(meta.gate.blessed, meta.gate.checks).reason  # as the registry says
        gate.insert(0, f"{'blessed' if meta.gate.blessed else 'not blessed'}: {verdict}")
    lineage = meta.lineage
    code_version = lineage.code_version
    test_value = (per_split.get("test") or {}).get(primary)
    summary = (
        f"A {meta.candidate} model for the {task} task '{spec.name}', predicting "
        f"'{spec.target}'; {primary} on held-out test data: {number(test_value)}"
        + (f" (target {spec.metric.target})." if spec.metric.target is not None else ".")
    )
    return ModelCard(
        title=f"Model card: {spec.name}",
        summary=summary,
        intended_use=_intended_use(meta, spec),
        out_of_scope=[
            f"Rows unlike the training data ({number(lineage.dataset)}): other populations, "
            "periods or sources — check drift before trusting the scores.",
            "Decisions on the worst slices below without human review.",
            "Reading scores as causal effects: the model learns associations.",
        ],
        data=_data(meta, analysis),
        metric_names=names,
        metrics=metrics,
        baselines=baselines,
        gate=gate,
        slice_metric=analysis.slice_metric if analysis else None,
        slices=list(analysis.slices) if analysis else [],
        worst_slices=list(analysis.worst_slices) if analysis else [],
        limits=_limits(meta, analysis, spec, profile),
        lineage=[
            ("training run", number(lineage.run_id)),
            ("candidate run", number(lineage.candidate_run_id)),
            ("dataset version", number(lineage.dataset)),
            ("dataset hash", number(lineage.dataset_hash)),
            ("code version", str(code_version) if code_version else "not recorded"),
            ("package format", number(meta.format)),
        ],
    )


def _cell(value: Any, digits: int = 4) -> str:
    """A Markdown table cell: formatted, with pipes escaped."""
    return number(value, digits).replace("|", "\\|").replace("\n", " ")


def model_card(
    meta: PackageMeta, analysis: Analysis | None, spec: Spec, *, profile: Profile | None = None
) -> str:
    """The model card as Markdown."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        autoescape=False,  # Markdown, not HTML: cells are escaped by the ``cell`` filter
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["cell"] = _cell
    card = build_model_card(meta, analysis, spec, profile=profile)
    return env.get_template("model_card.md.j2").render(card=card)


def model_card_html(
    meta: PackageMeta, analysis: Analysis | None, spec: Spec, *, profile: Profile | None = None
) -> str:
    """The model card as a self-contained HTML page."""
    card = build_model_card(meta, analysis, spec, profile=profile)
    return render_page("model_card.html.j2", card=card, fmt=number)
