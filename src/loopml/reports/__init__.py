"""Reports: compute a plain data object, then render it (terminal table, JSON, HTML with charts)."""
