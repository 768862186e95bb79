"""Monitoring: what the logged predictions of each model version did, window by window.

What lives where:

- ``inputs.py``: a window's input metrics (missing values, schema violations, out-of-range and
  unseen values), checked against the training schema;
- ``drift.py``: each feature's drift between the training profile and a window's profile;
- ``estimate.py``: quality estimated before labels: a classifier's from its calibrated
  probabilities, a regression's from its validation residuals, each with an interval;
- ``quality_estimate.py``: a window's ``expected.*`` metrics, and ``estimate_outside.*`` when
  its labels left the interval (concept shift);
- ``windows.py``: the window metrics of one model version in one window (inputs, outputs,
  drift, latency, labelled and estimated quality);
- ``alerts.py``: the spec's alert rules over windows, and the notifiers (log, webhook);
- ``monitor.py``: one monitoring pass: compute the recent windows, store them, fire alerts.

It reads the prediction log (:mod:`loopml.predlog`) and the store, never the server: serving and
monitoring meet only there (an import-linter contract keeps them independent).
"""
