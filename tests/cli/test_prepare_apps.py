"""``quant prepare-apps``: the forecast explorer's engines and the dispatch board's morning plan computed
once, ahead of visitors; a second run finds both cached."""

from __future__ import annotations

from typer.testing import CliRunner

from quantlib.cli import app


def test_prepare_apps_caches_what_the_apps_show_first(demo_lake, tmp_path, monkeypatch):
    monkeypatch.setenv("QUANT_FORECAST_CACHE", str(tmp_path / "forecast"))
    monkeypatch.setenv("QUANT_DISPATCH_CACHE", str(tmp_path / "dispatch"))
    first = CliRunner().invoke(app, ["prepare-apps", "--lake", str(demo_lake.root)])
    assert first.exit_code == 0, first.output
    assert "forecast explorer: fitted and cached" in first.output
    assert "dispatch board: morning plan solved and cached" in first.output
    assert list((tmp_path / "forecast").glob("*.pkl")) and list((tmp_path / "dispatch").glob("*.pkl"))
    again = CliRunner().invoke(app, ["prepare-apps", "--lake", str(demo_lake.root)])
    assert "forecast explorer: cached already" in again.output
    assert "dispatch board: morning plan cached already" in again.output
