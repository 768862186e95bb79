"""One metric for many groups of rows at once: the engine under slice metrics and worst slices.

:class:`GroupScorer` turns a task's labels and model outputs into per-row statistics once, then
scores any grouping of the rows (integer group codes, e.g. bin codes of one or two columns) with
a handful of ``np.bincount`` calls — no Python loop over rows or groups. Every metric is exact,
equal to :func:`loopml.modeling.metrics.compute` on the group's rows (tests check it):

- counting metrics (accuracy, precision, recall, F1, balanced accuracy; macro F1 and balanced
  accuracy for multiclass) from per-group sums of weighted confusion counts;
- averages of a per-row loss (log loss, MAE) and RMSE from per-group sums;
- ranking metrics (ROC AUC, average precision; multiclass ROC AUC as the macro one-vs-rest mean)
  from one global sort by score: rows are stably re-sorted by group code, so within a group they
  stay in score order, and tied scores are pooled into runs, as scikit-learn does.

A metric that is undefined on a group is NaN: ranking metrics, recall, F1 and balanced accuracy
on a group lacking a class (binary: positives or negatives; multiclass AUC: any class), and
precision on a group where nothing is flagged.

R² is not scored per group: its denominator is the group's own target variance, so a homogeneous
group looks bad even when its errors are small. :func:`group_metric` maps it to RMSE.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from loopml.modeling import metrics as M
from loopml.spec import Task

RANKING = frozenset({"roc_auc", "pr_auc"})


def group_metric(task: Task, primary: str) -> str:
    """The metric groups are scored by: the primary metric, except R² (scored as RMSE)."""
    return "rmse" if primary == "r2" else primary


def _divide(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.full(a.shape, np.nan)
    np.divide(a, b, out=out, where=b > 0)
    return out


def _share(
    part: np.ndarray, whole: np.ndarray, trials: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``part / whole`` and its binomial standard error over ``trials`` (default ``whole``)."""
    share = _divide(part, whole)
    n = whole if trials is None else trials
    return share, np.sqrt(np.maximum(_divide(share * (1 - share), n), 0))


def _mean_defined(values: np.ndarray, ses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means over the finite entries (NaN where a column has none), and their se."""
    defined = np.isfinite(values)
    count = defined.sum(axis=0).astype(float)
    mean = _divide(np.where(defined, values, 0.0).sum(axis=0), count)
    return mean, _divide(np.sqrt(np.where(defined, ses**2, 0.0).sum(axis=0)), count)


class GroupScorer:
    """Score ``metric`` on groups of rows given by integer codes (see the module docstring).

    ``output`` is the model's output (probabilities ``(n, k)`` or values ``(n,)``) and
    ``threshold`` the binary decision threshold (0.5 when None).
    """

    def __init__(
        self,
        task: Task,
        metric: str,
        y: np.ndarray,
        output: np.ndarray,
        *,
        threshold: float | None = None,
        weight: np.ndarray | None = None,
    ) -> None:
        self.task, self.metric = task, metric
        self.greater_is_better = M.greater_is_better(metric)
        n = len(y)
        self.w = np.ones(n) if weight is None else np.asarray(weight, dtype=float)
        self.stats: dict[str, np.ndarray] = {}
        self._ranked: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        if task == "regression":
            self._regression(np.asarray(y, dtype=float), np.asarray(output, dtype=float))
        elif task == "binary":
            score = output[:, 1] if output.ndim == 2 else output
            self._binary(np.asarray(y), score, 0.5 if threshold is None else threshold)
        else:
            self._multiclass(np.asarray(y), np.asarray(output, dtype=float))

    # -- per-row statistics ------------------------------------------------------------------

    def _regression(self, y: np.ndarray, pred: np.ndarray) -> None:
        if self.metric not in ("rmse", "mae"):
            raise ValueError(f"cannot score groups by {self.metric!r} for a regression task")
        error = y - pred
        self._loss(error**2 if self.metric == "rmse" else np.abs(error))

    def _loss(self, loss: np.ndarray) -> None:
        """A per-row loss (or hit) whose weighted mean is the metric; squares for its spread."""
        self.stats.update(loss=self.w * loss, loss2=self.w * loss**2)

    def _binary(self, y: np.ndarray, score: np.ndarray, threshold: float) -> None:
        w, positive = self.w, (y == 1)
        if self.metric in RANKING:
            self._rank(score, w * positive, w * ~positive)
            return
        decided = score >= threshold
        if self.metric == "accuracy":
            self._loss((positive == decided).astype(float))
        elif self.metric == "log_loss":
            p = np.clip(score, 1e-15, 1 - 1e-15)
            self._loss(-np.where(positive, np.log(p), np.log1p(-p)))
        else:
            self.stats.update(tp=w * (positive & decided), pos=w * positive, flagged=w * decided)

    def _multiclass(self, y: np.ndarray, proba: np.ndarray) -> None:
        w, k = self.w, proba.shape[1]
        self.n_classes = k
        if self.metric == "roc_auc":
            for c in range(k):
                self._rank(proba[:, c], w * (y == c), w * (y != c))
            return
        decided = proba.argmax(axis=1)
        if self.metric == "accuracy":
            self._loss((y == decided).astype(float))
        elif self.metric == "log_loss":
            eps = np.finfo(float).eps  # as scikit-learn clips
            self._loss(-np.log(np.clip(proba[np.arange(len(y)), y], eps, 1 - eps)))
        else:
            for c in range(k):
                self.stats[f"tp{c}"] = w * ((y == c) & (decided == c))
                self.stats[f"pos{c}"] = w * (y == c)
                self.stats[f"flagged{c}"] = w * (decided == c)

    def _rank(self, score: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> None:
        _, tie = np.unique(score, return_inverse=True)
        order = np.argsort(tie, kind="stable")
        self._ranked.append((order, tie, pos, neg))

    # -- scoring -----------------------------------------------------------------------------

    def score(self, codes: np.ndarray, n_groups: int, *, min_count: int = 1) -> Scores:
        """Rows, metric and standard error per group code ``0 … n_groups-1``.

        Groups with fewer than ``min_count`` rows are not scored (NaN): their statistics are
        not even computed, which is what makes scanning thousands of column pairs cheap.
        """
        codes = np.asarray(codes, dtype=np.int64)
        rows = np.bincount(codes, minlength=n_groups)
        active = rows >= max(min_count, 1)
        value, se = np.full(n_groups, np.nan), np.full(n_groups, np.nan)
        if active.any():
            if self._ranked:
                value, se = self._ranking(codes, n_groups, active)
            else:
                sums = {
                    name: np.bincount(codes, weights=stat, minlength=n_groups)
                    for name, stat in self.stats.items()
                }
                sums["w"] = np.bincount(codes, weights=self.w, minlength=n_groups)
                value, se = self._finish(sums, rows)
            value[~active] = np.nan
            se[~active] = np.nan
        return Scores(rows, value, se)

    def _finish(self, s: dict[str, np.ndarray], rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        metric, w = self.metric, s["w"]
        if "loss" in s:  # a weighted mean of a per-row loss (or hit); RMSE is its square root
            mean = _divide(s["loss"], w)
            spread = np.sqrt(np.maximum(_divide(s["loss2"], w) - mean**2, 0) / np.maximum(rows, 1))
            if metric == "rmse":
                root = np.sqrt(mean)
                return root, _divide(spread, 2 * root)
            return mean, spread
        if self.task == "binary":
            tp, pos, flagged = s["tp"], s["pos"], s["flagged"]
            neg, tn = w - pos, w - pos - flagged + tp
            if metric == "precision":
                return _share(tp, flagged)
            if metric == "recall":
                return _share(tp, pos)
            if metric == "f1":  # 2·tp / (pos + flagged): a share of (pos + flagged) / 2
                f1, se = _share(2 * tp, pos + flagged, (pos + flagged) / 2)
                return np.where(pos > 0, f1, np.nan), se
            if metric == "balanced_accuracy":
                (r1, s1), (r0, s0) = _share(tp, pos), _share(tn, neg)
                return (r1 + r0) / 2, np.sqrt(s1**2 + s0**2) / 2
        else:
            k = self.n_classes
            tp = np.stack([s[f"tp{c}"] for c in range(k)])
            pos = np.stack([s[f"pos{c}"] for c in range(k)])
            flagged = np.stack([s[f"flagged{c}"] for c in range(k)])
            if metric == "f1":  # macro over the classes present in y or in the decisions
                return _mean_defined(*_share(2 * tp, pos + flagged, (pos + flagged) / 2))
            if metric == "balanced_accuracy":  # mean recall over the classes present in y
                return _mean_defined(*_share(tp, pos))
        raise ValueError(f"cannot score groups by {metric!r} for a {self.task} task")

    def _ranking(
        self, codes: np.ndarray, n_groups: int, active: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        scored = [self._ranked_one(codes, n_groups, active, *ranked) for ranked in self._ranked]
        if len(scored) == 1:
            return scored[0]
        values = np.stack([v for v, _ in scored])  # macro one-vs-rest: NaN if any class is
        ses = np.stack([e for _, e in scored])
        return values.mean(axis=0), np.sqrt((ses**2).sum(axis=0)) / len(scored)

    def _ranked_one(
        self,
        codes: np.ndarray,
        n_groups: int,
        active: np.ndarray,
        order: np.ndarray,
        tie: np.ndarray,
        pos: np.ndarray,
        neg: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        rows = order[active[codes[order]]]  # active rows, ascending score
        rows = rows[np.argsort(codes[rows], kind="stable")]  # by group, still by score within
        g, t = codes[rows], tie[rows]
        starts = np.flatnonzero(np.r_[True, (g[1:] != g[:-1]) | (t[1:] != t[:-1])])
        run_group = g[starts]  # a run: the rows of one group sharing one score
        p = np.add.reduceat(pos[rows], starts)
        q = np.add.reduceat(neg[rows], starts)
        P = np.bincount(run_group, weights=p, minlength=n_groups)
        Q = np.bincount(run_group, weights=q, minlength=n_groups)
        first = np.r_[True, run_group[1:] != run_group[:-1]]
        group_of_run = np.cumsum(first) - 1

        def below(x: np.ndarray) -> np.ndarray:  # sums over the group's lower-score runs
            total = np.cumsum(x) - x
            return total - total[first][group_of_run]

        defined = (P > 0) & (Q > 0)
        if self.metric == "pr_auc":  # precision at each distinct threshold, scores descending
            hits = P[run_group] - below(p)
            flagged = hits + Q[run_group] - below(q)
            ap = np.bincount(run_group, weights=p * hits / flagged, minlength=n_groups)
            value, se = _share(ap, P)
        else:  # Mann-Whitney U, ties counted half; Hanley & McNeil (1982) standard error
            u = np.bincount(run_group, weights=p * (below(q) + 0.5 * q), minlength=n_groups)
            value = _divide(u, P * Q)
            q1, q2 = value / (2 - value), 2 * value**2 / (1 + value)
            var = value * (1 - value) + (P - 1) * (q1 - value**2) + (Q - 1) * (q2 - value**2)
            se = np.sqrt(np.maximum(_divide(var, P * Q), 0))
        return np.where(defined, value, np.nan), np.where(defined, se, np.nan)


@dataclass(frozen=True)
class Scores:
    """Per group: ``rows`` (row counts), ``value`` (the metric) and ``se`` (its standard error).

    The standard error is the usual large-sample approximation: of a mean for losses and
    accuracy (RMSE by the delta method), of a proportion for precision, recall, F1 and average
    precision, Hanley & McNeil's for ROC AUC; means of several (balanced accuracy, macro F1,
    one-vs-rest AUC) combine them as independent. Weights are treated as frequency counts.
    """

    rows: np.ndarray
    value: np.ndarray
    se: np.ndarray
