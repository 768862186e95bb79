"""Rollout: moving a canary from a few percent of traffic to all of it, or back.

What lives where:

- ``decide.py``: the pure decision (advance, hold or roll back) over two arms' evidence; no I/O.
- ``state.py``: the typed rollout state kept in the deployment's row (``RolloutState``), the
  decisions recorded with it (``RolloutEvent``) and one compare-and-set update
  (``DeploymentChange``).
- ``evidence.py``: each arm's evidence for the current step, from the prediction log and the
  feedback (``gather``).
- ``controller.py``: start, promote, roll back, pause, resume, status, and the periodic
  ``evaluate`` that applies decisions to the deployment in the store (compare-and-set, so several
  server replicas follow one rollout) and records each one.

Import from the modules (``from loopml.rollout import controller``).
"""
