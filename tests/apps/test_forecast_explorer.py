"""The forecast explorer's numbers, scenarios, cache and widgets, without a browser.

The engines are fitted once per session into a cache folder shared with the browser test
(tests/apps/test_forecast_explorer.py), so whichever runs first pays for the fit.
"""

from __future__ import annotations

import pickle

import pandas as pd
import pytest

from quantlib.apps.forecast_explorer import ForecastExplorer, Selection, explorer_from_parameters, weeks_for
from quantlib.views.formatting import format_kpi_value


def shared_cache(tmp_path_factory):
    return tmp_path_factory.getbasetemp() / "forecast_explorer_cache"


@pytest.fixture(scope="module")
def explorer(demo_lake, tmp_path_factory):
    return ForecastExplorer(demo_lake.gold, cache_dir=shared_cache(tmp_path_factory)).fit()


def engine_jobs(fx, horizon_days, service_line=None, region=None, scenario=None):
    # Straight from the demand engine, sliced by the series id "service_line/region".
    p = fx.demand_.predict(weeks_for(horizon_days), level=(80,), scenario=scenario)
    line, reg = p["series_id"].str.split("/").str[0], p["series_id"].str.split("/").str[1]
    keep = pd.Series(True, index=p.index)
    if service_line:
        keep &= line == service_line
    if region:
        keep &= reg == region
    return p[keep]


def test_weeks_cover_the_horizon():
    assert [weeks_for(d) for d in (7, 30, 90, 180)] == [1, 5, 13, 26]


def test_figures_are_the_engines(explorer):
    fx = explorer
    line, region = fx.service_lines_[0], fx.regions_[-1]
    for sel in (Selection(), Selection(line, None, 30), Selection(None, region, 180), Selection(line, region, 90)):
        s = fx.summary(sel)
        expected = engine_jobs(fx, sel.horizon_days, sel.service_line, sel.region)
        assert s["weeks"] == weeks_for(sel.horizon_days)
        assert s["jobs"] == pytest.approx(expected["yhat"].sum())
        weekly = fx.jobs(sel)
        assert weekly["hi_80"].sum() == pytest.approx(expected["yhat_hi_80"].sum())
        assert (weekly["lo_80"] <= weekly["jobs"]).all() and (weekly["jobs"] <= weekly["hi_80"]).all()
        rev = fx.revenue_.forecast(level=(80,)).set_index("horizon").loc[sel.horizon_days]
        assert (s["revenue_worst"], s["revenue_likely"], s["revenue_best"]) == pytest.approx(
            (rev["worst"], rev["likely"], rev["best"]))
        assert s["revenue_worst"] < s["revenue_likely"] < s["revenue_best"]
    # The slices add up to the whole.
    total = fx.summary(Selection())["jobs"]
    assert sum(fx.summary(Selection(service_line=x))["jobs"] for x in fx.service_lines_) == pytest.approx(total)
    # Last year's weeks are the history's, 52 weeks earlier.
    weekly = fx.jobs(Selection(line, region, 30))
    hist = fx.series_.set_index(["series_id", "ds"])["y"]
    year_before = weekly["week"].iloc[0] - pd.Timedelta(weeks=52)
    assert weekly["last_year"].iloc[0] == hist.loc[(f"{line}/{region}", year_before)]


def test_scenarios_are_the_engines(explorer):
    fx = explorer
    line = fx.service_lines_[-1]
    down = fx.summary(Selection(line, None, 90, "confidence_down"))
    expected = engine_jobs(fx, 90, line, scenario={"consumer_confidence": -fx.confidence_shift})
    assert down["jobs"] == pytest.approx(expected["yhat"].sum())
    assert down["jobs_baseline"] == pytest.approx(engine_jobs(fx, 90, line)["yhat"].sum())
    assert down["jobs_change"] == pytest.approx(down["jobs"] / down["jobs_baseline"] - 1)

    first, dates = fx.storm_season(30)
    weeks = fx.forecast_weeks(30)
    days = len(weeks) * 7
    storms = fx.storms_[fx.storms_["storm"] > 0]
    replayed = sorted(d for v in dates.values() for d in v)
    # Every replayed storm is a storm of the window, shifted to the first forecast day, inside the horizon.
    original = storms[(storms["ds"] >= first) & (storms["ds"] < first + pd.Timedelta(days=days))]
    assert len(replayed) == len(original) > 0
    assert replayed == sorted(original["ds"] + (weeks[0] - first))
    assert all(weeks[0] <= d < weeks[0] + pd.Timedelta(days=days) for d in replayed)
    # No window of that length on record has more storm days.
    per_day = storms.groupby("ds")["storm"].sum()
    assert all(per_day[(per_day.index >= d) & (per_day.index < d + pd.Timedelta(days=days))].sum() <= len(replayed)
               for d in per_day.index)
    storm = fx.summary(Selection(None, None, 30, "storm_season"))
    assert storm["jobs"] == pytest.approx(engine_jobs(fx, 30, scenario={"storm_days": dates})["yhat"].sum())
    assert "storm days" in fx.scenario_description("storm_season", 30)


def test_bad_input_is_named(explorer, tmp_path):
    with pytest.raises(ValueError, match="unknown service line 'roofing-x'"):
        explorer.summary(Selection(service_line="roofing-x"))
    with pytest.raises(ValueError, match="unknown region"):
        explorer.jobs(Selection(region="atlantis"))
    with pytest.raises(ValueError, match="horizon_days must be one of"):
        explorer.summary(Selection(horizon_days=45))
    with pytest.raises(ValueError, match="unknown scenario"):
        explorer.summary(Selection(scenario="hurricane"))
    with pytest.raises(RuntimeError, match="not fitted"):
        ForecastExplorer(tmp_path / "gold.duckdb").summary(Selection())
    with pytest.raises(FileNotFoundError, match="quant warehouse build"):
        ForecastExplorer(tmp_path / "gold.duckdb").fit()
    with pytest.raises(ValueError, match="horizons"):
        ForecastExplorer(explorer.gold_path, horizons=(3,)).fit()


def test_cache_is_reused_and_keyed_by_the_data(explorer, demo_lake, tmp_path_factory):
    again = explorer_from_parameters(environ={"QUANT_LAKE": str(demo_lake.root),
                                              "QUANT_FORECAST_CACHE": str(shared_cache(tmp_path_factory))})
    assert again.from_cache_
    sel = Selection(explorer.service_lines_[0], None, 30, "confidence_up")
    assert again.summary(sel) == explorer.summary(sel)
    # Another as-of date is another forecast: not the cached one.
    other = ForecastExplorer(demo_lake.gold, as_of=explorer.as_of_ - pd.Timedelta(days=7), cache_dir=explorer.cache_dir)
    assert other.cache_key() != explorer.cache_key()
    # The cached first page depends on the chart settings too.
    wider = ForecastExplorer(demo_lake.gold, history_weeks=26, cache_dir=explorer.cache_dir)
    assert wider.cache_key() != explorer.cache_key()


def test_widgets_show_the_figures(explorer):
    fx = explorer
    widget = fx.widget
    assert widget is not None
    line = fx.service_lines_[0]
    fx.service_line.value = line
    fx.horizon.value = 30
    s = fx.summary(Selection(line, None, 30))
    assert f'data-value="jobs">{format_kpi_value(s["jobs"], "count")}<' in fx.cards.value
    assert f'data-value="revenue_likely">{format_kpi_value(s["revenue_likely"], "currency")}<' in fx.cards.value
    assert fx.jobs_chart.value.count("<svg") == 1 and fx.revenue_chart.value.count("<svg") == 1
    assert fx.table.value.count("<tr data-week=") == weeks_for(30)
    fx.scenario.value = "confidence_down"
    assert 'data-value="jobs_change"' in fx.cards.value
    assert "consumer confidence -" in fx.header.value
    assert "Updated in" in fx.status.value


def test_a_tampered_cache_is_not_executed_but_refitted(explorer, demo_lake, tmp_path, caplog):
    from tests.apps.test_signed_cache import Exploit

    marker = tmp_path / "pwned"
    again = ForecastExplorer(demo_lake.gold, cache_dir=tmp_path / "cache")
    cache = again._cache_path()
    cache.parent.mkdir(parents=True)
    cache.write_bytes(pickle.dumps(Exploit(marker)))  # what the old, unsigned cache would have loaded
    with caplog.at_level("WARNING", logger="quantlib.apps.forecast_explorer"):
        again.fit()
    assert not marker.exists()
    assert not again.from_cache_ and "not a signed cache file" in caplog.text
    sel = again.default_selection()
    assert again.summary(sel) == explorer.summary(sel)
    # The refit replaced the file with a signed one that the next kernel loads.
    assert ForecastExplorer(demo_lake.gold, cache_dir=tmp_path / "cache").fit().from_cache_
