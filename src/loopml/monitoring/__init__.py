"""Monitoring: window metrics, drift against the training profile, quality before labels."""
