"""Cash-flow simulator: a hand-checkable tiny company (fixed days-to-pay, constant work), the
warning date on a constructed cash path, no leakage, the demo company's magnitudes, errors."""

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from quantlib.forecast.cashflow import CASHFLOW_TARGETS, CashFlowSimulator, backtest_cashflow, first_warning_date
from quantlib.forecast.pipeline import Snapshot, censor_snapshot, warehouse_snapshot

T = pd.Timestamp("2024-06-30")


def tiny_company(revenue=100.0, cost=40.0, fixed=20.0, pay_days=10, n_days=400, growth=1.0) -> Snapshot:
    """One job a day (revenue, direct cost), each invoice paid exactly ``pay_days`` later.

    With ``growth`` the revenue grows by that factor a year (``revenue`` on the last day).
    """
    days = pd.date_range(end=T, periods=n_days, freq="D")
    revenue = revenue * growth ** ((np.arange(n_days) - (n_days - 1)) / 365)
    jobs = pd.DataFrame({
        "job_id": [f"J{i}" for i in range(n_days)], "customer_id": "C1", "quote_id": None,
        "contract_id": None, "service_line": "hvac", "job_type": "repair", "urgency": "routine",
        "region": "r", "created_at": days, "scheduled_start": days, "completed_at": days,
        "completed_date": days, "is_completed": True, "is_cancelled": False, "scheduled_hours": 2.0,
        "labor_hours": 2.0, "travel_minutes": 20.0, "revenue": revenue, "direct_cost": cost,
    })
    invoices = pd.DataFrame({"invoice_id": [f"I{i}" for i in range(n_days)], "customer_id": "C1",
                             "job_id": jobs["job_id"], "issued_date": days,
                             "due_date": days + pd.Timedelta(days=15), "amount": revenue,
                             "written_off": False})
    paid = days + pd.Timedelta(days=pay_days)
    payments = pd.DataFrame({"payment_id": invoices["invoice_id"], "invoice_id": invoices["invoice_id"],
                             "customer_id": "C1", "paid_date": paid, "amount": revenue})
    acc = pd.DataFrame({"date": days, "category": "rent", "kind": "fixed", "amount": fixed})
    full = Snapshot(as_of=T + pd.Timedelta(days=pay_days), tables={
        "jobs": jobs, "invoices": invoices, "payments": payments, "expense_accruals": acc,
        "contracts": pd.DataFrame({"contract_id": [], "customer_id": [], "service_line": [],
                                   "start_date": pd.to_datetime([]), "end_date": pd.to_datetime([]),
                                   "monthly_fee": [], "visits_per_year": []}),
    })
    return censor_snapshot(full, T)


def test_first_warning_date_on_a_constructed_path():
    ds = pd.date_range("2025-01-01", periods=5)
    assert first_warning_date(ds, [500, 400, 300, 200, 100], 250) == pd.Timestamp("2025-01-04")
    assert first_warning_date(ds, [500] * 5, 250) is None
    assert first_warning_date(ds, [500, 400, 300, 200, 100], [600, 0, 0, 0, 0]) == ds[0]


def test_collections_follow_a_fixed_days_to_pay():
    snap = tiny_company()
    fc = CashFlowSimulator(horizon=30, n_sims=20).fit(snap)
    d = fc.daily_
    # Invoices issued T-9 .. T are open and each is paid 10 days after issue: T+1 .. T+10.
    assert len(snap["open_invoices"]) == 10
    assert np.allclose(d["collections_open"].iloc[:10], 100.0)
    assert np.allclose(d["collections_open"].iloc[10:], 0.0)
    # Work done from T+1 on is collected 10 days later.
    assert np.allclose(d["collections_new"].iloc[:10], 0.0)
    assert np.allclose(d["collections_new"].iloc[10:], 100.0)
    assert np.allclose(d["outflow"], 20.0 + 40.0)
    assert np.allclose(d["net"], 40.0)
    assert np.allclose(d["cash"], np.cumsum(np.full(30, 40.0)))


def test_short_history_starts_at_the_first_job():
    # 200 days of work: the days before the first job are not bootstrapped as idle days.
    fc = CashFlowSimulator(horizon=30, n_sims=20).fit(tiny_company(n_days=200))
    assert np.allclose(fc.daily_["revenue"], 100.0)
    assert np.allclose(fc.daily_["collections_new"].iloc[10:], 100.0)
    assert fc.residual_sigma_ == 0.0  # a deterministic company: the inner backtests are exact


def test_growth_lifts_the_bootstrapped_days():
    fc = CashFlowSimulator(horizon=30, n_sims=20).fit(tiny_company(n_days=700, growth=1.2))
    assert fc.growth_ == pytest.approx(1.2, rel=0.005)
    expected = 100.0 * 1.2 ** (np.arange(1, 31) / 365)
    np.testing.assert_allclose(fc.daily_["revenue"], expected, rtol=0.005)
    flat = CashFlowSimulator(horizon=30, n_sims=20).fit(tiny_company(n_days=700))
    assert flat.growth_ == pytest.approx(1.0)


def test_warning_date_when_cash_falls_below_30_days_of_expenses():
    # Outflow 140 a day, inflow 100: net -40; threshold 30 x 140 = 4200; cash 5000 - 40 d.
    snap = tiny_company(fixed=100.0)
    fc = CashFlowSimulator(horizon=60, n_sims=20, starting_cash=5000.0).fit(snap)
    assert fc.threshold_ == pytest.approx(4200.0)
    assert fc.warning_date_ == T + pd.Timedelta(days=21)
    rich = CashFlowSimulator(horizon=60, n_sims=20, starting_cash=1e6).fit(snap)
    assert rich.warning_date_ is None


def test_demo_company_magnitudes_and_no_leakage(demo_lake):
    snap = warehouse_snapshot(demo_lake.gold)
    as_of = pd.Timestamp("2024-09-30")
    fc = CashFlowSimulator(n_sims=100, starting_cash=100_000).fit(snap, as_of=as_of)
    d = fc.daily_
    assert len(d) == 90 and d["ds"].iloc[0] == as_of + pd.Timedelta(days=1)
    # Inflows over 90 days are of the order of the last 90 days' payments.
    pay = snap["payments"]
    last90 = pay[(pay["paid_date"] > as_of - pd.Timedelta(days=90)) & (pay["paid_date"] <= as_of)]["amount"].sum()
    assert 0.7 * last90 < d["inflow"].sum() < 1.4 * last90
    assert (d["cash_lo_95"] <= d["cash_lo_80"]).all() and (d["cash_lo_80"] <= d["cash"]).all()
    assert (d["cash"] <= d["cash_hi_80"]).all()
    assert fc.emergency_rate_[0] > 0 and 0 < fc.direct_cost_share_ < 1
    # The residual spread is calibrated on three inner backtests.
    assert fc.calibration_["origin"].nunique() == 3 and fc.residual_sigma_ >= 0
    # Changing what happened after as_of does not change the forecast.
    changed = censor_snapshot(snap, snap.as_of)
    pays = changed.tables["payments"]
    pays.loc[pays["paid_date"] > as_of, "amount"] *= 10
    jobs = changed.tables["jobs"]
    jobs.loc[jobs["completed_date"] > as_of, "revenue"] *= 10
    again = CashFlowSimulator(n_sims=100, starting_cash=100_000).fit(changed, as_of=as_of)
    pd.testing.assert_frame_equal(again.daily_, d)


def test_backtest_reports_targets(demo_lake):
    snap = warehouse_snapshot(demo_lake.gold)
    detail, summary = backtest_cashflow(snap, n_origins=1, simulator=CashFlowSimulator(n_sims=50))
    assert list(summary["window"]) == [30, 60, 90]
    assert list(summary["target_accuracy"]) == [CASHFLOW_TARGETS[w] for w in (30, 60, 90)]
    assert summary["inflow_accuracy"].between(0.5, 1).all()


def test_bad_input():
    snap = tiny_company()
    with pytest.raises(ValueError, match="horizon"):
        CashFlowSimulator(horizon=0).fit(snap)
    with pytest.raises(ValueError, match="n_sims"):
        CashFlowSimulator(n_sims=1).fit(snap)
    with pytest.raises(ValueError, match="calibration_origins"):
        CashFlowSimulator(calibration_origins=-1).fit(snap)
    empty = censor_snapshot(snap, T)
    empty.tables["payments"] = empty.tables["payments"].iloc[:0]
    with pytest.raises(ValueError, match="no paid invoices"):
        CashFlowSimulator(horizon=30, n_sims=20).fit(empty)
    with pytest.raises(NotFittedError):
        CashFlowSimulator().forecast()


def test_inflow_intervals_cover_at_nominal_rate_on_a_simulated_company():
    # One job a day with a random ticket, each invoice paid after a random 5-25 days. The
    # 30-day inflow of 300 independent futures of the same process falls inside the 80 %
    # interval at about the nominal rate.
    rng = np.random.default_rng(7)
    n = 400
    days = pd.date_range(end=T, periods=n, freq="D")
    revenue = rng.lognormal(np.log(100), 0.5, n)
    pay = rng.integers(5, 26, n)
    snap = tiny_company(n_days=n)
    jobs, inv = snap.tables["jobs"].copy(), snap.tables["invoices"].copy()
    jobs["revenue"], inv["amount"] = revenue, revenue
    paid_on = days + pd.to_timedelta(pay, unit="D")
    payments = pd.DataFrame({"payment_id": inv["invoice_id"], "invoice_id": inv["invoice_id"], "customer_id": "C1",
                             "paid_date": paid_on, "amount": revenue})
    full = Snapshot(as_of=T + pd.Timedelta(days=40), tables={
        "jobs": jobs, "invoices": inv, "payments": payments,
        "expense_accruals": snap.tables["expense_accruals"], "contracts": snap.tables["contracts"]})
    known = censor_snapshot(full, T)
    fc = CashFlowSimulator(horizon=30, n_sims=400).fit(known)
    lo, hi = fc.totals(windows=(30,))[["inflow_lo_80", "inflow_hi_80"]].iloc[0]
    open_inv = known["open_invoices"]
    age = (T - pd.to_datetime(open_inv["issued_date"])).dt.days.to_numpy()
    covered = []
    for _ in range(300):
        # Open invoices: a fresh 5-25 day delay given that it is later than their age.
        d_open = np.array([rng.integers(max(5, a + 1), 26) for a in age]) - age
        total = float(open_inv["open_amount"].to_numpy()[d_open <= 30].sum())
        r = rng.lognormal(np.log(100), 0.5, 30)
        d_new = np.arange(1, 31) + rng.integers(5, 26, 30)
        total += float(r[d_new <= 30].sum())
        covered.append(lo <= total <= hi)
    assert 0.7 <= np.mean(covered) <= 0.95
