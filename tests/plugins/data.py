"""Real data, read once per session: the bundled 2013 NYC flights and a quick sample of it."""

from __future__ import annotations

import polars as pl
import pytest

from loopml import datasets


@pytest.fixture(scope="session")
def flights() -> pl.DataFrame:
    """The bundled 2013 NYC flights table (read once per session)."""
    return datasets.flights()


@pytest.fixture(scope="session")
def flights_sample(flights: pl.DataFrame) -> pl.DataFrame:
    """20,000 January–March flights in time order: real data, small enough for quick tests."""
    q1 = flights.filter(pl.col("month") <= 3)
    return q1.gather_every(q1.height // 20_000 + 1)
