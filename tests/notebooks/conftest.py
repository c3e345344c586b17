"""Every notebook test records into an operational store of its own, never into the repo's reports/."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def ops_store(tmp_path, monkeypatch):
    """``$QUANT_OPS_DB`` in the test's tmp folder (kernels copy the environment); returns the path."""
    path = tmp_path / "ops.sqlite"
    monkeypatch.setenv("QUANT_OPS_DB", str(path))
    monkeypatch.delenv("QUANT_OPS_DSN", raising=False)
    return path
