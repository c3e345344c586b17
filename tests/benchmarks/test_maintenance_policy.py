import numpy as np
import pytest

from benchmarks.maintenance_policy import run, simulate, true_cost_rate
from quantlib.data.generate import RELIABILITY, generate_company
from quantlib.data.profile import load_profile
from quantlib.maintenance import age_replacement_cost_rate


def test_simulation_and_true_cost_rate_agree_with_the_formula():
    rng = np.random.default_rng(0)
    shape, scale, cp, cf, T = 2.0, 100.0, 10.0, 100.0, 60.0
    lives = scale * rng.weibull(shape, 400_000)
    simulated = simulate(lives, T, cp, cf)["cost_per_unit_year"] / 365.25
    assert simulated == pytest.approx(age_replacement_cost_rate(T, shape, scale, cp, cf), rel=0.01)
    # with no minimum gap the true law is the two-parameter Weibull
    assert true_cost_rate(T, shape, scale, 0.0, cp, cf) == pytest.approx(age_replacement_cost_rate(T, shape, scale,
                                                                                                  cp, cf))


def test_benchmark_compares_policies_on_the_true_life_law():
    company = generate_company(load_profile("parameters/companies/mixed_trades.yaml"), seed=5, scale=1)
    result = run(company, cycles=20_000, capacity_share=0.01, horizon_weeks=26, fleet_scale=2)
    assert set(result["kinds"]) == {"diagnostic", "heavy"}
    for kind in result["kinds"].values():
        sim = kind["simulated_on_truth"]
        assert kind["truth"]["shape"] == RELIABILITY["weibull_shape"] == 2.2  # the life law from new
        # the true optimum is the cheapest policy on the true law, up to simulation noise
        best = sim["true optimum"]["cost_per_unit_year"]
        assert all(best <= s["cost_per_unit_year"] + 3 * s["se"] + 3 * sim["true optimum"]["se"]
                   for s in sim.values())
        assert sim["run to failure"]["failure_share"] == 1.0 and kind["saving_vs_run_to_failure"] > 0
    for fleet in result["schedule"].values():
        capped = fleet["capacity"]
        assert capped["peak_week_hours"] <= capped["capacity_hours_per_week"] + 1e-9
        assert fleet["unlimited"]["units"] == capped["units"] > 0
