"""SPC: the charts against hand formulas, and the early warning on crafted data with a shift."""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pandas as pd
import pytest

from quantlib.risk import INDICATORS, load_risk_parameters
from quantlib.risk.spc import control_chart, cusum, ewma


def test_ewma_by_hand():
    baseline = [8.0, 9.0, 8.0, 9.0]          # centre 8.5, sigma = sd(ddof=1) = 0.57735
    chart = ewma([8.5, 7.5], baseline, lam=0.5, worse="lower")
    assert chart["ewma"].tolist() == [8.5, 8.0]
    sigma = np.std(baseline, ddof=1)
    s2 = sigma * np.sqrt(0.5 / 1.5 * (1 - 0.5 ** 4))
    assert chart["statistic"].iloc[1] == pytest.approx((8.5 - 8.0) / s2)
    # Higher-is-worse reads the same distance with the other sign.
    assert ewma([8.5, 7.5], baseline, lam=0.5, worse="higher")["statistic"].iloc[1] == pytest.approx(-(8.5 - 8.0) / s2)


def test_ewma_carries_forward_over_missing_weeks():
    chart = ewma([7.0, np.nan, 7.0], [8.0, 9.0, 8.0, 9.0], lam=0.2)
    assert chart["ewma"].iloc[1] == chart["ewma"].iloc[0]


def test_cusum_by_hand():
    baseline = [0.1, 0.2, 0.1, 0.2]          # centre 0.15, sigma 0.057735
    sigma = np.std(baseline, ddof=1)
    chart = cusum([0.15, 0.3, 0.3], baseline, k=0.5, worse="higher")
    d = (0.3 - 0.15) / sigma
    assert chart["statistic"].tolist() == pytest.approx([0.0, d - 0.5, 2 * (d - 0.5)])


def test_control_chart_refuses_unknown_method_and_tiny_baselines():
    with pytest.raises(ValueError, match="ewma"):
        control_chart([1.0], [1.0, 2.0], method="shewhart")
    with pytest.raises(ValueError, match="two baseline"):
        ewma([1.0], [1.0])


def _crafted_gold(shift_day: dt.date, shift: float, end: dt.date, seed: int = 7) -> duckdb.DuckDBPyConnection:
    """Six rated jobs a day, ratings ~ N(8.3, 1) capped at 0-10, dropping by ``shift`` from ``shift_day``."""
    rng = np.random.default_rng(seed)
    days = pd.date_range(end - dt.timedelta(days=7 * 70), end, freq="D")
    rows = []
    for day in days:
        mean = 8.3 - (shift if day.date() >= shift_day else 0.0)
        for rating in np.clip(rng.normal(mean, 1.0, 6), 0, 10):
            rows.append({"completed_date": day.date(), "rating": float(rating), "is_completed": True,
                         "callback": False, "service_line": "hvac", "revenue": 100.0})
    con = duckdb.connect(":memory:")
    con.register("jobs_frame", pd.DataFrame(rows))
    con.execute("CREATE TABLE job_facts AS SELECT * FROM jobs_frame")
    con.execute("CREATE TABLE interactions (ts TIMESTAMP, kind VARCHAR)")
    con.execute("CREATE TABLE build_params AS SELECT ?::DATE AS as_of", [end])
    return con


def test_spc_warns_before_the_monthly_average_crosses_its_threshold():
    # Satisfaction drops from 8.3 to 7.3 on 10 May: the May average (partly before the drop)
    # stays above the 7.5 warning; June's crosses it at the month end.
    params = load_risk_parameters()
    shift_day, end = dt.date(2024, 5, 10), dt.date(2024, 6, 30)
    con = _crafted_gold(shift_day, 1.0, end)
    warning = INDICATORS["satisfaction"](con, end, params).warning
    monthly = con.execute("""SELECT last_day(completed_date) AS month_end, avg(rating) FROM job_facts
                             GROUP BY 1 ORDER BY 1""").fetchall()
    crossed = next(month_end for month_end, mean in monthly if mean <= warning)
    assert crossed == dt.date(2024, 6, 30)
    signal = None
    day = shift_day - dt.timedelta(days=14)
    while day <= end:
        reading = INDICATORS["satisfaction_spc"](con, day, params)
        if reading.level in ("warning", "critical"):
            signal = day
            break
        day += dt.timedelta(days=1)
    assert signal is not None and shift_day <= signal < crossed
    assert (crossed - signal).days >= 21  # weeks of early warning, not days
    # Before the drop the chart is quiet.
    assert INDICATORS["satisfaction_spc"](con, shift_day - dt.timedelta(days=1), params).level in ("none", "info")


def test_cusum_method_also_warns_early():
    params = load_risk_parameters().model_copy(
        update={"spc": load_risk_parameters().spc.model_copy(update={"method": "cusum"})})
    shift_day, end = dt.date(2024, 5, 10), dt.date(2024, 6, 30)
    con = _crafted_gold(shift_day, 1.0, end)
    reading = INDICATORS["satisfaction_spc"](con, dt.date(2024, 5, 31), params)
    assert reading.level in ("warning", "critical")
    assert {"statistic", "sigma", "mean_rating"} <= set(reading.drivers.columns)
