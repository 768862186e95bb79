"""An incident's title names every feature count and the statistic's range, whatever crossed."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from loopml.monitoring.incidents import SHOWN, title

names = st.lists(
    st.from_regex(r"[a-z][a-z_]{0,11}", fullmatch=True).filter(lambda n: n != "prediction"),
    min_size=1,
    max_size=12,
    unique=True,
)


def _member(feature: str, value: float) -> dict[str, Any]:
    return {"feature": feature, "statistic": "PSI", "value": value, "text": f"{feature}: PSI"}


@given(names, st.lists(st.floats(0.21, 50.0), min_size=12, max_size=12), st.booleans())
def test_the_title_counts_names_and_spans_the_statistic(
    features: list[str], values: list[float], prediction: bool
) -> None:
    members = [_member(f, v) for f, v in zip(features, values, strict=False)]
    if prediction:
        members.insert(0, _member("prediction", 0.3))
    line = title("drift", members)
    plural = "s" if len(features) != 1 else ""
    assert f"{len(features)} feature{plural}: {', '.join(features[:SHOWN])}" in line
    assert ("..." in line) == (len(features) > SHOWN)
    assert line.startswith("drift on the predictions and " if prediction else "drift on ")
    low, high = min(m["value"] for m in members), max(m["value"] for m in members)
    span = f"{low:.2g}–{high:.2g}" if low != high else f"{low:.3g}"  # the range, or the one value
    assert line.endswith(f" PSI {span}"), line


def test_a_single_metric_reads_as_its_own_line() -> None:
    member = {"feature": None, "statistic": "error_rate", "value": 0.03, "text": "error_rate 0.03"}
    assert title("error_rate", [member]) == "error_rate 0.03"
