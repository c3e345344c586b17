"""Degradation rates per unit: recovery of known rates, the generator's energy meter, errors."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from quantlib.data.contracts import CONTRACTS, OPERATING_STATES
from quantlib.data.generate import ENERGY, RELIABILITY
from quantlib.maintenance import DegradationDataError, DegradationModel, calendar_trend_rates, compare_rates

POWER = {"big": np.array([0.5, 4.0, 8.0, 1.5]), "small": np.array([0.05, 0.6, 1.2, 0.3])}


def _simulate(n_units=40, days=540, seed=0, linear=False):
    """Units whose log energy rises by ``rate`` per year of wear age; a preventive maintenance (every
    80-100 days) halves the wear age, a failure resets it; the cooling load grows above 18 C.

    The energy is ``usage x power factor x cooling x exp(rate x wear_years) x noise``, so the
    within-interval log slope on the age since service is exactly the unit's rate; with
    ``linear``, ``(1 + rate x wear_years)`` instead of the exponential (the generator's law).
    """
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2023-01-01", periods=days)
    doy = np.arange(days)
    temp = {r: 15 + 10 * np.sin(2 * np.pi * (doy - 100) / 365.25) + rng.normal(0, 3, days) + shift
            for r, shift in (("north", -3.0), ("south", 4.0))}
    units = [f"U{i:02d}" for i in range(n_units)]
    kind = np.where(np.arange(n_units) % 2 == 0, "big", "small")
    region = np.where(np.arange(n_units) % 3 == 0, "north", "south")
    rate = rng.lognormal(np.log(0.3), 0.6, n_units)
    states, events = [], []
    for i, unit in enumerate(units):
        wear = np.empty(days)
        v = rng.uniform(0, 200)
        pm_days = np.cumsum(rng.integers(80, 101, 10)) - rng.integers(0, 60)
        fail_day = int(rng.integers(100, days - 50)) if rng.random() < 0.4 else -1
        for d in range(days):
            v = v + 1
            if d in pm_days:
                v *= 0.5
            if d == fail_day + 3:  # back from a three-day repair
                v = 0.0
            wear[d] = v
        up = np.ones(days, dtype=bool)
        if fail_day >= 0:
            up[fail_day + 1:fail_day + 3] = False  # down while repaired, back on fail_day + 3
        normal = rng.integers(0, 10, days)
        heavy = rng.integers(0, 4, days)
        hours = np.column_stack([24 - normal - heavy, normal, heavy, np.zeros(days)]).astype(float)
        cooling = 1 + 0.02 * np.maximum(temp[region[i]] - 18, 0)
        growth = 1 + rate[i] * wear / 365.25 if linear else np.exp(rate[i] * wear / 365.25)
        energy = hours @ POWER[kind[i]] * rng.lognormal(0, 0.1) * cooling * growth * rng.lognormal(0, 0.05, days)
        states.append(pd.DataFrame({"equipment_id": unit, "date": dates, "idle_hours": hours[:, 0],
                                    "normal_hours": hours[:, 1], "heavy_hours": hours[:, 2],
                                    "fault_hours": hours[:, 3], "energy_kwh": energy})[up])
        done = pm_days[(pm_days >= 0) & (pm_days < days)]
        events.append(pd.DataFrame({"equipment_id": unit, "kind": "preventive", "completed_date": dates[done]}))
        events.append(pd.DataFrame({"equipment_id": unit, "kind": "corrective",
                                    "completed_date": dates[rng.integers(0, days, 2)]}))
        if fail_day >= 0:
            events.append(pd.DataFrame({"equipment_id": [unit], "kind": ["failure"],
                                        "completed_date": [dates[fail_day + 2]]}))
    weather = pd.concat([pd.DataFrame({"date": dates, "region": r, "temp_c": t}) for r, t in temp.items()],
                        ignore_index=True)
    equipment = pd.DataFrame({"equipment_id": units, "kind": kind, "region": region})
    truth = pd.DataFrame({"equipment_id": units, "kind": kind, "degradation_rate_per_year": rate})
    return (pd.concat(states, ignore_index=True), pd.concat(events, ignore_index=True), weather, equipment,
            truth)


@pytest.fixture(scope="module")
def simulated():
    return _simulate()


@pytest.mark.parametrize("method", ["ols", "mixed"])
def test_recovers_known_rates_with_intervals_near_their_level(simulated, method):
    states, events, weather, equipment, truth = simulated
    model = DegradationModel(method=method).fit(states, events, weather, equipment)
    score = compare_rates(model.rates_, truth)
    assert score["units"] == 40
    assert score["pearson"] > 0.95
    assert score["median_abs_error"] < 0.05
    assert 0.82 <= score["coverage"] <= 1.0  # nominal 95 % on 40 units
    # The kind's rate is near the mean of its units' true rates.
    for kind, row in model.kind_rates_.set_index("kind").iterrows():
        true_mean = truth.loc[truth["kind"] == kind, "degradation_rate_per_year"].mean()
        assert row["lower"] < row["rate_per_year"] < row["upper"]
        assert abs(row["rate_per_year"] - true_mean) < 0.1
    # The learned power draws keep the states' order (idle < normal < heavy) for each kind.
    for kind in ("big", "small"):
        draw = model.power_kw_.loc[kind]
        assert draw["idle"] < draw["normal"] < draw["heavy"]


def test_beats_the_calendar_trend_and_needs_the_service_resets(simulated):
    states, events, weather, equipment, truth = simulated
    model = DegradationModel().fit(states, events, weather, equipment)
    naive = compare_rates(calendar_trend_rates(states), truth)
    assert compare_rates(model.rates_, truth)["median_abs_error"] < naive["median_abs_error"] / 3
    # Without the preventive visits as resets, the age since service is wrong and the rates are worse.
    blind = DegradationModel(reset_kinds=("failure", "corrective")).fit(states, events, weather, equipment)
    assert compare_rates(blind.rates_.dropna(), truth)["pearson"] < 0.8


def test_learned_restore_finds_what_each_service_removes():
    states, events, weather, equipment, truth = _simulate(linear=True, seed=1)
    every_kind = ("preventive", "failure", "corrective")
    model = DegradationModel(method="ols", learn_restore=True, reset_kinds=every_kind)
    model.fit(states, events, weather, equipment)
    assert abs(model.restore_["preventive"] - 0.5) < 0.1  # the simulation's visits halve the wear
    assert model.restore_["failure"] > 0.8  # a repair makes the unit as good as new
    assert model.restore_["corrective"] < 0.15  # a corrective repair leaves the wear as it was
    score = compare_rates(model.rates_, truth)
    assert score["pearson"] > 0.95 and abs(score["bias"]) < 0.05
    # The within-interval log slope is below the linear law's rate (r / (1 + r x wear)); the learned one is not.
    within = compare_rates(DegradationModel().fit(states, events, weather, equipment).rates_, truth)
    assert score["median_abs_error"] < within["median_abs_error"]
    # The excess is measured against the unit as new: after a preventive visit, some is left.
    out = model.transform(states, events).dropna(subset=["excess_share"])
    assert (out["excess_share"] >= 0).all() and (out["excess_share"] < 1).all()
    assert (out.loc[out["age_days"] == 0, "excess_share"] > 0).mean() > 0.5
    with pytest.raises(DegradationDataError, match="learn_restore"):
        DegradationModel(learn_restore=True).fit(states, events, weather, equipment)


def test_excess_consumption_is_zero_at_service_and_grows_with_the_age(simulated):
    states, events, weather, equipment, _ = simulated
    model = DegradationModel().fit(states, events, weather, equipment)
    out = model.transform(states, events)
    assert len(out) == len(states)
    assert np.allclose(out["excess_kwh"].to_numpy(), model.predict(states, events), equal_nan=True)
    unit = out[out["equipment_id"] == "U00"].reset_index(drop=True)
    assert unit["excess_kwh"].iloc[0] != unit["excess_kwh"].iloc[0]  # NaN: no service yet
    served = unit[unit["age_days"] == 0]
    assert len(served) and (served["excess_kwh"] == 0).all()
    known = unit.dropna(subset=["age_days"])
    rate = model.rates_.set_index("equipment_id").loc["U00", "rate_per_year"]
    assert np.allclose(known["excess_share"], 1 - np.exp(-rate * known["age_days"] / 365.25))
    assert np.corrcoef(known["age_days"], known["excess_share"])[0, 1] > 0.99


def test_estimator_contract(simulated):
    states, events, weather, equipment, _ = simulated
    model = DegradationModel(method="ols", alpha=0.1)
    with pytest.raises(NotFittedError):
        model.transform(states, events)
    assert clone(model).get_params() == model.get_params()
    assert model.fit(states.head(2000), events) is model
    assert set(model.rates_.columns) >= {"equipment_id", "rate_per_year", "lower", "upper", "n_days"}
    assert list(model.kind_rates_["kind"]) == ["all"]  # no equipment table: one fleet


def test_errors_name_the_missing_columns(simulated):
    states, events, weather, equipment, _ = simulated
    with pytest.raises(DegradationDataError, match="energy_kwh"):
        DegradationModel().fit(states.drop(columns="energy_kwh"), events)
    with pytest.raises(DegradationDataError, match="heavy_hours"):
        DegradationModel().fit(states.drop(columns="heavy_hours"), events)
    with pytest.raises(DegradationDataError, match="maintenance_events lacks column.*completed_date"):
        DegradationModel().fit(states, events.drop(columns="completed_date"))
    with pytest.raises(DegradationDataError, match="temp_c"):
        DegradationModel().fit(states, events, weather.drop(columns="temp_c"), equipment)
    with pytest.raises(DegradationDataError, match="region"):
        DegradationModel().fit(states, events, weather, equipment.drop(columns="region"))
    with pytest.raises(DegradationDataError, match="equipment"):
        DegradationModel().fit(states, events, weather)
    with pytest.raises(DegradationDataError, match="U01"):
        DegradationModel().fit(states, events, weather, equipment[equipment["equipment_id"] != "U01"])
    with pytest.raises(DegradationDataError, match="method"):
        DegradationModel(method="bayes").fit(states, events)


# ----------------------------------------------------------------------------- the generator's meter

@pytest.fixture(scope="module")
def meter(mixed_company):
    c = mixed_company
    states = c.tables["equipment_states"].merge(c.truth_tables["equipment_wear"], on=["equipment_id", "date"])
    states = states.merge(c.truth_tables["equipment_reliability"], on="equipment_id")
    assert len(states) == len(c.tables["equipment_states"])
    draw = np.array([[ENERGY["power_kw"][k][s] for s in OPERATING_STATES] for k in states["kind"]])
    hours = states[[f"{s}_hours" for s in OPERATING_STATES]].to_numpy()
    return states.assign(base=np.einsum("ij,ij->i", hours, draw))


def test_energy_column_is_optional_positive_and_follows_its_formula(mixed_company, meter):
    assert "energy_kwh" in CONTRACTS["equipment_states"].columns
    assert "energy_kwh" not in CONTRACTS["equipment_states"].required_columns  # old files lack it
    states = mixed_company.tables["equipment_states"]
    assert states["energy_kwh"].notna().all() and (states["energy_kwh"] > 0).all()
    CONTRACTS["equipment_states"].validate(states)
    # The cooling factor comes from the region's temperature of the day.
    weather = mixed_company.tables["weather"]
    m = meter.merge(mixed_company.tables["equipment"][["equipment_id", "region"]], on="equipment_id").merge(
        weather[["date", "region", "temp_c"]], on=["date", "region"])
    cooling = 1 + ENERGY["ambient"]["per_c"] * np.maximum(m["temp_c"] - ENERGY["ambient"]["above_c"], 0)
    assert np.allclose(cooling, m["ambient_factor"], atol=1e-5)
    # What the formula leaves is the multiplicative noise.
    noise = np.log(meter["energy_kwh"] / (meter["base"] * meter["power_factor"] * meter["ambient_factor"]
                                          * (1 + meter["degradation_rate_per_year"] * meter["wear_age_days"] / 365.25)))
    assert abs(noise.mean()) < 0.005
    assert abs(noise.std() - ENERGY["noise_sigma"]) < 0.005


def test_energy_grows_with_wear_at_each_units_rate(meter):
    y = np.log(meter["energy_kwh"] / (meter["base"] * meter["ambient_factor"]))
    slopes = meter.assign(y=y, w=meter["wear_age_days"] / 365.25).groupby("equipment_id").apply(
        lambda d: np.polyfit(d["w"], d["y"], 1)[0], include_groups=False)
    true = meter.groupby("equipment_id")["degradation_rate_per_year"].first()
    assert (slopes > 0).mean() > 0.9
    assert np.corrcoef(slopes, true.loc[slopes.index])[0, 1] > 0.9


def test_wear_age_resets_at_repair_and_halves_at_preventive_maintenance(mixed_company, meter):
    wear = meter.set_index(["equipment_id", "date"])["wear_age_days"]
    failures = mixed_company.truth_tables["equipment_failures"]
    assert len(failures) > 5
    at_failure = wear.reindex(pd.MultiIndex.from_frame(failures[["equipment_id", "failure_date"]]))
    gap = failures["virtual_age_days"].to_numpy() - at_failure.to_numpy()
    assert ((gap >= -0.06) & (gap < 1.06)).all()  # the failure happens during its day; ages rounded
    back = failures["failure_date"] + pd.to_timedelta(failures["downtime_days"] + 1, unit="D")
    after = wear.reindex(pd.MultiIndex.from_arrays([failures["equipment_id"], back])).dropna()
    assert len(after) > 5 and (after == 0).all()
    events = mixed_company.tables["maintenance_events"]
    pm = events[(events["kind"] == "preventive") & events["completed_date"].notna()]
    start = mixed_company.tables["equipment_states"]["date"].min() + pd.Timedelta(days=RELIABILITY["start_day"] + 1)
    pm = pm[pm["completed_date"] >= start]
    today = wear.reindex(pd.MultiIndex.from_arrays([pm["equipment_id"], pm["completed_date"]])).to_numpy()
    before = wear.reindex(pd.MultiIndex.from_arrays([pm["equipment_id"],
                                                     pm["completed_date"] - pd.Timedelta(days=1)])).to_numpy()
    ok = ~np.isnan(today) & ~np.isnan(before) & (today > 0)  # up both days, not the day back from a repair
    assert ok.sum() > 20
    assert np.allclose(today[ok], (before[ok] + 1) * (1 - RELIABILITY["pm_age_reduction"]), atol=0.002)
