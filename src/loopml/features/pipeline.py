"""The feature pipeline: fitted once at training, shipped in the model package, reused at serving.

:class:`FeaturePipeline` turns the spec's features into a float64 matrix for scikit-learn and
LightGBM. The same fitted object encodes a training batch (a Polars DataFrame), one serving
record (a dict decoded from JSON) or a list of records, with bit-identical numbers: a record
gives exactly the row a one-row frame of it gives.

Output column order: for each kind in the order numeric, categorical, datetime, text, the spec's
columns in the spec's order, each as its encoder's block (see the encoder modules for the rules):

- numeric ``x`` → ``x`` [, ``x__missing``]          (:mod:`loopml.features._numeric`)
- categorical ``c`` → ``c`` (an integer code)         (:mod:`loopml.features._categorical`)
- datetime ``t`` → ``t__year`` … [, ``t__missing``]   (:mod:`loopml.features._datetime`)
- text ``d`` → ``d__tfidf_000`` …                     (:mod:`loopml.features._text`)

``categorical_indices_`` lists the code columns, for LightGBM's ``categorical_feature``. Linear
models need those columns one-hot encoded (or dropped) downstream.

Missing values: a batch must hold every input column (a missing column is almost always a bug),
while a record may omit keys — an absent key is a missing value. Extra columns and keys are
ignored.

Persistence: :meth:`FeaturePipeline.to_dict` is plain JSON (``"format": 1``; no pickle, no
code), loaded by :meth:`FeaturePipeline.from_dict`, which also checks the output names against
the stored ones.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from loopml.errors import FeatureError, NotFittedError, did_you_mean
from loopml.features._base import Encoder, FloatBlock, Options
from loopml.features._categorical import CategoricalEncoder
from loopml.features._datetime import DatetimeEncoder
from loopml.features._numeric import NumericEncoder
from loopml.features._text import TextEncoder
from loopml.spec import Features

FORMAT = 1
ENCODERS: dict[str, type[Encoder]] = {
    "numeric": NumericEncoder,
    "categorical": CategoricalEncoder,
    "datetime": DatetimeEncoder,
    "text": TextEncoder,
}


class FeaturePipeline:
    """Spec features → float64 matrix; fit on a training frame, then transform frames or records.

    Parameters
    ----------
    features:
        The spec's features by kind (``Spec.features``).
    max_categories:
        Most levels kept per categorical column (the rest share the "other" code).
    min_category_count:
        Fewest training rows a level needs to get its own code.
    text_features:
        Hashed TF-IDF columns per text column.
    missing_indicator_min:
        Training missing fraction from which a numeric or datetime column gets a
        ``<name>__missing`` indicator column.

    Attributes (after ``fit`` or ``from_dict``)
    -------------------------------------------
    feature_names_:
        Output column names, e.g. ``distance``, ``temp__missing``, ``carrier``,
        ``scheduled_departure__hour``.
    categorical_indices_:
        Output columns holding integer category codes (for LightGBM's ``categorical_feature``).
    categorical_levels_:
        How many training levels each of those columns has (same order).
    input_columns_:
        The raw columns read, in the spec's order by kind.
    n_features_out_:
        ``len(feature_names_)``.
    encoders_:
        One fitted encoder per input column (internal; see the encoder modules).

    A fitted pipeline is never mutated by the transform methods, so one instance may serve
    many threads at once.
    """

    def __init__(
        self,
        features: Features,
        *,
        max_categories: int = 1000,
        min_category_count: int = 1,
        text_features: int = 256,
        missing_indicator_min: float = 0.001,
    ) -> None:
        self.features = features
        self.max_categories = max_categories
        self.min_category_count = min_category_count
        self.text_features = text_features
        self.missing_indicator_min = missing_indicator_min

    def __repr__(self) -> str:
        fitted = f", {len(self.feature_names_)} outputs" if hasattr(self, "encoders_") else ""
        return f"FeaturePipeline({len(self.features.all)} inputs{fitted})"

    # -- fitting -------------------------------------------------------------------------------

    def _options(self) -> Options:
        checks = [
            ("max_categories", self.max_categories, 1),
            ("min_category_count", self.min_category_count, 1),
            ("text_features", self.text_features, 1),
        ]
        for name, value, low in checks:
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise FeatureError(f"{name}: expected an integer >= {low}, got {value!r}")
        share = self.missing_indicator_min
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= 1:
            raise FeatureError(
                f"missing_indicator_min: expected a fraction between 0 and 1, got {share!r}"
            )
        return Options(
            self.max_categories, self.min_category_count, self.text_features, float(share)
        )

    def fit(self, frame: pl.DataFrame, y: np.ndarray | None = None) -> FeaturePipeline:
        """Learn medians, category levels, datetime medians and IDF weights from ``frame``.

        ``y`` is accepted for scikit-learn compatibility and ignored (no target encoding).
        """
        options = self._options()
        if not self.features.all:
            raise FeatureError("expected at least one feature in the spec's features, got none")
        repeated = sorted({c for c in self.features.all if self.features.all.count(c) > 1})
        if repeated:
            raise FeatureError(
                f"columns listed under more than one feature kind: {', '.join(repeated)}; "
                "list each column under one kind in the spec"
            )
        self._check_frame(frame, self.features.all)
        if frame.height == 0:
            raise FeatureError("expected at least one training row to fit on, got an empty frame")
        encoders = [
            ENCODERS[kind].fit(column, frame[column], options)
            for kind in ENCODERS
            for column in getattr(self.features, kind)
        ]
        self._install(encoders)
        return self

    def _install(self, encoders: list[Encoder]) -> None:
        """Set the learned attributes and precompute the record path's plan."""
        names: list[str] = []
        categorical: list[int] = []
        levels: list[int] = []
        plan: list[tuple[str, Any, int]] = []
        blocks: list[tuple[Encoder, int, int]] = []
        for encoder in encoders:
            start = len(names)
            names.extend(encoder.names)
            categorical.extend(start + offset for offset in encoder.categorical_offsets)
            levels.extend(len(getattr(encoder, "levels", ())) for _ in encoder.categorical_offsets)
            blocks.append((encoder, start, len(names)))
            if encoder.scalar:
                plan.append((encoder.column, encoder.encode, start))
        duplicates = sorted(name for name, n in Counter(names).items() if n > 1)
        if duplicates:
            raise FeatureError(
                f"output column names collide: {', '.join(duplicates)}; rename the input "
                "column(s) so that no name equals another's generated '<name>__<part>'"
            )
        self.encoders_ = encoders
        self.feature_names_ = names
        self.categorical_indices_ = categorical
        self.categorical_levels_ = levels
        self.input_columns_ = [encoder.column for encoder in encoders]
        self.n_features_out_ = len(names)
        self._plan = plan
        self._blocks = blocks
        self._vectors = [(enc, start, stop) for enc, start, stop in blocks if not enc.scalar]

    # -- transforming ----------------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "encoders_"):
            raise NotFittedError(
                "this FeaturePipeline is not fitted yet: call fit(training_frame) first, or "
                "load a fitted one with FeaturePipeline.from_dict(...)"
            )

    @staticmethod
    def _check_frame(frame: Any, columns: list[str]) -> None:
        if not isinstance(frame, pl.DataFrame):
            raise FeatureError(
                f"expected a Polars DataFrame, got {type(frame).__name__}; convert pandas "
                "with pl.from_pandas(df), or use transform_record(s) for dicts"
            )
        present = set(frame.columns)
        missing = [c for c in columns if c not in present]
        if missing:
            hints = "".join(f"\n  - '{c}'{did_you_mean(c, frame.columns)}" for c in missing)
            raise FeatureError(
                f"the frame lacks {len(missing)} feature column(s) the pipeline reads:{hints}\n"
                "add them (nulls are fine: missing values are imputed)"
            )

    def transform(self, frame: pl.DataFrame) -> FloatBlock:
        """Encode a frame: ``(frame.height, n_features_out_)`` float64, C-contiguous."""
        self._check_fitted()
        self._check_frame(frame, self.input_columns_)
        out = np.empty((frame.height, self.n_features_out_), dtype=np.float64)
        for encoder, start, stop in self._blocks:
            encoder.transform(frame[encoder.column], out[:, start:stop])
        return out

    def _row(self, record: Mapping[str, Any]) -> list[float]:
        """One record's row, scalar kinds filled in (vector blocks left 0): the serving hot path."""
        if not isinstance(record, Mapping):
            raise FeatureError(
                f"expected a record as a mapping of feature name to value, got "
                f"{type(record).__name__}"
            )
        row = [0.0] * self.n_features_out_
        get = record.get
        for column, encode, at in self._plan:
            encode(get(column), row, at)
        return row

    def transform_record(self, record: Mapping[str, Any]) -> FloatBlock:
        """Encode one record (e.g. a decoded JSON object): ``(1, n_features_out_)`` float64.

        Equal, bit for bit, to ``transform`` of a one-row frame holding the record. A missing
        key is a missing value; unknown keys are ignored.
        """
        self._check_fitted()
        out = np.array([self._row(record)], dtype=np.float64).reshape(1, self.n_features_out_)
        for encoder, start, stop in self._vectors:
            encoder.encode_many([record.get(encoder.column)], out[:, start:stop])
        return out

    def transform_records(self, records: Sequence[Mapping[str, Any]]) -> FloatBlock:
        """Encode many records without building a frame: ``(len(records), n_features_out_)``.

        Row ``i`` equals :meth:`transform_record` of ``records[i]``. An error names the record's
        index.
        """
        self._check_fitted()
        if isinstance(records, Mapping | str | bytes):
            raise FeatureError(
                f"expected a sequence of records, got a {type(records).__name__}; "
                "use transform_record for a single record"
            )
        records = list(records)
        out = np.empty((len(records), self.n_features_out_), dtype=np.float64)
        for i, record in enumerate(records):
            try:
                out[i] = self._row(record)
            except FeatureError as exc:
                raise FeatureError(f"record {i}: {exc}") from exc
        for encoder, start, stop in self._vectors:
            values = [record.get(encoder.column) for record in records]
            encoder.encode_many(values, out[:, start:stop])
        return out

    # -- persistence -------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The fitted pipeline as a JSON-safe dict (``"format": 1``); see :meth:`from_dict`."""
        self._check_fitted()
        return {
            "format": FORMAT,
            "type": "loopml.FeaturePipeline",
            "params": {
                "max_categories": self.max_categories,
                "min_category_count": self.min_category_count,
                "text_features": self.text_features,
                "missing_indicator_min": self.missing_indicator_min,
            },
            "features": self.features.model_dump(mode="json"),
            "encoders": [encoder.to_dict() for encoder in self.encoders_],
            "feature_names": list(self.feature_names_),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeaturePipeline:
        """Load a pipeline saved with :meth:`to_dict`; raises :class:`FeatureError` if malformed."""
        if not isinstance(data, Mapping):
            raise FeatureError(f"expected a feature pipeline document (a dict), got {data!r:.60}")
        version = data.get("format")
        if version != FORMAT:
            raise FeatureError(
                f"expected a feature pipeline document of format {FORMAT}, got format "
                f"{version!r}; load it with the loopml version that saved it, or retrain"
            )
        try:
            pipeline = cls(Features.model_validate(data["features"]), **data["params"])
            encoders = [ENCODERS[item["kind"]].from_dict(item) for item in data["encoders"]]
            stored_names = list(data["feature_names"])
        except (KeyError, TypeError, ValueError) as exc:
            raise FeatureError(f"malformed feature pipeline document: {exc!r}") from exc
        pipeline._options()
        pipeline._install(encoders)
        if pipeline.feature_names_ != stored_names:
            raise FeatureError(
                "the feature pipeline document is inconsistent: its encoders produce "
                f"{len(pipeline.feature_names_)} columns but it lists {len(stored_names)} "
                "feature names (or different ones); the document was edited or is corrupt"
            )
        return pipeline
