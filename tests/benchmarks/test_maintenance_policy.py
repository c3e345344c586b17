import pytest

from benchmarks.maintenance_policy import run, simulate
from quantlib.data.generate import RELIABILITY, generate_company
from quantlib.data.profile import load_profile
from quantlib.maintenance import periodic_cost_rate


@pytest.mark.parametrize("interval", [60.0, float("inf")])
def test_the_generators_process_agrees_with_the_exact_cost_rate(interval):
    shape, scale, rho, cp, cf = 2.2, 240.0, 0.5, 300.0, 3000.0
    simulated = simulate(interval, shape, scale, rho, cp, cf, units=4000, years=30, seed=1)
    exact = periodic_cost_rate(interval, shape, scale, rho, cp, cf) * 365.25
    # the simulation keeps a calendar schedule through repairs and starts every unit new
    assert simulated["cost_per_unit_year"] == pytest.approx(exact, rel=0.03)


def test_benchmark_evaluates_each_interval_on_the_true_process():
    company = generate_company(load_profile("parameters/companies/mixed_trades.yaml"), seed=5, scale=2)
    result = run(company, sim_units=2000, sim_years=5, capacity_share=0.01, horizon_weeks=26, fleet_scale=2)
    assert set(result["kinds"]) == {"diagnostic", "heavy"}
    for kind in result["kinds"].values():
        truth = kind["truth"]
        assert truth["shape"] == RELIABILITY["weibull_shape"]
        assert truth["restoration"] == RELIABILITY["pm_age_reduction"]
        policies = kind["policies_on_truth"]
        # the true optimum is the cheapest interval on the exact cost rate
        best = policies["true optimum"]["exact_cost_per_unit_year"]
        assert all(best <= p["exact_cost_per_unit_year"] + 1e-6 for p in policies.values())
        assert kind["regret_vs_true_optimum"]["true optimum"] == 0
        assert 0 <= kind["imperfect_repair_fit"]["restoration"] <= 1
    for fleet in result["schedule"].values():
        capped = fleet["capacity"]
        assert capped["peak_week_hours"] <= capped["capacity_hours_per_week"] + 1e-9
        assert fleet["unlimited"]["units"] == capped["units"] > 0
