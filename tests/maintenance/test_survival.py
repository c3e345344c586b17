import numpy as np
import pandas as pd
import pytest
from scipy import stats

from quantlib.errors import QuantError
from quantlib.maintenance import LifeDataError, WeibullLifeModel, mean_cumulative_function


def _weibull_lives(n, shape, scale, seed, censor_scale=None):
    rng = np.random.default_rng(seed)
    life = scale * rng.weibull(shape, n)
    if censor_scale is None:
        return pd.DataFrame({"age": life, "failed": 1})
    censor = rng.uniform(0, censor_scale, n)
    return pd.DataFrame({"age": np.minimum(life, censor), "failed": (life <= censor).astype(int)})


def test_recovers_shape_and_scale_with_right_censoring():
    lives = _weibull_lives(4000, shape=1.8, scale=1000.0, seed=1, censor_scale=2500.0)
    assert 0.2 < 1 - lives.failed.mean() < 0.6  # a real share censored
    model = WeibullLifeModel().fit(lives, time="age", event="failed")
    assert model.shape_ == pytest.approx(1.8, rel=0.05)
    assert model.scale_ == pytest.approx(1000.0, rel=0.03)
    assert model.n_units_ == 4000 and model.n_failures_ == int(lives.failed.sum())
    # ignoring censoring (every row a failure) underestimates the life
    naive = WeibullLifeModel().fit(lives, time="age")
    assert naive.median_life() < 0.85 * model.median_life()


def test_uncensored_fit_matches_scipy():
    lives = _weibull_lives(300, shape=0.8, scale=100.0, seed=2)
    model = WeibullLifeModel().fit(lives, time="age")
    shape, _, scale = stats.weibull_min.fit(lives.age, floc=0)
    assert model.shape_ == pytest.approx(shape, rel=1e-3)
    assert model.scale_ == pytest.approx(scale, rel=1e-3)


def test_median_and_b10_life_are_weibull_quantiles():
    model = WeibullLifeModel().fit(_weibull_lives(500, 2.0, 50.0, seed=3), time="age")
    k, lam = model.shape_, model.scale_
    assert model.median_life() == pytest.approx(lam * np.log(2) ** (1 / k))
    assert model.b10_life() == pytest.approx(lam * (-np.log(0.9)) ** (1 / k))
    assert model.survival([model.b10_life()])[0] == pytest.approx(0.9)
    summary = model.summary()
    assert set(summary) == {"shape", "scale", "median_life", "b10_life"}


def test_accelerated_failure_time_model_recovers_covariate_effects():
    rng = np.random.default_rng(4)
    n = 3000
    load = rng.uniform(0, 2, n)
    outdoor = rng.integers(0, 2, n)
    scale = np.exp(6.0 - 0.5 * load - 0.3 * outdoor)
    life = scale * rng.weibull(1.5, n)
    censor = rng.uniform(0, 900, n)
    frame = pd.DataFrame({"t": np.minimum(life, censor), "e": (life <= censor).astype(int),
                          "load": load, "outdoor": outdoor})
    model = WeibullLifeModel().fit(frame, time="t", event="e", covariates=["load", "outdoor"])
    assert model.shape_ == pytest.approx(1.5, rel=0.06)
    assert model.coefficients_["Intercept"] == pytest.approx(6.0, abs=0.08)
    assert model.coefficients_["load"] == pytest.approx(-0.5, abs=0.06)
    assert model.coefficients_["outdoor"] == pytest.approx(-0.3, abs=0.08)
    at = {"load": 1.0, "outdoor": 1.0}
    expected_scale = np.exp(model.coefficients_["Intercept"] + model.coefficients_["load"]
                            + model.coefficients_["outdoor"])
    assert model.scale_at(at) == pytest.approx(expected_scale)
    summary = model.summary(at)
    assert summary["median_life"] == pytest.approx(expected_scale * np.log(2) ** (1 / model.shape_))
    assert summary["at"] == at and set(summary["coefficients"]) == {"Intercept", "load", "outdoor"}
    # at the covariate means by default
    assert model.summary()["scale"] == pytest.approx(model.scale_at(frame[["load", "outdoor"]].mean().to_dict()))
    with pytest.raises(LifeDataError, match="outdoor"):
        model.scale_at({"load": 1.0})


def test_bad_life_data_names_the_source_row_and_column():
    frame = pd.DataFrame({"age": [10.0, -1.0, 5.0], "failed": [1, 1, 0]})
    with pytest.raises(LifeDataError, match=r"units.csv: row 2, column 'age'"):
        WeibullLifeModel().fit(frame, time="age", event="failed", source="units.csv")
    with pytest.raises(LifeDataError, match=r"row 3, column 'failed'"):
        WeibullLifeModel().fit(frame.assign(age=[1.0, 2, 3], failed=[1, 0, 2]), time="age", event="failed")
    with pytest.raises(LifeDataError, match=r"row 2, column 'age': 'x'"):
        WeibullLifeModel().fit(pd.DataFrame({"age": ["1", "x"]}), time="age")
    with pytest.raises(LifeDataError, match="no column 'hours'"):
        WeibullLifeModel().fit(frame, time="hours")
    with pytest.raises(LifeDataError, match="no failures"):
        WeibullLifeModel().fit(frame.assign(age=[1.0, 2, 3], failed=0), time="age", event="failed")
    assert issubclass(LifeDataError, QuantError) and issubclass(LifeDataError, ValueError)


def test_mean_cumulative_function_is_nelsons_estimator():
    # A: repairs at 2 and 5, observed to 10; B: repair at 5, observed to 6; C: observed to 3, no repair.
    events = pd.DataFrame({"unit": ["A", "A", "A", "B", "B", "C"], "age": [2, 5, 10, 5, 6, 3],
                           "repair": [1, 1, 0, 1, 0, 0]})
    mcf = mean_cumulative_function(events, unit="unit", time="age", status="repair")
    # at age 2 all three are observed: 1/3; at 5 only A and B: two repairs over two units
    assert mcf["time"].tolist() == [2.0, 5.0, 5.0]
    assert mcf["mcf"].iloc[0] == pytest.approx(1 / 3)
    assert mcf["mcf"].iloc[-1] == pytest.approx(1 / 3 + 2 / 2)
    assert (mcf["lower"] <= mcf["mcf"]).all() and (mcf["mcf"] <= mcf["upper"]).all()


def test_mean_cumulative_function_counts_a_retirement_at_the_last_repair():
    # a unit whose last row is a repair leaves observation at that repair (and counts it)
    events = pd.DataFrame({"id": [1, 1, 2], "time": [4.0, 8.0, 8.0], "status": [1, 1, 0]})
    mcf = mean_cumulative_function(events)
    assert mcf["mcf"].tolist() == pytest.approx([0.5, 1.0])
    with pytest.raises(LifeDataError, match="row 2, column 'status'"):
        mean_cumulative_function(events.assign(status=[1, 3, 0]))
    with pytest.raises(LifeDataError, match="no repairs"):
        mean_cumulative_function(events.assign(status=0))
