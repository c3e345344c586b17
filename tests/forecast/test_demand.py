"""Demand series, external factors, the driver GLM and DemandForecaster on generated companies."""

import numpy as np
import pandas as pd
import pytest

from quantlib.forecast.demand import (
    DemandForecaster,
    demand_series,
    estimate_demand_factors,
    external_factors,
)

SEASONS = ("winter", "spring", "summer", "fall")


def _truth_normalised(truth, line):
    f = np.array([truth["seasonal_factors"][line][s] for s in SEASONS])
    return f / f.mean()


def test_weekly_series_are_full_zero_filled_weeks(demo_lake):
    s = demand_series(demo_lake, freq="W")
    assert list(s.columns[:3]) == ["series_id", "ds", "y"]
    assert (s["ds"].dt.day_of_week == 0).all()
    per = s.groupby("series_id")["ds"].agg(["min", "max", "count"])
    assert per["count"].nunique() == 1  # every series on the same full calendar
    assert ((per["max"] - per["min"]).dt.days / 7 + 1 == per["count"]).all()
    assert set(s["series_id"]) == {f"{line}/{r}" for line in ("hvac", "plumbing", "electrical")
                                   for r in ("springfield", "decatur")}
    daily = demand_series(demo_lake, freq="D")
    assert (daily["y"] == 0).any()  # zero-filled days exist (holidays, Sundays)
    # Weekly = sum of the days of the full weeks.
    d = daily[(daily["ds"] >= s["ds"].min()) & (daily["ds"] <= s["ds"].max() + pd.Timedelta(days=6))]
    assert d["y"].sum() == s["y"].sum()
    with_visits = demand_series(demo_lake, freq="W", exclude_contract_visits=False)
    assert with_visits["y"].sum() > s["y"].sum()


def test_bad_input_errors(demo_lake, tmp_path):
    with pytest.raises(ValueError, match="freq"):
        demand_series(demo_lake, freq="M")
    with pytest.raises(ValueError, match="by"):
        demand_series(demo_lake, by=("technician_id",))
    with pytest.raises(FileNotFoundError):
        demand_series(tmp_path / "nowhere.duckdb")
    with pytest.raises(ValueError, match="region"):
        external_factors(demo_lake, regions=["atlantis"])
    s = demand_series(demo_lake, freq="W")
    f = external_factors(demo_lake, freq="W")
    with pytest.raises(ValueError, match="regular"):
        DemandForecaster().fit(s.drop(index=5), f)
    bad = s.copy()
    bad.loc[3, "y"] = -1
    with pytest.raises(ValueError, match="non-negative"):
        DemandForecaster().fit(bad, f)
    with pytest.raises(ValueError, match="regressor"):
        DemandForecaster(regressors=("snow",)).fit(s, f)


def test_external_factors_aligned_by_date_and_region(seasonal_lake):
    daily = external_factors(seasonal_lake, freq="D")
    import duckdb

    con = duckdb.connect(str(seasonal_lake.gold), read_only=True)
    weather = con.execute("SELECT date, region, storm FROM weather").df()
    con.close()
    assert set(daily["region"]) == {"dallas", "fort_worth"}
    assert not daily.duplicated(["region", "ds"]).any()
    for region, g in daily.groupby("region"):
        w = weather[weather["region"] == region].set_index("date")["storm"]
        g = g.set_index("ds")
        assert (g["storm"].astype(bool) == w.reindex(g.index).astype(bool)).all()
        # Storm window: a storm day and the six days after it, nothing else.
        storm_days = g.index[g["storm"] > 0]
        expected = pd.Series(0.0, index=g.index)
        for d in storm_days:
            expected[d:d + pd.Timedelta(days=6)] = 1.0
        assert (g["storm_window"] == expected).all()
    jul4 = daily[daily["ds"] == "2023-07-04"]
    assert (jul4["holiday"] == 1).all() and daily["holiday"].mean() < 0.05
    # Monthly indicators hold for the whole month.
    assert daily.groupby(["region", daily["ds"].dt.to_period("M")])["consumer_confidence"].nunique().max() == 1
    weekly = external_factors(seasonal_lake, freq="W")
    wk = weekly[(weekly["region"] == "dallas") & (weekly["ds"] == "2023-05-01")].iloc[0]
    days = daily[(daily["region"] == "dallas") & daily["ds"].between("2023-05-01", "2023-05-07")]
    assert wk["storm_window"] == pytest.approx(days["storm_window"].mean())
    assert wk["storm"] == days["storm"].sum()


def test_glm_recovers_hvac_seasonal_factors(demo_lake, mixed_company):
    eff = estimate_demand_factors(demand_series(demo_lake, "D"), external_factors(demo_lake, "D"))
    got = eff[(eff["service_line"] == "hvac") & (eff["effect"] == "season")].set_index("level")["factor"]
    truth = _truth_normalised(mixed_company.truth, "hvac")
    # Scale 0.4: about 2,000 HVAC jobs a season; a season mean has ~3 % sampling error,
    # churn declines and quote timing blur it further: 10 % is a 3-sigma band.
    np.testing.assert_allclose(got[list(SEASONS)].to_numpy(), truth, rtol=0.10)
    # The summer / fall ratio (1.75 in the truth) is recovered too.
    assert got["summer"] / got["fall"] == pytest.approx(1.4 / 0.8, rel=0.15)


def test_glm_recovers_landscaping_seasons_and_roofing_storms(seasonal_lake, seasonal_company):
    eff = estimate_demand_factors(demand_series(seasonal_lake, "D"), external_factors(seasonal_lake, "D"))
    got = eff[(eff["service_line"] == "landscaping") & (eff["effect"] == "season")].set_index("level")["factor"]
    np.testing.assert_allclose(got[list(SEASONS)].to_numpy(),
                               _truth_normalised(seasonal_company.truth, "landscaping"), rtol=0.06)
    storm = eff[eff["effect"] == "storm_window"].set_index("service_line")["factor"]
    # Truth 2.5 on service calls; installs follow their quote's timing (a few days late)
    # and dilute it a little, so the estimate sits slightly below: +-0.4 is ~4 standard errors.
    assert storm["roofing"] == pytest.approx(seasonal_company.truth["storm_multiplier"]["factor"], abs=0.4)
    assert storm["landscaping"] == pytest.approx(1.0, abs=0.1)


@pytest.fixture(scope="module")
def seasonal_weekly(seasonal_lake):
    return demand_series(seasonal_lake, "W"), external_factors(seasonal_lake, "W")


@pytest.fixture(scope="module")
def weekly_forecaster(seasonal_weekly):
    s, f = seasonal_weekly
    return DemandForecaster().fit(s, f)


def test_forecaster_shapes_intervals_and_scenarios(seasonal_weekly, weekly_forecaster):
    s, f = seasonal_weekly
    fc = weekly_forecaster
    p = fc.predict(8, level=(80, 95))
    assert len(p) == 8 * s["series_id"].nunique()
    assert (p.groupby("series_id")["ds"].min() == s["ds"].max() + pd.Timedelta(days=7)).all()
    assert (p["yhat_lo_95"] <= p["yhat_lo_80"]).all() and (p["yhat_lo_80"] <= p["yhat"]).all()
    assert (p["yhat"] <= p["yhat_hi_80"]).all() and (p["yhat_hi_80"] <= p["yhat_hi_95"]).all()
    assert (p["yhat_lo_95"] >= 0).all()
    start = s["ds"].max() + pd.Timedelta(days=7)
    storms = fc.predict(8, scenario={"storm_days": [start + pd.Timedelta(days=d) for d in (0, 7, 14)]})
    calm = fc.predict(8, scenario={"storm_days": []})
    gain = (storms.set_index(["series_id", "ds"])["yhat"] - calm.set_index(["series_id", "ds"])["yhat"]) \
        .groupby(level=0).sum()
    assert gain["roofing/dallas"] > 10 and gain["roofing/fort_worth"] > 5
    assert gain["roofing/dallas"] > abs(gain["landscaping/dallas"])
    with pytest.raises(ValueError, match="scenario"):
        fc.predict(4, scenario={"hail": 3})
    with pytest.raises(ValueError, match="h"):
        fc.predict(0)


@pytest.mark.slow  # three ARIMAX fits with regressors: about a minute on 2 quiet cores
def test_no_leakage_after_cutoff(seasonal_weekly):
    s, f = seasonal_weekly
    # Two series are enough to see leakage and keep the three fits quick.
    keep = ["roofing/dallas", next(i for i in s["series_id"].unique() if i != "roofing/dallas")]
    s = s[s["series_id"].isin(keep)].reset_index(drop=True)
    cutoff = s["ds"].iloc[0] + pd.Timedelta(weeks=130)
    a = DemandForecaster(cutoff=cutoff).fit(s, f).predict(6)
    s2, f2 = s.copy(), f.copy()
    later = s2["ds"] > cutoff
    s2.loc[later, "y"] = s2.loc[later, "y"] * 5 + 100
    f2.loc[f2["ds"] > cutoff + pd.Timedelta(days=6), ["storm_window", "consumer_confidence"]] = [1.0, 150.0]
    b = DemandForecaster(cutoff=cutoff).fit(s2, f2).predict(6)
    pd.testing.assert_frame_equal(a, b)
    # ...and the test can fail: changing a value before the cutoff moves the forecast.
    s3 = s.copy()
    s3.loc[(s3["ds"] == cutoff) & (s3["series_id"] == "roofing/dallas"), "y"] += 200
    c = DemandForecaster(cutoff=cutoff).fit(s3, f).predict(6)
    assert not np.allclose(a["yhat"], c["yhat"])


def test_confidence_scenario_reports_an_effect_indistinguishable_from_zero(seasonal_company, weekly_forecaster):
    # The generator ties consumer confidence to quote win rates only, not to job demand:
    # every series' estimated effect must have an interval covering zero, while the
    # roofing storm effect (truth 2.5) is found with the same machinery.
    fc = weekly_forecaster
    eff = fc.regressor_effects(95)
    conf = eff[eff["regressor"] == "consumer_confidence"]
    assert len(conf) == 4 and not conf["differs_from_zero"].any()
    assert ((conf["factor_lo"] < 1) & (conf["factor_hi"] > 1)).all()
    storm = eff[(eff["regressor"] == "storm_window")].set_index("series_id")
    truth = seasonal_company.truth["storm_multiplier"]["factor"]
    for sid in ("roofing/dallas", "roofing/fort_worth"):
        assert storm.loc[sid, "differs_from_zero"]
        assert storm.loc[sid, "factor_lo"] < truth + 0.4 and storm.loc[sid, "factor_hi"] > truth - 0.4
    # The scenario reports the estimate with its interval and does not move the forecast.
    sc = fc.scenario_effects(13, {"consumer_confidence": -10})
    assert (sc["change_lo"] < 0).all() and (sc["change_hi"] > 0).all() and not sc["applied"].any()
    base = fc.predict(13, level=(80,))
    shifted = fc.predict(13, level=(80,), scenario={"consumer_confidence": -10})
    pd.testing.assert_frame_equal(base, shifted)
    # With effect_level=None the point estimates are applied (the test can fail).
    fc.effect_level = None
    try:
        forced = fc.predict(13, level=(80,), scenario={"consumer_confidence": -10})
    finally:
        fc.effect_level = 95
    change = forced.groupby("series_id")["yhat"].sum() - base.groupby("series_id")["yhat"].sum()
    np.testing.assert_allclose(change.sort_index().to_numpy(),
                               sc.set_index("series_id")["change"].sort_index().to_numpy(), rtol=1e-6)
