"""The data report: the computed object, and the page in a real headless Chromium."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from loopml.data.profiling import profile_frame
from loopml.reports.data_report import build_data_report, write_html


@pytest.fixture(scope="module")
def report_inputs(flights: pl.DataFrame) -> list[tuple[str, object]]:
    q1 = flights.filter(pl.col("month") <= 3)
    july = flights.filter(pl.col("month") == 7)
    return [("Jan–Mar", profile_frame(q1)), ("July", profile_frame(july))]


def test_report_object_shows_the_summer_shift(report_inputs: list) -> None:
    report = build_data_report(report_inputs)  # type: ignore[arg-type]
    assert report.labels == ["Jan–Mar", "July"]
    charts = {chart.column: chart for chart in report.charts}
    temp = charts["temp"]
    assert temp.chart == "histogram" and len(temp.series) == 2
    winter, summer = temp.series
    assert sum(winter.share) == pytest.approx(1, abs=1e-4)
    assert sum(summer.share) == pytest.approx(1, abs=1e-4)

    def mean(series: object) -> float:
        return sum(x * s for x, s in zip(series.x, series.share, strict=True))  # type: ignore[attr-defined]

    assert mean(summer) > mean(winter) + 20  # °F: July is far warmer than January–March
    carrier = charts["carrier"]
    assert carrier.chart == "bar" and "UA" in carrier.series[0].x
    assert charts["scheduled_departure"].chart == "histogram"
    assert report.missing["plane_year"][0] > 0.1  # planes missing from the registry


def test_compare_leads_with_a_per_column_drift_table(report_inputs: list) -> None:
    report = build_data_report(report_inputs)  # type: ignore[arg-type]
    rows = {row["column"]: row for row in report.drift}
    assert set(rows) == {chart.column for chart in report.charts}
    temp = rows["temp"]
    assert temp["drifted"] and temp["statistic"] == "PSI" and temp["threshold"] == 0.2
    assert temp["value"] > temp["threshold"] and temp["psi"] >= temp["value"]
    low, high = (float(x) for x in temp["effect"].removeprefix("median ").split(" → "))
    assert high > low + 20  # °F, in the column's units
    flags = [bool(row["drifted"]) for row in report.drift]
    assert flags == sorted(flags, reverse=True)  # drifted columns first
    assert build_data_report(report_inputs[:1]).drift == []  # one profile: nothing to compare


def test_report_renders_every_chart_offline(
    report_inputs: list, browser: object, tmp_path: Path
) -> None:
    report = build_data_report(report_inputs)  # type: ignore[arg-type]
    path = write_html(report, tmp_path / "report.html")
    page = browser.new_page()  # type: ignore[attr-defined]
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.as_uri())
    page.wait_for_function(
        f"document.querySelectorAll('.js-plotly-plot').length === {len(report.charts) + 1}",
        timeout=30_000,
    )
    assert not problems
    assert all(url.startswith("file://") for url in requests)  # nothing fetched from a network
    bars = page.locator("#chart-0 .bars path").count() + page.locator("#chart-0 .point").count()
    assert bars > 0
    summaries = page.locator("table:not(#drift-table) tbody tr")
    assert summaries.count() == 2 * len(report.charts)
    assert page.locator("#drift-table tbody tr").count() == len(report.drift)
    page.close()
