"""The population stability index on binned shares, and what sampling alone makes of it.

Shared by monitoring (window against training profile) and the rollout controller (canary
against stable): both bin two samples, then ask how far apart the shares are, and how far apart
two samples of those sizes would be if nothing had changed.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

PSI_FLOOR = 1e-4  # the share given to an empty bin, so PSI stays finite


def psi(expected: FloatArray, actual: FloatArray) -> float:
    """PSI of ``actual`` shares against ``expected`` shares, empty bins floored at
    :data:`PSI_FLOOR`."""
    e, a = np.maximum(expected, PSI_FLOOR), np.maximum(actual, PSI_FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def psi_noise(expected: FloatArray, n: int, m: int) -> float:
    """The PSI two samples of sizes ``n`` and ``m`` show on average when nothing changed: PSI
    times ``n·m/(n+m)`` is about chi-square with (occupied bins − 1) degrees of freedom."""
    occupied = int(np.count_nonzero(expected))
    return max(occupied - 1, 0) * (1 / max(n, 1) + 1 / max(m, 1))
