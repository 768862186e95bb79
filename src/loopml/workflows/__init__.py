"""Verbs that span stages, one per module; the CLI only parses arguments and renders what they
return.

- ``train``: :func:`train_model` trains, analyses the best candidate, registers it through the
  gate and writes the run report and model card (:class:`TrainOutcome`); :func:`default_dataset`
  is the dataset it trains on when none is named;
- ``predict``: :func:`predict` batch-scores a file or query with a registered model, after
  validating the input against the model's own schema;
- ``reports``: :func:`run_report` and :func:`monitor_report` write a training run's and a
  deployment's HTML report (:func:`build_monitor_report` computes the latter's object);
  :func:`reports_folder` is where reports go unless told otherwise;
- ``runs``: :func:`runs` lists a project's runs.

Where reports are written is an argument of each verb; only its default comes from
:class:`loopml.config.Settings`.
"""

from loopml.workflows.predict import predict
from loopml.workflows.reports import (
    build_monitor_report,
    monitor_report,
    reports_folder,
    run_report,
)
from loopml.workflows.runs import runs
from loopml.workflows.train import TrainOutcome, default_dataset, train_model

__all__ = [
    "TrainOutcome",
    "build_monitor_report",
    "default_dataset",
    "monitor_report",
    "predict",
    "reports_folder",
    "run_report",
    "runs",
    "train_model",
]
