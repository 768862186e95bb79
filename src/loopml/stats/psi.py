"""The population stability index: binning, the index on binned shares, and its sampling noise.

Shared by monitoring (a window's profile against the training profile) and the rollout decision
(canary predictions against stable's): both bin two samples, then ask how far apart the shares
are, and how far apart two samples of those sizes would be if nothing had changed.

Two ways in, one index:

- from **sketches** (monitoring, which holds profiles, not rows): :func:`sketch_edges` cuts at
  the reference sketch's deciles, :func:`sketch_shares` reads each side's shares off its CDF;
- from **raw samples** (the rollout decision, on windows of a few dozen requests):
  :func:`sample_psi` bins at :func:`quantile_edges` (the reference's deciles) or at given edges
  such as :data:`PROBABILITY_EDGES`, smoothing the counts, and :func:`sample_psi_noise` is the
  PSI chance stays under at a confidence (a decision to roll back must be sure, not average).

Both end in :func:`psi` on the shares; the two binnings keep their own conventions (a sketch
bin holds its upper cut, a sample bin its lower one).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.stats import chi2

from loopml.stats.jsonsafe import FloatArray
from loopml.stats.quantiles import QuantileSketch

PSI_BINS = 10
PSI_FLOOR = 1e-4  # the share given to an empty bin, so PSI stays finite

#: Probability scores are binned on fixed tenths: deciles of a window whose scores sit close
#: together (one hour's flights) turn a 0.03 shift between two sound models into a "large" PSI.
PROBABILITY_EDGES = np.linspace(0, 1, PSI_BINS + 1)[1:-1]


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


# --- from sketches -----------------------------------------------------------------------------


def sketch_edges(reference: QuantileSketch, bins: int = PSI_BINS) -> FloatArray:
    """Cut points at the reference sketch's (lower) quantiles ``1/bins … (bins−1)/bins``; values
    that tie merge bins."""
    return np.unique(reference.quantiles(np.arange(1, bins) / bins))


def sketch_shares(sketch: QuantileSketch, edges: FloatArray) -> FloatArray:
    """Each bin's share of the sketch's values, read off its CDF (a bin includes its upper cut)."""
    return np.diff(np.r_[0.0, sketch.cdf(edges), 1.0])


# --- from raw samples --------------------------------------------------------------------------


def quantile_edges(reference: npt.NDArray[np.floating], bins: int = PSI_BINS) -> FloatArray:
    """Cut points giving ``bins`` bins of equal reference share (fewer when values tie)."""
    return np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))


def sample_counts(values: npt.NDArray[np.floating], edges: FloatArray) -> npt.NDArray[np.int64]:
    """How many of ``values`` fall in each bin (a bin includes its lower cut)."""
    return np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)


def sample_psi(
    reference: npt.NDArray[np.floating],
    current: npt.NDArray[np.floating],
    edges: FloatArray | None = None,
) -> float:
    """PSI of the ``current`` sample against the ``reference`` one on bins cut at ``edges``
    (default: the reference's deciles, :func:`quantile_edges`). Non-finite values are dropped;
    NaN when either side has none left.

    Counts get half an observation each (Jeffreys), over the bins either sample occupies: a
    bin a sample of 60 happens to miss is a share of about 1/120, not :data:`PSI_FLOOR`, whose
    logarithm would make one stray value a "major shift"."""
    reference = reference[np.isfinite(reference)]
    current = current[np.isfinite(current)]
    if not len(reference) or not len(current):
        return float("nan")
    cuts = quantile_edges(reference) if edges is None else edges
    ref_counts, cur_counts = sample_counts(reference, cuts), sample_counts(current, cuts)
    occupied = (ref_counts + cur_counts) > 0
    ref, cur = ref_counts[occupied] + 0.5, cur_counts[occupied] + 0.5
    return psi(ref / ref.sum(), cur / cur.sum())


def sample_psi_noise(
    reference: npt.NDArray[np.floating],
    current: npt.NDArray[np.floating],
    edges: FloatArray | None = None,
    *,
    confidence: float,
) -> float:
    """The PSI two samples of these sizes, binned as :func:`sample_psi` bins them, stay under
    with probability ``confidence`` when nothing changed: PSI times ``n·m/(n+m)`` is about
    chi-square with (occupied bins − 1) degrees of freedom. A PSI above it is, at that
    confidence, more than chance."""
    reference = reference[np.isfinite(reference)]
    current = current[np.isfinite(current)]
    if not len(reference) or not len(current):
        return float("nan")
    cuts = quantile_edges(reference) if edges is None else edges
    occupied = int(np.count_nonzero(sample_counts(reference, cuts) + sample_counts(current, cuts)))
    freedom = max(occupied - 1, 1)
    return float(chi2.ppf(confidence, freedom)) * (1 / len(reference) + 1 / len(current))
