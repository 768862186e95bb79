"""A regression model's expected error before labels: its held-out residuals by predicted value.

NannyML's direct loss estimation (DLE) fits a second model to a regressor's absolute errors, so
that a window's expected MAE and RMSE follow from its inputs alone. :class:`ErrorModel` is the
small, JSON-safe version of that idea: the validation split's predictions are cut into up to
:data:`BINS` bins of equal count (each at least :data:`MIN_BIN` rows), and each bin keeps the
mean absolute and mean squared residual of its rows and the quantiles of their absolute residual
(:data:`LEVELS` of them, the inverse CDF a simulation draws from) and its row count (how well
its means are known: the simulation adds that uncertainty too). A window whose predictions sit
where the model erred more (large predicted delays, say) gets a larger expected error; like
every label-free estimate it cannot see the same inputs coming to mean other targets.

Fitted at registration, stored as lists of numbers in ``meta.json``: nothing pickled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from loopml.errors import DataError
from loopml.stats.calibration import read_dispersion

BINS = 10
MIN_BIN = 30
LEVELS = 65  # quantiles of |residual| per bin: 0, 1/64, …, 1


@dataclass(frozen=True)
class ErrorModel:
    """Per bin of predicted value (``edges``: the inner cut points): the mean |residual|, the
    mean squared residual and the |residual| quantiles at :data:`LEVELS` even levels."""

    edges: tuple[float, ...]
    mean_abs: tuple[float, ...]
    mean_sq: tuple[float, ...]
    quantiles: tuple[tuple[float, ...], ...]
    rows: int
    counts: tuple[int, ...]  # validation rows per bin: how well each bin's means are known
    #: per metric, how much wider than independent rows' the interval must be (>= 1)
    dispersion: dict[str, float] = field(default_factory=dict)

    @classmethod
    def fit(cls, predictions: npt.ArrayLike, targets: npt.ArrayLike) -> ErrorModel | None:
        """The binned residuals of ``predictions`` against ``targets``; ``None`` for fewer than
        :data:`MIN_BIN` finite rows."""
        pred = np.asarray(predictions, dtype=np.float64).reshape(-1)
        y = np.asarray(targets, dtype=np.float64).reshape(-1)
        if pred.shape != y.shape:
            raise DataError(
                f"predictions and targets must have one value per row, got {pred.size} and {y.size}"
            )
        keep = np.isfinite(pred) & np.isfinite(y)
        pred, y = pred[keep], y[keep]
        if pred.size < MIN_BIN:
            return None
        bins = max(1, min(BINS, pred.size // MIN_BIN))
        inner = np.unique(np.quantile(pred, np.linspace(0, 1, bins + 1)[1:-1]))
        which = np.searchsorted(inner, pred, side="right")
        residual = np.abs(y - pred)
        levels = np.linspace(0, 1, LEVELS)
        mean_abs, mean_sq, quantiles, counts = [], [], [], []
        for b in range(inner.size + 1):
            part = residual[which == b]
            if not part.size:  # ties at a cut point can leave a bin empty: use all rows
                part = residual
            counts.append(int(part.size))
            mean_abs.append(float(part.mean()))
            mean_sq.append(float(np.mean(part**2)))
            quantiles.append(tuple(float(q) for q in np.quantile(part, levels)))
        return cls(
            tuple(float(e) for e in inner),
            tuple(mean_abs),
            tuple(mean_sq),
            tuple(quantiles),
            int(pred.size),
            tuple(counts),
        )

    def bin_of(self, predictions: npt.ArrayLike) -> npt.NDArray[np.intp]:
        """Each prediction's bin (values beyond the fitted range fall in the outer bins)."""
        return np.searchsorted(
            np.asarray(self.edges), np.asarray(predictions, dtype=np.float64), side="right"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": "binned_abs_residual",
            "edges": list(self.edges),
            "mean_abs": list(self.mean_abs),
            "mean_sq": list(self.mean_sq),
            "quantiles": [list(q) for q in self.quantiles],
            "rows": self.rows,
            "counts": list(self.counts),
            "dispersion": dict(self.dispersion),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ErrorModel:
        """Read :meth:`to_dict`'s output, checking its shape and that residuals are >= 0."""
        try:
            edges = np.asarray(data["edges"], dtype=np.float64).reshape(-1)
            mean_abs = np.asarray(data["mean_abs"], dtype=np.float64)
            mean_sq = np.asarray(data["mean_sq"], dtype=np.float64)
            quantiles = np.asarray(data["quantiles"], dtype=np.float64)
            rows = int(data.get("rows", 0))
            counts = np.asarray(data["counts"], dtype=np.int64).reshape(-1)
        except (KeyError, TypeError, ValueError) as exc:
            raise _bad(f"it is not a map of number lists ({exc})") from exc
        bins = edges.size + 1
        if counts.shape != (bins,) or (counts < 1).any():
            raise _bad(f"{bins} bins need {bins} row counts of at least 1, got {counts.tolist()}")
        if (
            mean_abs.shape != (bins,)
            or mean_sq.shape != (bins,)
            or quantiles.shape != (bins, LEVELS)
        ):
            raise _bad(
                f"{edges.size} cut points need {bins} bins of {LEVELS} quantiles, got "
                f"{mean_abs.shape}, {mean_sq.shape} and {quantiles.shape}"
            )
        values = np.concatenate([edges, mean_abs, mean_sq, quantiles.reshape(-1)])
        if not np.isfinite(values).all():
            raise _bad("it holds a non-finite value")
        if (np.diff(edges) < 0).any() or (np.diff(quantiles, axis=1) < 0).any():
            raise _bad("its cut points or quantiles decrease")
        if (quantiles < 0).any() or (mean_abs < 0).any() or (mean_sq < 0).any():
            raise _bad("an absolute or squared residual is negative")
        return cls(
            tuple(edges.tolist()),
            tuple(mean_abs.tolist()),
            tuple(mean_sq.tolist()),
            tuple(tuple(q) for q in quantiles.tolist()),
            rows,
            tuple(counts.tolist()),
            read_dispersion(data, _bad),
        )


def _bad(problem: str) -> DataError:
    return DataError(
        f"the package's error model cannot be used: {problem}; expected the binned residuals "
        "registration writes; re-register the model from its run"
    )
