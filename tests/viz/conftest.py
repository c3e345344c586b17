"""Fixtures of the chart tests: a read-only connection to the demo company's gold."""

from __future__ import annotations

import pytest

from quantlib.data.gold import connect_gold


@pytest.fixture(scope="module")
def gold(demo_lake):
    """A read-only DuckDB connection to the demo lake's gold, shared by a test module."""
    con = connect_gold(demo_lake)
    yield con
    con.close()
