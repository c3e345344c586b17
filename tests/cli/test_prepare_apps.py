"""``quant prepare-apps``: the forecast explorer's engines, the churn explorer's scores, the equipment
monitor's fleet health and the dispatch board's morning plan computed once, ahead of visitors; a second
run finds all of them cached, and so do the apps' kernels started afterwards."""

from __future__ import annotations

from typer.testing import CliRunner

from quantlib.cli import app


def test_prepare_apps_caches_what_the_apps_show_first(demo_lake, tmp_path, monkeypatch):
    caches = {name: tmp_path / name for name in ("forecast", "churn", "equipment", "dispatch")}
    for name, folder in caches.items():
        monkeypatch.setenv(f"QUANT_{name.upper()}_CACHE", str(folder))
    first = CliRunner().invoke(app, ["prepare-apps", "--lake", str(demo_lake.root)])
    assert first.exit_code == 0, first.output
    assert "forecast explorer: fitted and cached" in first.output
    assert "churn explorer: fitted and cached" in first.output
    assert "equipment monitor: fitted and cached" in first.output
    assert "dispatch board: morning plan solved and cached" in first.output
    assert all(list(folder.glob("*.pkl")) for folder in caches.values())
    again = CliRunner().invoke(app, ["prepare-apps", "--lake", str(demo_lake.root)])
    assert again.exit_code == 0, again.output
    assert "forecast explorer: cached already" in again.output
    assert "churn explorer: cached already" in again.output
    assert "equipment monitor: cached already" in again.output
    assert "dispatch board: morning plan cached already" in again.output
    # One line per app, each with its time.
    assert len([line for line in again.output.splitlines() if line.endswith(" s)")]) == 4

    # What the notebooks call, with their parameters and what quant apps sets, finds it (the churn
    # explorer with the live feed on: the store has none, so the cached scores show as they are).
    from quantlib.apps.churn_explorer import explorer_from_parameters
    from quantlib.apps.equipment_monitor import monitor_from_parameters

    env = {"QUANT_COMPANY": "mixed_trades", "QUANT_LAKE": str(demo_lake.root.resolve())}
    churn = explorer_from_parameters("mixed_trades", None, None, scorer="learned", horizon_days=180, live=True,
                                     environ=env)
    assert churn.from_cache_ and churn.run.live_until is None
    assert monitor_from_parameters("mixed_trades", None, None, threshold=0.3, days=90, environ=env).from_cache_

