"""NPV, IRR and payback against closed forms and numpy-financial; the Monte Carlo against the expectation."""

from __future__ import annotations

import numpy as np
import numpy_financial as npf
import pytest

from quantlib.finance import (
    InvestmentCase,
    InvestmentError,
    appraisal_table,
    appraise,
    cash_flows,
    monthly_rate,
    payback_months,
    simulate,
)


def _annuity_npv(cost, gain, n, r):
    return -cost + gain * (1 - (1 + r) ** -n) / r


def test_npv_irr_roi_and_payback_of_a_level_annuity():
    case = InvestmentCase("van", upfront_cost=45_000, monthly_gain=3_000, life_months=36)
    got = appraise(case, discount_rate=0.10)
    r = monthly_rate(0.10)
    assert r == pytest.approx(1.10 ** (1 / 12) - 1)
    assert got["npv"] == pytest.approx(_annuity_npv(45_000, 3_000, 36, r), rel=1e-10)
    # at the IRR the NPV is zero
    irr_month = (1 + got["irr"]) ** (1 / 12) - 1
    assert _annuity_npv(45_000, 3_000, 36, irr_month) == pytest.approx(0, abs=1e-6)
    assert got["irr"] == pytest.approx((1 + npf.irr(cash_flows(case))) ** 12 - 1)
    assert got["roi"] == pytest.approx((3_000 * 36 - 45_000) / 45_000)
    assert got["payback_months"] == pytest.approx(15.0)


def test_payback_is_linear_within_the_month_and_infinite_when_it_never_pays():
    assert payback_months(np.array([-1000, 400, 400, 400])) == pytest.approx(2.5)
    assert payback_months(np.array([-1000, 100, 100])) == float("inf")
    assert payback_months(np.array([0, 5])) == 0.0


def test_ramp_and_salvage_shape_the_flows():
    flows = cash_flows(InvestmentCase("x", 100, 10, life_months=4, ramp_months=2, salvage_value=7))
    np.testing.assert_allclose(flows, [-100, 5, 10, 10, 17])


def test_running_costs_do_not_scale_with_demand():
    case = InvestmentCase("crew", 10_000, monthly_gain=3_000, monthly_cost=2_000, life_months=12,
                          demand_lo_80=0.5, demand_hi_80=1.5)
    np.testing.assert_allclose(cash_flows(case, demand=0.5), [-10_000] + [-500] * 12)
    n = 50_000
    npv = simulate([case], n_scenarios=n, random_state=4)[:, 0]
    r = monthly_rate(0.10)
    pv_gain, pv_cost = _annuity_npv(0, 3_000, 12, r), _annuity_npv(0, 2_000, 12, r)
    assert npv.mean() == pytest.approx(pv_gain - pv_cost - 10_000, abs=4 * npv.std() / np.sqrt(n))
    # the NPV is linear in demand: its spread is the gains' alone (lognormal, log-sd from the wider side, ln 2)
    sigma = np.log(2.0) / 1.2815515655446004
    assert npv.std() == pytest.approx(pv_gain * np.sqrt(np.exp(sigma ** 2) - 1), rel=0.03)


def test_the_hurdle_is_roi_025_and_18_months_payback():
    quick = InvestmentCase("quick", 10_000, 1_000, 24)      # payback 10, roi 1.4
    slow = InvestmentCase("slow", 10_000, 500, 24)          # payback 20, roi 0.2
    table = appraisal_table([quick, slow]).set_index("investment")
    assert table.loc["quick", "meets_hurdle"] and not table.loc["slow", "meets_hurdle"]


@pytest.mark.parametrize("field,value", [("upfront_cost", -1), ("life_months", 0), ("life_months", 2.5),
                                         ("demand_lo_80", 1.2), ("demand_hi_80", 0.9), ("cost_overrun_sd", -0.1),
                                         ("ramp_months", 99)])
def test_a_bad_case_names_its_field(field, value):
    data = {"name": "bad", "upfront_cost": 100.0, "monthly_gain": 10.0, "life_months": 12, field: value}
    with pytest.raises(InvestmentError, match=field):
        appraise(InvestmentCase(**data))


def test_simulated_npvs_centre_on_the_expected_npv_and_spread_with_the_interval():
    certain = InvestmentCase("certain", 50_000, 2_500, 48)
    unsure = InvestmentCase("unsure", 50_000, 2_500, 48, demand_lo_80=0.7, demand_hi_80=1.3, cost_overrun_sd=0.1)
    npv = simulate([certain, unsure], n_scenarios=20_000, random_state=1)
    expected = appraise(certain)["npv"]
    assert npv[:, 0] == pytest.approx(np.full(20_000, expected))
    assert npv[:, 1].mean() == pytest.approx(expected, abs=0.02 * 50_000)
    # the 80 % interval of demand becomes the 80 % interval of the gains' present value
    gains = expected + 50_000
    lo, hi = np.quantile(npv[:, 1] + 50_000, [0.1, 0.9])
    assert lo / gains == pytest.approx(0.7 * np.exp(-(np.log(1 / 0.7) / 1.2816) ** 2 / 2), abs=0.06)
    assert hi > gains


def test_demand_correlation_moves_the_cases_together():
    cases = [InvestmentCase(f"c{i}", 1_000, 100, 24, demand_lo_80=0.8, demand_hi_80=1.25) for i in range(2)]
    apart = np.corrcoef(simulate(cases, 5_000, demand_correlation=0.0).T)[0, 1]
    together = np.corrcoef(simulate(cases, 5_000, demand_correlation=0.9).T)[0, 1]
    assert abs(apart) < 0.05 and together > 0.85
