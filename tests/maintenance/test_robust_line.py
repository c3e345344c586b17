import numpy as np
import pytest
import statsmodels.api as sm

from quantlib.maintenance.sensors import grouped_huber_line


def test_grouped_huber_matches_statsmodels_rlm_per_group():
    rng = np.random.default_rng(3)
    k, n = 12, 300
    g = np.repeat(np.arange(k), n)
    x = rng.normal(15, 8, k * n)
    a, b = rng.normal(40, 5, k), rng.normal(0.4, 0.1, k)
    y = a[g] + b[g] * x + rng.normal(0, 1, k * n)
    spikes = rng.random(k * n) < 0.06  # drift days: one-sided outliers
    y[spikes] += rng.normal(8, 3, spikes.sum())
    fit = grouped_huber_line(x, y, g)
    for i in range(k):
        ref = sm.RLM(y[g == i], sm.add_constant(x[g == i]), M=sm.robust.norms.HuberT()).fit(conv="coefs", tol=1e-10)
        assert fit.loc[i, ["intercept", "slope"]].to_numpy() == pytest.approx(ref.params, abs=1e-5)
    # the outliers would drag least squares up; the robust fit stays on the truth
    ols = np.polyfit(x[g == 0], y[g == 0], 1)
    assert abs(fit.loc[0, "intercept"] - a[0]) < abs(ols[1] - a[0])


def test_a_group_with_one_x_value_gets_a_flat_line():
    fit = grouped_huber_line([1.0, 1.0, 1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 1.0, 2.0, 3.0],
                             ["a", "a", "a", "b", "b", "b"])
    assert fit.loc["a", "slope"] == 0.0 and fit.loc["a", "intercept"] == pytest.approx(6.0)
    assert fit.loc["b", "slope"] == pytest.approx(1.0) and fit.loc["b", "intercept"] == pytest.approx(-1.0)
