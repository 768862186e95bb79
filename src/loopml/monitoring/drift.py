"""Drift of a feature between two profiles: the training profile and a window's.

Every statistic works on the profiles' summaries, never on rows: a numeric column through its
:class:`~loopml.stats.quantiles.QuantileSketch` (at most ``capacity`` points), a categorical or
boolean one through its :class:`~loopml.stats.categories.CategoryCounts` (at most ``top_k``
categories). Comparing a window with training therefore costs O(sketch size) whatever the row
counts, and the training data is never needed — only the profile that travels with the model.

Per feature, :func:`column_drift` reports effect sizes and tests side by side:

- **PSI** (population stability index) and the **Jensen–Shannon distance** (base 2, in [0, 1])
  on bins: for numbers the reference's deciles, for categories the reference's categories plus
  one "other" bin;
- numeric only: the **Wasserstein** distance (W1) in units of the reference's standard
  deviation, and the two-sample **Kolmogorov–Smirnov** statistic with its asymptotic p-value;
- categorical only: the **chi-square** test of homogeneity on the 2×K table of counts.

**Why effect sizes decide by default.** A p-value answers "could this be chance?", and with
windows of tens of thousands of rows the answer is "no" for shifts far too small to matter: a
0.05-standard-deviation shift in 100,000 rows has a KS p-value below 1e-30 but a PSI near
0.003. PSI, Jensen–Shannon and Wasserstein measure *how much* moved, which is what should page
someone. In small windows the reverse happens: PSI over 100 destinations in 500 rows is about
0.2 from sampling alone. So PSI decides on its value beyond that expectation (``value``; the
``psi`` field stays the raw index), and an effect size decides only when the test of its kind
(KS for numbers, chi-square for categories) also says the change is not chance (p below
``policy.p_value``): big windows are judged by how much moved, small ones not on noise.

**Tolerance against the raw data.** A sketch's CDF is within its normalised rank error ``e`` of
the data's at every point, so the KS statistic from two sketches is within ``e_ref + e_cur`` of
the one from the raw samples, and the bin shares behind PSI and Jensen–Shannon are each within
``e_ref`` (or ``e_cur``) of the raw shares. Sketches of at most ``capacity`` distinct values
are exact (``e = 0``), and then every statistic equals its raw-sample counterpart (SciPy's
``ks_2samp(method="asymp")``, ``wasserstein_distance``, ``chi2_contingency``) to rounding; see
:func:`sketch_drift` for the p-value's one approximation.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy.special import rel_entr

from loopml.data.profile import ColumnProfile, Profile
from loopml.errors import DataError
from loopml.spec import Drift
from loopml.stats.categories import CategoryCounts
from loopml.stats.psi import psi, psi_noise, sketch_edges, sketch_shares
from loopml.stats.quantiles import QuantileSketch
from loopml.stats.significance import chi2_homogeneity, ks_pvalue

Family = Literal["numeric", "categorical"]
FloatArray = npt.NDArray[np.float64]

_P_VALUES = ("ks_pvalue", "chi2_pvalue")


@dataclass(frozen=True)
class FeatureDrift:
    """How far one feature (or the prediction scores) moved between reference and current.

    ``kind`` is ``"numeric"`` (numbers, dates and times, compared as numbers) or
    ``"categorical"`` (strings, categories and booleans). The counts are the non-null values
    compared on each side. Statistics that do not apply to the kind are ``None``; statistics of
    a comparison with an empty side are NaN (see :func:`column_drift`).

    ``decided_by`` names the statistic that gave the verdict — the policy's ``decide_by``, or
    its counterpart for this kind — with its ``value`` and ``threshold``; ``drifted`` is
    ``value > threshold`` for effect sizes and ``value < threshold`` for p-values.

    ``share_error`` bounds how far any bin's share (and so the CDF, for numbers) read off the
    summaries can be from the raw data's: 0 when both summaries are exact, as a window's are.
    """

    feature: str
    kind: Family
    reference_count: int
    current_count: int
    psi: float
    jensen_shannon: float
    wasserstein: float | None
    ks_statistic: float | None
    ks_pvalue: float | None
    chi2_statistic: float | None
    chi2_pvalue: float | None
    decided_by: str
    value: float
    threshold: float
    drifted: bool
    share_error: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """A JSON-safe dict: every non-finite float (NaN, and an infinite Wasserstein) as None."""
        return {
            key: None if isinstance(value, float) and not math.isfinite(value) else value
            for key, value in asdict(self).items()
        }


# --- shared pieces -----------------------------------------------------------------------------


def _js_distance(p: FloatArray, q: FloatArray) -> float:
    """Jensen–Shannon distance, base 2: sqrt of the divergence, in [0, 1]; empty bins need no
    floor since the mixture is positive wherever either share is."""
    mix = 0.5 * (p + q)
    divergence = 0.5 * float(np.sum(rel_entr(p, mix)) + np.sum(rel_entr(q, mix))) / math.log(2)
    return min(1.0, math.sqrt(max(divergence, 0.0)))


def _resolve(kind: Family, policy: Drift) -> tuple[str, float]:
    """The statistic that decides for this kind (the policy's, or its counterpart) and its
    threshold: Wasserstein and KS exist for numbers only, chi-square for categories only."""
    by: str = policy.decide_by
    if kind == "categorical":
        by = {"wasserstein": "jensen_shannon", "ks_pvalue": "chi2_pvalue"}.get(by, by)
    elif by == "chi2_pvalue":
        by = "ks_pvalue"
    return by, float(policy.p_value if by in _P_VALUES else getattr(policy, by))


def _verdict(
    feature: str,
    kind: Family,
    counts: tuple[int, int],
    found: dict[str, float],
    policy: Drift,
) -> FeatureDrift:
    """The verdict on ``found`` (the statistics of the kind; the others are left None)."""
    by, threshold = _resolve(kind, policy)
    value = found[by]
    if by == "psi" and math.isfinite(value):  # judged beyond what sampling alone would show
        value = max(0.0, value - found.get("psi_noise", 0.0))
    if by in _P_VALUES:
        drifted = value < threshold  # NaN: False
    else:  # an effect size decides, but never on sampling noise alone
        p_value = found.get("ks_pvalue" if kind == "numeric" else "chi2_pvalue")
        noise = p_value is not None and math.isfinite(p_value) and p_value >= policy.p_value
        drifted = value > threshold and not noise
    return FeatureDrift(
        feature=feature,
        kind=kind,
        reference_count=counts[0],
        current_count=counts[1],
        psi=found["psi"],
        jensen_shannon=found["jensen_shannon"],
        wasserstein=found.get("wasserstein"),
        ks_statistic=found.get("ks_statistic"),
        ks_pvalue=found.get("ks_pvalue"),
        chi2_statistic=found.get("chi2_statistic"),
        chi2_pvalue=found.get("chi2_pvalue"),
        decided_by=by,
        value=value,
        threshold=threshold,
        drifted=bool(drifted),
        share_error=found.get("share_error", 0.0),
    )


def _empty(kind: Family) -> dict[str, float]:
    """An empty side: nothing to compare, every statistic of the kind NaN."""
    names = ["psi", "jensen_shannon"]
    names += ["wasserstein", "ks_statistic", "ks_pvalue"] if kind == "numeric" else []
    names += ["chi2_statistic", "chi2_pvalue"] if kind == "categorical" else []
    return dict.fromkeys(names, math.nan)


# --- numeric -----------------------------------------------------------------------------------


def _sketch_std(sketch: QuantileSketch) -> float | None:
    """Sample standard deviation (ddof=1) of the sketch's weighted points; exact when the
    sketch is, slightly low otherwise (each block of values stands at its median)."""
    values, weights = sketch.values, sketch.weights.astype(np.float64)
    if sketch.n < 2 or not np.isfinite(values).all():
        return None
    with np.errstate(over="ignore", invalid="ignore"):
        mean = float(np.sum(values * weights)) / sketch.n
        variance = float(np.sum(weights * (values - mean) ** 2)) / (sketch.n - 1)
    return math.sqrt(variance) if math.isfinite(variance) else None


def _numeric(
    reference: QuantileSketch, current: QuantileSketch, reference_std: float | None
) -> dict[str, float]:
    cuts = sketch_edges(reference)
    expected, actual = sketch_shares(reference, cuts), sketch_shares(current, cuts)

    points = np.union1d(reference.values, current.values)  # both CDFs step only here
    gaps = np.abs(reference.cdf(points) - current.cdf(points))
    ks = float(gaps.max())
    # W1 = ∫|F_ref − F_cur| dx (= ∫|Q_ref − Q_cur| dp), exact between step functions; the
    # mask skips equal stretches, which may be infinitely wide when a sketch holds ±inf
    moving = gaps[:-1] > 0
    distance = float(np.sum(gaps[:-1][moving] * np.diff(points)[moving]))
    if reference_std is not None and math.isfinite(reference_std) and reference_std > 0:
        wasserstein = distance / reference_std
    else:
        wasserstein = 0.0 if distance == 0 else math.inf
    return {
        "psi": psi(expected, actual),
        "psi_noise": psi_noise(expected, reference.n, current.n),
        "jensen_shannon": _js_distance(expected, actual),
        "wasserstein": wasserstein,
        "ks_statistic": ks,
        "ks_pvalue": ks_pvalue(ks, reference.n, current.n),
        "share_error": max(reference.rank_error / reference.n, current.rank_error / current.n),
    }


def sketch_drift(
    name: str,
    reference: QuantileSketch,
    current: QuantileSketch,
    policy: Drift,
    *,
    reference_std: float | None = None,
) -> FeatureDrift:
    """Numeric drift of ``current`` against ``reference``, from their sketches alone.

    Used for numeric features (by :func:`column_drift`) and for prediction scores.

    - PSI and Jensen–Shannon on 10 bins cut at the reference's deciles (fewer when values tie;
      bins include their upper cut), with each side's shares read off its sketch's CDF.
    - KS: the largest CDF gap over both sketches' points (the CDFs step only there), so it is
      exact for exact sketches and within ``e_ref + e_cur`` of the raw samples' otherwise. Its
      p-value is SciPy's asymptotic two-sided one (``kstwo``; the limiting distribution above
      an effective size of :data:`~loopml.stats.significance.KS_EXACT_LIMIT`, see there) with
      the sketches' counts.
    - Wasserstein: W1 integrated exactly between the two sketches' step CDFs — SciPy's
      ``wasserstein_distance`` of the raw samples when the sketches are exact — divided by
      ``reference_std`` (default: the reference sketch's own sample std, exact when the sketch
      is). A reference without spread (std 0, fewer than two values, non-finite values) gives 0
      when the distributions coincide and ``inf`` otherwise: any move of a constant is
      infinitely many of its standard deviations.

    An empty side (``n == 0``) has nothing to compare: every statistic is NaN and the verdict
    is "not drifted", still naming the statistic that would have decided.
    """
    counts = (reference.n, current.n)
    if not reference.n or not current.n:
        return _verdict(name, "numeric", counts, _empty("numeric"), policy)
    std = _sketch_std(reference) if reference_std is None else reference_std
    return _verdict(name, "numeric", counts, _numeric(reference, current, std), policy)


# --- categorical -------------------------------------------------------------------------------


def _category_table(
    reference: CategoryCounts, current: CategoryCounts
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Counts per bin: the reference's categories that the current side counts, then "other".

    A current side that kept every category it saw (``freq_error`` 0) counts all of them, its
    absences being true zeros. One that dropped some has no count for a dropped category,
    which is not a zero: such a category goes to "other" on *both* sides, so each side's
    "other" holds the same categories and no bin compares a count with a gap in a sketch."""
    bins = [v for v in reference.counts if not current.freq_error or v in current.counts]
    ref = np.array([reference.counts[v] for v in bins], dtype=np.int64)
    cur = np.array([current.counts.get(v, 0) for v in bins], dtype=np.int64)
    ref = np.append(ref, reference.total - ref.sum())
    cur = np.append(cur, current.total - cur.sum())
    return ref, cur


def category_drift(
    name: str, reference: CategoryCounts, current: CategoryCounts, policy: Drift
) -> FeatureDrift:
    """Categorical drift of ``current`` against ``reference``, from their counts alone.

    Bins are the reference's kept categories plus one "other" bin holding everything else:
    the reference's dropped tail and, on the current side, every category the reference did
    not keep — including categories never seen in training (see :func:`_category_table` for a
    current side that dropped some of the reference's categories). PSI and Jensen–Shannon
    compare the bins' shares; the chi-square test of homogeneity
    (``scipy.stats.chi2_contingency``, with its default Yates correction when two bins remain)
    runs on the 2×K table of counts, bins empty on both sides dropped (with fewer than two
    left, statistic 0 and p-value 1).

    Tolerance: every bin's count is exact on a fresh side, and within its ``freq_error`` on a
    merged one; ``share_error`` states the larger of the two as a share. An empty side gives NaN
    statistics and no drift, as in :func:`sketch_drift`.
    """
    counts = (reference.total, current.total)
    if not reference.total or not current.total:
        return _verdict(name, "categorical", counts, _empty("categorical"), policy)
    ref, cur = _category_table(reference, current)
    expected, actual = ref / ref.sum(), cur / cur.sum()
    chi2, p_value = chi2_homogeneity(ref, cur)
    found = {
        "psi": psi(expected, actual),
        "psi_noise": psi_noise(expected, int(ref.sum()), int(cur.sum())),
        "jensen_shannon": _js_distance(expected, actual),
        "chi2_statistic": chi2,
        "chi2_pvalue": p_value,
        "share_error": max(
            reference.freq_error / reference.total, current.freq_error / current.total
        ),
    }
    return _verdict(name, "categorical", counts, found, policy)


# --- profiles ----------------------------------------------------------------------------------


def _family(column: ColumnProfile) -> Family:
    return "numeric" if column.kind in ("numeric", "datetime") else "categorical"


def _size(column: ColumnProfile) -> int:
    """Values the drift statistics see: non-null (and non-NaN) ones with a summary."""
    if _family(column) == "numeric":
        return column.numeric.sketch.n if column.numeric is not None else 0
    return column.categories.total if column.categories is not None else 0


def column_drift(reference: ColumnProfile, current: ColumnProfile, policy: Drift) -> FeatureDrift:
    """Drift of one column between two profiles (reference: training; current: a window).

    Numbers, dates and times go through :func:`sketch_drift` with the reference's exact
    standard deviation; strings, categories and booleans through :func:`category_drift`. A side
    without values (all null, or a column that is ``Null``-typed in a window) is an empty side:
    NaN statistics, not drifted. Columns of different families with values on both sides raise
    :class:`~loopml.errors.DataError`, as does a categorical column profiled without counts
    (nested or binary data).
    """
    kind = _family(reference)
    name = reference.name
    for side, column in (("reference", reference), ("current", current)):
        if _family(column) == "categorical" and column.categories is None and column.count:
            raise DataError(
                f"cannot compare column '{name}': the {side} profile has no category counts "
                f"for its {column.dtype} values; drift needs numbers, strings or booleans"
            )
    counts = (_size(reference), _size(current))
    if not counts[0] or not counts[1]:
        return _verdict(name, kind, counts, _empty(kind), policy)
    if _family(current) != kind:
        raise DataError(
            f"cannot compare column '{name}': it is {reference.kind} ({reference.dtype}) in the "
            f"reference profile but {current.kind} ({current.dtype}) in the current one; cast "
            "the current data to the training dtype before profiling it"
        )
    if kind == "numeric":
        assert reference.numeric is not None and current.numeric is not None
        return sketch_drift(
            name,
            reference.numeric.sketch,
            current.numeric.sketch,
            policy,
            reference_std=reference.numeric.std,
        )
    assert reference.categories is not None and current.categories is not None
    return category_drift(name, reference.categories, current.categories, policy)


def profile_drift(
    reference: Profile, current: Profile, features: Iterable[str], policy: Drift
) -> list[FeatureDrift]:
    """:func:`column_drift` for each of ``features``, in that order; a feature missing from
    either profile raises :class:`~loopml.errors.DataError` naming the closest column."""
    return [column_drift(reference[name], current[name], policy) for name in features]
