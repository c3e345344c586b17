"""Shared fixtures: the two sample companies, generated once per test session."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROFILES = ROOT / "parameters" / "companies"


@pytest.fixture(scope="session")
def mixed_company():
    from quantlib.data.generate import generate_company
    from quantlib.data.profile import load_profile

    return generate_company(load_profile(PROFILES / "mixed_trades.yaml"))


@pytest.fixture(scope="session")
def seasonal_company():
    from quantlib.data.generate import generate_company
    from quantlib.data.profile import load_profile

    return generate_company(load_profile(PROFILES / "seasonal_outdoor.yaml"))


def build_lake(company, root):
    """Write a generated company under ``root``, ingest it and build gold; return the lake."""
    from quantlib.data.generate import write_company
    from quantlib.data.ingest import ingest
    from quantlib.data.lake import Lake
    from quantlib.data.warehouse import build_warehouse

    write_company(company, root / "raw")
    lake = Lake(root / "lake")
    report = ingest(root / "raw", lake)
    assert report.ok and report.rows_rejected == 0
    targets = {k: v * company.scale if k == "monthly_revenue" else v for k, v in company.profile.targets.items()}
    build_warehouse(lake, targets=targets, company=company.profile.name)
    return lake


@pytest.fixture(scope="session")
def demo_lake(tmp_path_factory):
    """A small mixed-trades company, generated, ingested and built into gold once per session.

    Returns the lake (``quantlib.data.lake.Lake``); ``lake.gold`` is the DuckDB file.
    """
    from quantlib.data.generate import generate_company
    from quantlib.data.profile import load_profile

    company = generate_company(load_profile(PROFILES / "mixed_trades.yaml"), scale=0.4)
    return build_lake(company, tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="session")
def seasonal_lake(seasonal_company, tmp_path_factory):
    """The landscaping / roofing company built into gold once per session (roofing storms need weather)."""
    return build_lake(seasonal_company, tmp_path_factory.mktemp("seasonal"))
