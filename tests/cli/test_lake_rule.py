"""One lake rule for every command: ``--lake``, else ``$QUANT_LAKE``, else data/demo/<company>/lake."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import quantlib.cli  # noqa: F401  (registers every command)
from quantlib.cli.app import app
from quantlib.config import resolve_lake
from quantlib.data.lake import Lake
from tests.kpi.conftest import TARGETS, write_silver


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An empty project root; no lake or company chosen by the environment."""
    monkeypatch.setenv("QUANT_HOME", str(tmp_path))
    monkeypatch.delenv("QUANT_LAKE", raising=False)
    monkeypatch.delenv("QUANT_COMPANY", raising=False)
    return tmp_path


def demo(home: Path, company: str = "mixed_trades") -> Lake:
    return Lake(home / "data" / "demo" / company / "lake")


def test_resolve_lake_order(home):
    assert resolve_lake() == home / "data/demo/mixed_trades/lake"
    assert resolve_lake(company="seasonal_outdoor") == home / "data/demo/seasonal_outdoor/lake"
    assert resolve_lake(environ={"QUANT_COMPANY": "acme"}) == home / "data/demo/acme/lake"
    assert resolve_lake(company="x", environ={"QUANT_LAKE": "/lakes/env"}) == Path("/lakes/env")
    assert resolve_lake("/lakes/opt", environ={"QUANT_LAKE": "/lakes/env"}) == Path("/lakes/opt")


def test_build_then_kpi_find_the_demo_lake_without_options(home):
    """What `make demo` leaves behind is what `quant kpi` reads with no option (issue 11)."""
    write_silver(demo(home))
    profile = home / "profile.yaml"
    profile.write_text("name: Fixture Co\ntargets:\n" + "".join(f"  {k}: {v}\n" for k, v in TARGETS.items()))
    runner = CliRunner()
    built = runner.invoke(app, ["warehouse", "build", "--profile", str(profile)])
    assert built.exit_code == 0, built.output
    assert demo(home).gold.is_file()
    result = runner.invoke(app, ["kpi", "--as-of", "2024-06-30"])
    assert result.exit_code == 0, result.output
    assert "KPIs as of 2024-06-30" in result.output


def test_company_and_environment_choose_the_lake(home, monkeypatch):
    write_silver(demo(home, "acme"))
    runner = CliRunner()
    assert runner.invoke(app, ["warehouse", "build", "--company", "acme"]).exit_code == 0
    assert demo(home, "acme").gold.is_file()
    assert not demo(home).root.exists()
    monkeypatch.setenv("QUANT_LAKE", str(demo(home, "acme").root))
    result = runner.invoke(app, ["kpi", "--as-of", "2024-06-30"])
    assert result.exit_code == 0, result.output
    # --lake wins over QUANT_LAKE: an empty folder has no gold, and the message names it.
    empty = home / "empty"
    result = runner.invoke(app, ["kpi", "--lake", str(empty)])
    assert result.exit_code != 0
    assert "warehouse build" in result.output


def test_ingest_lands_in_the_default_lake(home):
    src = home / "exports"
    src.mkdir()
    (src / "customers.csv").write_text("customer_id\nC1\n")
    CliRunner().invoke(app, ["ingest", str(src), "--company", "acme"])
    assert demo(home, "acme").manifest.is_file()


def test_apps_passes_the_resolved_lake(home, monkeypatch):
    import quantlib.cli.apps as apps_cli

    seen = {}

    def fake_start(*args, **kwargs):
        seen.update(kwargs)
        raise apps_cli.AppsError("stopped by the test")

    monkeypatch.setattr(apps_cli, "start_voila", fake_start)
    CliRunner().invoke(app, ["apps", "--no-browser", "--company", "acme"])
    assert seen["company"] == "acme"
    assert Path(seen["lake"]) == demo(home, "acme").root.resolve()


def test_build_with_company_loads_its_profile(home):
    """`warehouse build --company acme` names the company and loads targets from its profile (issue 11)."""
    import duckdb

    write_silver(demo(home, "acme"))
    companies = home / "parameters" / "companies"
    companies.mkdir(parents=True)
    (companies / "acme.yaml").write_text("name: Acme Plumbing & Air\ntargets:\n  revenue_monthly: 123456\n")
    result = CliRunner().invoke(app, ["warehouse", "build", "--company", "acme"])
    assert result.exit_code == 0, result.output
    assert "Acme Plumbing & Air" in result.output
    with duckdb.connect(str(demo(home, "acme").gold), read_only=True) as con:
        assert con.execute("SELECT DISTINCT company FROM build_info").fetchall() == [("Acme Plumbing & Air",)]
        assert con.execute("SELECT value FROM targets WHERE key = 'revenue_monthly'").fetchone() == (123456.0,)


def test_build_of_a_lake_by_path_takes_no_company_profile(home):
    """A lake given by path is not assumed to be the default company's."""
    import duckdb

    companies = home / "parameters" / "companies"
    companies.mkdir(parents=True)
    (companies / "mixed_trades.yaml").write_text("name: Mixed Trades Demo\n")
    lake = Lake(home / "elsewhere")
    write_silver(lake)
    result = CliRunner().invoke(app, ["warehouse", "build", "--lake", str(lake.root)])
    assert result.exit_code == 0, result.output
    with duckdb.connect(str(lake.gold), read_only=True) as con:
        assert con.execute("SELECT DISTINCT company FROM build_info").fetchall() == [(None,)]
