"""Modeling: from a dataset version to a leaderboard of tracked, evaluated candidates.

- ``splits``: train/validation/test by time or stratified; ``prepare``: checks, the encoded
  target and the split (:func:`~loopml.modeling.prepare.encode_target`);
- ``candidates``: the baselines and candidates (spaces, defaults); ``model``: the trained model
  (pipeline + estimator + threshold); ``fitting``: fitting one candidate and scoring it per split;
- ``tune``: Optuna studies kept in the store; ``search``: tuning one candidate on a run's data,
  in parallel workers when asked;
- ``selection``: how candidates are ranked, and cross-validation; ``metrics``: the metrics;
- ``train``: one training run (a parent run, a child per candidate); ``tracking``: the code
  version and environment each run records; ``progress``: the typed progress events it sends;
- ``analysis``, ``groups``, ``slices``, ``importance``: error analysis on held-out data.
"""
