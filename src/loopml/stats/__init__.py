"""Statistics with no I/O: PSI, the significance tests, the mergeable sketches profiles hold.

- ``psi``: the population stability index, its binning (from sketches or raw samples) and the
  PSI that sampling alone shows;
- ``significance``: the KS p-value from a statistic, the chi-square test of homogeneity, the
  Wilson lower bound of a proportion;
- ``quantiles``, ``distinct``, ``categories``: the three mergeable sketches of a column
  (:class:`~loopml.stats.quantiles.QuantileSketch`, :class:`~loopml.stats.distinct.DistinctSketch`,
  :class:`~loopml.stats.categories.CategoryCounts`), each small, JSON-safe and with a stated
  error that merging keeps honest;
- ``jsonsafe``: non-finite floats through JSON, and the array types the sketches share;
- ``calibration``, ``error_model``: what estimated quality needs from the validation split, as
  plain JSON (a classifier's isotonic map of scores to probabilities, a regression's residuals
  by predicted value);
- ``intervals``: the intervals of estimated quality, from labels (or residuals) simulated for a
  window's rows, and the dispersion that widens them where rows close in time are not independent.
- ``paired``, ``resampled``, ``delong``: whether one model beats another on the same rows beyond
  their noise (a paired block bootstrap of any metric's difference; DeLong's variance over the
  same blocks for ROC AUC), and one metric's interval on its rows.

Pure functions and values over NumPy arrays: no store, no files, no network (an import-linter
contract keeps it so). Import each name from its module.
"""
