"""Statistics with no I/O: PSI, the statistical tests, the mergeable sketches that profiles hold."""
