"""Slices: metrics per spec slice, and the search for the worst slices of the held-out data.

**Bins.** A column becomes integer bin codes (:func:`bin_column`), each code with the conditions
that select it (``[column, op, value]``, ops ``==``, ``not in``, ``<``, ``<=``, ``>``, ``>=``,
``is missing``) and a readable label:

- categorical (and boolean) columns: the 20 most frequent values, then "any other value" (``not
  in`` the top 20), then missing;
- numeric and datetime columns: a numeric column with at most 8 distinct values by value;
  otherwise quartile bins (or the spec slice's ``bins``), right-closed (``x <= q1``,
  ``q1 < x <= q2`` …) so a point mass at the minimum (e.g. ``precip == 0``) gets its own bin;
  left-closed when that leaves a single non-empty bin (a point mass at the maximum); then missing
  (null or NaN).

**Scoring.** Slices are scored by the primary metric (R² as RMSE; see
:mod:`loopml.modeling.groups`), exactly as on the whole test set. ``gap`` is how much *worse* a
slice is than the whole test set, in the metric's units (positive = worse, whichever direction
is better). A slice where the metric is undefined — ROC/PR AUC, recall, F1 or balanced accuracy
on a slice lacking a class, precision where nothing is flagged — is not ranked: it is skipped,
never scored by a different measure, because gaps of different measures do not compare.

**Search** (:func:`worst_slices`): every single condition and every pair of conditions on two
different columns with at least ``min_support`` rows. One ``bincount`` pass per column and per
column pair scores all their bins at once (25 columns: 325 passes, well under a second on 20,000
rows). Two guards against noise, measured on flights with one carrier's labels flipped — without
them that carrier ranked 25th, behind pairs of ~100 rows whose gaps were sampling noise (the
largest of ~10,000 noisy gaps is ~4 standard errors):

- a pair is reported only when it is worse than each of its single parents by more than
  ``PAIR_MARGIN_SE`` (3) of its standard errors; otherwise it restates its parent (each parent
  has ~100 refinements, and one of them is 2-3 standard errors worse by chance alone);
- slices are ranked by the gap shrunk towards zero by its noise (empirical Bayes:
  ``adjusted_gap = gap · τ² / (τ² + se²)``, with τ² the variance of the true gaps estimated from
  every scored candidate), so a 90-row slice must be much worse to outrank a 900-row one. The raw
  ``gap`` and ``se`` are reported beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import polars as pl

from loopml.errors import unknown_column
from loopml.modeling.groups import GroupScorer, Scores

TOP_LEVELS = 20
QUANTILES = (0.25, 0.5, 0.75)
DISCRETE_MAX = 8
TOP_SLICES = 10
#: how many standard errors a pair must be worse than each parent by (see the module doc)
PAIR_MARGIN_SE = 3.0

Condition = list[Any]  # [column, op, value]


@dataclass(frozen=True)
class Bins:
    """A column's rows as bin codes ``0 … len(labels)-1``; per code its conditions and label."""

    column: str
    codes: np.ndarray
    conditions: list[list[Condition]]
    labels: list[str]

    @property
    def n(self) -> int:
        return len(self.labels)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return repr(value) if isinstance(value, str) else str(value)


def _categorical(column: str, series: pl.Series) -> Bins:
    text = series.cast(pl.String)
    counts = text.drop_nulls().value_counts(name="n").sort(["n", column], descending=[True, False])
    levels: list[str] = counts[column].head(TOP_LEVELS).to_list()
    other, missing = len(levels), len(levels) + 1
    coded = text.replace_strict(levels, list(range(other)), default=other, return_dtype=pl.Int64)
    codes = coded.set(text.is_null(), missing).to_numpy()
    conditions: list[list[Condition]] = [[[column, "==", level]] for level in levels]
    labels = [f"{column} == {_fmt(level)}" for level in levels]
    conditions += [[[column, "not in", levels]], [[column, "is missing", None]]]
    labels += [f"{column} is another value (not in its top {other})", f"{column} is missing"]
    return Bins(column, codes, conditions, labels)


def _numbers(series: pl.Series) -> tuple[np.ndarray, bool]:
    """Values as float64 with NaN where missing, and whether they are datetimes (µs)."""
    dtype = series.dtype
    if dtype.is_temporal():
        if dtype == pl.Date:
            series = series.cast(pl.Datetime("us"))
        elif isinstance(dtype, pl.Datetime):
            series = series.dt.cast_time_unit("us")
            if dtype.time_zone is not None:  # compare instants in UTC, as the features do
                series = series.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        return series.to_physical().cast(pl.Float64).fill_null(np.nan).to_numpy(), True
    numbers = series.cast(pl.Float64, strict=False).fill_null(np.nan).to_numpy()
    return np.where(np.isfinite(numbers), numbers, np.nan), False


def _shown(value: float, temporal: bool) -> Any:
    """A bin edge as it appears in conditions: ISO text for datetimes, else a float."""
    if not temporal:
        return float(value)
    moment = pl.Series([int(value)]).cast(pl.Datetime("us")).item()
    return str(moment.isoformat(sep=" "))


def _numeric(column: str, series: pl.Series, edges: list[float] | None) -> Bins:
    x, temporal = _numbers(series)
    finite = x[~np.isnan(x)]
    distinct = np.unique(finite)
    conditions: list[list[Condition]] = []
    labels: list[str] = []
    codes = np.zeros(len(x), dtype=np.int64)
    if edges is None and len(distinct) <= DISCRETE_MAX:
        codes[~np.isnan(x)] = np.searchsorted(distinct, finite)
        for value in distinct:
            shown = _shown(value, temporal)
            conditions.append([[column, "==", shown]])
            labels.append(f"{column} == {_fmt(shown)}")
    else:
        given = edges is not None
        cuts = np.unique(
            np.asarray(edges, dtype=float) if given else np.quantile(finite, QUANTILES)
        )
        bin_of = np.searchsorted(cuts, finite, side="left")  # right-closed: lo < x <= hi
        low, high = ">", "<="
        if not given and len(np.unique(bin_of)) < 2:  # a point mass at the maximum
            bin_of, low, high = np.searchsorted(cuts, finite, side="right"), ">=", "<"
        codes[~np.isnan(x)] = bin_of
        shown = [_shown(c, temporal) for c in cuts]
        for i in range(len(cuts) + 1):
            parts = [[column, low, shown[i - 1]]] if i > 0 else []
            parts += [[column, high, shown[i]]] if i < len(cuts) else []
            conditions.append(parts)
            if len(parts) == 2:
                flipped = "<" if low == ">" else "<="
                labels.append(f"{_fmt(shown[i - 1])} {flipped} {column} {high} {_fmt(shown[i])}")
            else:
                labels.append(f"{column} {parts[0][1]} {_fmt(parts[0][2])}")
    codes[np.isnan(x)] = len(labels)
    conditions.append([[column, "is missing", None]])
    labels.append(f"{column} is missing")
    return Bins(column, codes, conditions, labels)


def bin_column(
    frame: pl.DataFrame, column: str, *, kind: str | None = None, edges: list[float] | None = None
) -> Bins:
    """Bins of ``frame[column]``; ``kind`` ("categorical", "numeric", "datetime") or by dtype."""
    if column not in frame.columns:
        raise unknown_column(column, frame.columns, where="the evaluation frame")
    series = frame[column]
    if kind is None:
        numeric = series.dtype.is_numeric() or series.dtype.is_temporal()
        kind = "numeric" if numeric and series.dtype != pl.Boolean else "categorical"
    if kind == "categorical":
        return _categorical(column, series)
    return _numeric(column, series, edges)


def slice_mask(frame: pl.DataFrame, conditions: list[Condition]) -> np.ndarray:
    """The rows of ``frame`` meeting every ``[column, op, value]`` condition (as bins make them)."""
    mask = np.ones(frame.height, dtype=bool)
    for column, op, value in conditions:
        if column not in frame.columns:
            raise unknown_column(column, frame.columns, where="the frame")
        series = frame[column]
        numeric = (series.dtype.is_numeric() or series.dtype.is_temporal()) and (
            series.dtype != pl.Boolean
        )
        if op == "is missing":
            hit = np.isnan(_numbers(series)[0]) if numeric else series.is_null().to_numpy()
        elif op == "not in" or (
            op == "==" and isinstance(value, str) and not series.dtype.is_temporal()
        ):
            text = series.cast(pl.String)
            if op == "==":
                hit = (text == str(value)).fill_null(False).to_numpy()
            else:
                hit = (~text.is_in([str(v) for v in value])).fill_null(False).to_numpy()
        else:
            x, temporal = _numbers(series)
            edge = _edge(value) if temporal else float(value)
            with np.errstate(invalid="ignore"):
                hit = {
                    "==": x == edge, "<": x < edge, "<=": x <= edge, ">": x > edge, ">=": x >= edge
                }[op]  # fmt: skip
        mask &= hit
    return mask


def _edge(value: Any) -> float:
    """A datetime condition's ISO value as float microseconds, like :func:`_numbers`."""
    return float(pl.Series([str(value)]).str.to_datetime(time_unit="us").to_physical()[0])


def _gap(scorer: GroupScorer, value: np.ndarray, overall: float) -> np.ndarray:
    return overall - value if scorer.greater_is_better else value - overall


def spec_slices(
    frame: pl.DataFrame,
    scorer: GroupScorer,
    slices: list[Any],
    overall: float,
    kinds: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Every value (or bin) of each spec slice: rows, metric (None if undefined) and gap.

    ``kinds`` maps feature columns to their kind, so a numeric column the spec lists as
    categorical is sliced by value; other columns go by their dtype.
    """
    out: list[dict[str, Any]] = []
    for piece in slices:
        kind = (kinds or {}).get(piece.column)
        kind = None if kind == "text" or piece.bins is not None else kind
        bins = bin_column(frame, piece.column, kind=kind, edges=piece.bins)
        scores = scorer.score(bins.codes, bins.n)
        gap = _gap(scorer, scores.value, overall)
        for code in np.flatnonzero(scores.rows):
            defined = bool(np.isfinite(scores.value[code]))
            out.append(
                {
                    "slice": piece.name,
                    "column": piece.column,
                    "value": bins.labels[code],
                    "count": int(scores.rows[code]),
                    "metric": float(scores.value[code]) if defined else None,
                    "gap": float(gap[code]) if defined else None,
                    "se": float(scores.se[code]) if defined else None,
                }
            )
    return out


def _found(
    parts: list[tuple[Bins, int]], scores: Scores, code: int, overall: float, gap: float
) -> dict[str, Any]:
    return {
        "description": " and ".join(bins.labels[c] for bins, c in parts),
        "conditions": [cond for bins, c in parts for cond in bins.conditions[c]],
        "count": int(scores.rows[code]),
        "metric": float(scores.value[code]),
        "overall": overall,
        "gap": gap,
        "se": float(scores.se[code]),
    }


def worst_slices(
    bins: list[Bins],
    scorer: GroupScorer,
    overall: float,
    *,
    min_support: int,
    top: int = TOP_SLICES,
) -> list[dict[str, Any]]:
    """The ``top`` slices (single conditions and pairs) furthest below ``overall``, worst first.

    Ranked by the gap shrunk for noise (``adjusted_gap``, see the module docstring).
    """
    single_gaps: list[np.ndarray] = []
    found: list[dict[str, Any]] = []
    spread = np.zeros(3)  # count, sum of gap², sum of se² over every scored candidate

    def keep(parts: list[tuple[Bins, int]], scores: Scores, code: int, gap: float) -> None:
        found.append(_found(parts, scores, code, overall, gap))

    for b in bins:
        scores = scorer.score(b.codes, b.n, min_count=min_support)
        gap = _gap(scorer, scores.value, overall)
        single_gaps.append(gap)
        spread += _spread(gap, scores.se)
        for code in np.flatnonzero(np.isfinite(gap) & (gap > 0)):
            keep([(b, int(code))], scores, int(code), float(gap[code]))
    for (i, a), (j, b) in combinations(enumerate(bins), 2):
        scores = scorer.score(a.codes * b.n + b.codes, a.n * b.n, min_count=min_support)
        gap = _gap(scorer, scores.value, overall)
        spread += _spread(gap, scores.se)
        cells = np.arange(a.n * b.n)
        parents = np.fmax(single_gaps[i][cells // b.n], single_gaps[j][cells % b.n])
        margin = PAIR_MARGIN_SE * np.nan_to_num(scores.se)
        worse = np.isfinite(gap) & (gap > 0) & (gap > parents + margin)
        for code in np.flatnonzero(worse):
            parts = [(a, int(code // b.n)), (b, int(code % b.n))]
            keep(parts, scores, int(code), float(gap[code]))
    count, gap2, se2 = spread
    tau2 = max((gap2 - se2) / count, 1e-12) if count else 1e-12  # variance of the true gaps
    for item in found:
        item["adjusted_gap"] = item["gap"] * tau2 / (tau2 + item["se"] ** 2)
    found.sort(key=lambda item: -item["adjusted_gap"])  # stable: singles before pairs on ties
    return found[:top]


def _spread(gap: np.ndarray, se: np.ndarray) -> np.ndarray:
    defined = np.isfinite(gap) & np.isfinite(se)
    return np.array([defined.sum(), (gap[defined] ** 2).sum(), (se[defined] ** 2).sum()])
