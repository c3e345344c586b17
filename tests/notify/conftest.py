"""Fixtures of the notification tests."""

from __future__ import annotations

import duckdb
import pytest


@pytest.fixture
def gold(demo_lake):
    """A read-only connection to the demo company's gold."""
    con = duckdb.connect(str(demo_lake.gold), read_only=True)
    yield con
    con.close()
