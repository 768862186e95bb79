"""The ``train`` verb: fit, analyse the best candidate, register it through the gate, report.

:func:`train_model` spans modeling (training and error analysis), the registry (the gate) and
reports (the run report and the model card, written to the reports folder).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from loopml.data.versions import DatasetVersion, get_version
from loopml.errors import NotFoundError
from loopml.modeling.analysis import Analysis, analyze
from loopml.modeling.progress import OnProgress, StageStarted, ignore
from loopml.modeling.train import TrainResult, train
from loopml.registry import Comparison, GateDecision, load_package, register
from loopml.reports.model_card import model_card, model_card_html
from loopml.reports.run_report import build_run_report, write_html
from loopml.spec import Spec
from loopml.store import ModelRecord, Store
from loopml.workflows.reports import reports_folder


@dataclass
class TrainOutcome:
    """What ``loopml train`` did: the leaderboard, the registered version and its reports."""

    result: TrainResult
    analysis: Analysis
    model: ModelRecord
    decision: GateDecision
    report: Path
    card: Path


def default_dataset(store: Store, spec: Spec) -> DatasetVersion:
    """The newest version of the dataset named like the project (``loopml data add --name``)."""
    try:
        return get_version(store, spec.name)
    except NotFoundError as exc:
        raise NotFoundError(
            f"no dataset named '{spec.name}' (the project's name) to train on: add one with "
            f"'loopml data add FILE --name {spec.name}', or pass the dataset version"
        ) from exc


def train_model(
    store: Store,
    spec: Spec,
    dataset: str | None = None,
    *,
    tune_trials: int | None = None,
    on_event: OnProgress | None = None,
    warm_start: dict[str, dict[str, Any]] | None = None,
    comparison: Comparison | None = None,
    champion: str | None = None,
    blessed_alias: str = "champion",
    reports_dir: Path | None = None,
) -> TrainOutcome:
    """Train, analyse the best candidate on test data, register it through the gate (see
    :func:`loopml.registry.register` for ``comparison``, ``champion`` and ``blessed_alias``),
    and write the run report and the model card into ``reports_dir`` (default: the project's,
    see :func:`~loopml.workflows.reports.reports_folder`)."""
    version = get_version(store, dataset) if dataset else default_dataset(store, spec)
    result = train(
        store, spec, version, tune_trials=tune_trials, on_event=on_event, warm_start=warm_start
    )
    emit = on_event or ignore
    emit(StageStarted("analysing errors on the test split"))
    rows = result.data.split.test
    weight = None if result.data.weight is None else result.data.weight[rows]
    analysis = analyze(
        result.best.model,
        result.data.frame[rows],
        result.data.y[rows],
        spec,
        weight=weight,
        seed=spec.model.seed,
    )
    store.artifacts.put_bytes(
        f"runs/{result.run_id}/analysis.json", orjson.dumps(analysis.to_dict())
    )
    emit(StageStarted("registering through the gate"))
    record, decision = register(
        store,
        spec,
        result,
        comparison=comparison,
        champion=champion,
        blessed_alias=blessed_alias,
    )
    folder = reports_folder(reports_dir)
    run = store.runs.get(result.run_id)
    report = write_html(
        build_run_report(
            run,
            result.leaderboard(),
            analysis,
            human_level=spec.targets.human_level,
            title=f"{spec.name}: training run {result.run_id}",
        ),
        folder / f"run-{result.run_id}.html",
    )
    package = load_package(store, record.ref)
    card = folder / f"model-{record.name}-{record.version}.md"
    card.write_text(model_card(package.meta, analysis, spec, profile=package.profile), "utf-8")
    card.with_suffix(".html").write_text(
        model_card_html(package.meta, analysis, spec, profile=package.profile), "utf-8"
    )
    emit(StageStarted("done"))
    store.runs.log(
        result.run_id,
        artifacts={
            "analysis": f"runs/{result.run_id}/analysis.json",
            "report": str(report),
            "model_card": str(card),
            "model": record.ref,
        },
    )
    return TrainOutcome(result, analysis, record, decision, report, card)
