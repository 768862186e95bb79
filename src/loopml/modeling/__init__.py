"""Modeling: splits, baselines and candidates, training, tuning, evaluation and error analysis."""
