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


@pytest.fixture(scope="session")
def demo_lake(tmp_path_factory):
    """A small mixed-trades company, generated, ingested and built into gold once per session.

    Returns the lake (``quantlib.data.lake.Lake``); ``lake.gold`` is the DuckDB file.
    """
    from quantlib.data.generate import generate_company, write_company
    from quantlib.data.ingest import ingest
    from quantlib.data.lake import Lake
    from quantlib.data.profile import load_profile
    from quantlib.data.warehouse import build_warehouse

    root = tmp_path_factory.mktemp("demo")
    profile = load_profile(PROFILES / "mixed_trades.yaml")
    write_company(generate_company(profile, scale=0.4), root / "raw")
    lake = Lake(root / "lake")
    report = ingest(root / "raw", lake)
    assert report.ok and report.rows_rejected == 0
    build_warehouse(lake, targets={k: v * 0.4 if k == "monthly_revenue" else v
                                   for k, v in profile.targets.items()}, company=profile.name)
    return lake
