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
