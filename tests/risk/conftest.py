"""The generated company's silver tables, read with pandas: the independent side of the risk tests."""

from __future__ import annotations

import pandas as pd
import pytest


@pytest.fixture(scope="session")
def silver(demo_lake):
    """A function: silver table ``name`` of the demo lake as a DataFrame (read once each)."""
    cache: dict[str, pd.DataFrame] = {}

    def read(name: str) -> pd.DataFrame:
        if name not in cache:
            cache[name] = pd.read_parquet(demo_lake.silver_table(name))
        return cache[name]

    return read


@pytest.fixture(scope="session")
def as_of(demo_lake):
    import duckdb

    with duckdb.connect(str(demo_lake.gold), read_only=True) as con:
        return con.execute("SELECT as_of FROM build_params").fetchone()[0]
