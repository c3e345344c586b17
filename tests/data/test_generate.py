"""The generator: contracts hold, the same seed gives the same bytes, the ground truth is recoverable."""

import hashlib
import json
import math

import numpy as np
import pandas as pd
import pandera.errors
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf

from quantlib.data.contracts import (
    CONTRACTS,
    FAILURE_MODES,
    OPERATING_STATES,
    TABLE_ORDER,
    check_relations,
    schema_failures,
)
from quantlib.data.generate import (
    FAILURE_MODE_MIX,
    MAJOR_REPAIR_QUOTE_SHARE,
    OPERATING_CHAINS,
    RELIABILITY,
    STORM_MULTIPLIER,
    WEEKDAY_FACTORS,
    _age_process,
    generate_company,
    write_company,
)
from quantlib.data.profile import MONTH_SEASON, load_profile
from tests.conftest import PROFILES


def _digest(directory):
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*.parquet"))}


@pytest.mark.parametrize("company_fixture", ["mixed_company", "seasonal_company"])
def test_every_table_meets_its_contract(company_fixture, request):
    company = request.getfixturevalue(company_fixture)
    tables = {}
    for name in TABLE_ORDER:
        df = company.tables[name]
        assert list(df.columns) == CONTRACTS[name].columns
        assert len(df) > 0, name
        try:
            tables[name] = CONTRACTS[name].validate(df)
        except pandera.errors.SchemaErrors as exc:  # pragma: no cover - message for the failure
            pytest.fail(f"{name}: {schema_failures(name, exc).head(10).to_string()}")
    for name in TABLE_ORDER:
        violations = check_relations(name, tables[name], tables)
        assert violations.empty, f"{name}: {violations.head().to_string()}"


def test_same_seed_same_bytes_and_other_seed_differs(tmp_path):
    profile = load_profile(PROFILES / "mixed_trades.yaml")
    write_company(generate_company(profile, seed=3, scale=0.3), tmp_path / "a")
    write_company(generate_company(profile, seed=3, scale=0.3), tmp_path / "b")
    write_company(generate_company(profile, seed=4, scale=0.3), tmp_path / "c")
    a, b, c = (_digest(tmp_path / x) for x in "abc")
    assert len(a) == len(TABLE_ORDER) + 9  # the tables and nine ground-truth tables (equipment_wear the ninth)
    assert a == b
    assert a["jobs.parquet"] != c["jobs.parquet"]
    truth = json.loads((tmp_path / "a" / "_truth" / "ground_truth.json").read_text())
    assert truth["seed"] == 3 and truth["seasonal_factors"]["hvac"]["summer"] == 1.4


def test_scale_multiplies_volume():
    profile = load_profile(PROFILES / "mixed_trades.yaml")
    small = generate_company(profile, scale=0.5)
    large = generate_company(profile, scale=2.0)
    ratio = len(large.tables["jobs"]) / len(small.tables["jobs"])
    assert 3.2 < ratio < 4.8
    assert len(large.tables["technicians"]) > 3 * len(small.tables["technicians"])


def _daily_demand(company, line):
    """Daily counts of demand jobs (not contract visits, not quoted installs and repairs) of one line.

    Counted by the day asked for: the demand. A full day's jobs spill to later days, so
    the scheduled day is the demand bounded by capacity.
    """
    jobs = company.tables["jobs"]
    # A quoted job follows its quote's timing (and only won quotes become jobs): not demand by its day.
    demand = jobs[(jobs["service_line"] == line) & jobs["contract_id"].isna() & jobs["quote_id"].isna()]
    end = pd.Timestamp(company.profile.end)
    days = pd.date_range(company.profile.start, end, freq="D")
    counts = demand.groupby(demand["requested_date"].dt.normalize()).size().reindex(days, fill_value=0)
    frame = pd.DataFrame({"y": counts.to_numpy(), "date": days})
    frame["season"] = frame["date"].dt.month.map(MONTH_SEASON)
    frame["weekday"] = frame["date"].dt.day_of_week
    frame["t"] = np.arange(len(frame)) / 365.25
    return frame


def _poisson_fit(frame, extra=""):
    import holidays

    us = holidays.US(years=range(frame["date"].dt.year.min(), frame["date"].dt.year.max() + 1))
    frame = frame.assign(holiday=frame["date"].dt.date.map(lambda d: d in us).astype(int))
    formula = "y ~ C(season, Treatment('fall')) + C(weekday) + holiday + t + I(t**2)" + extra
    return smf.glm(formula, frame, family=sm.families.Poisson()).fit()


@pytest.mark.parametrize("company_fixture,line", [("mixed_company", "hvac"), ("mixed_company", "plumbing"),
                                                  ("seasonal_company", "landscaping")])
def test_seasonal_factors_recovered(company_fixture, line, request):
    company = request.getfixturevalue(company_fixture)
    truth = company.truth["seasonal_factors"][line]
    fit = _poisson_fit(_daily_demand(company, line))
    for season in ("winter", "spring", "summer"):
        estimated = np.exp(fit.params[f"C(season, Treatment('fall'))[T.{season}]"])
        expected = truth[season] / truth["fall"]
        assert estimated == pytest.approx(expected, rel=0.10), (line, season)


def test_weekday_and_holiday_effects_recovered(mixed_company):
    fit = _poisson_fit(_daily_demand(mixed_company, "hvac"))
    saturday = np.exp(fit.params["C(weekday)[T.5]"])
    assert saturday == pytest.approx(WEEKDAY_FACTORS[5] / WEEKDAY_FACTORS[0], rel=0.12)
    assert np.exp(fit.params["holiday"]) == pytest.approx(mixed_company.truth["holiday_factor"], abs=0.12)


def test_roofing_storm_multiplier_tied_to_weather(seasonal_company):
    frame = _daily_demand(seasonal_company, "roofing")
    weather = seasonal_company.tables["weather"]
    customers = seasonal_company.tables["customers"]
    # Demand per region, with the storm window taken from that region's weather rows.
    jobs = seasonal_company.tables["jobs"]
    estimates = []
    for region, storms in weather.groupby("region"):
        storm = storms.set_index("date")["storm"].astype(float)
        window = storm.rolling(7, min_periods=1).max().reindex(frame["date"]).to_numpy()
        region_jobs = jobs[(jobs["region"] == region) & (jobs["service_line"] == "roofing")
                           & jobs["contract_id"].isna() & jobs["quote_id"].isna()]
        counts = region_jobs.groupby(region_jobs["requested_date"].dt.normalize()).size()
        region_frame = frame.assign(y=counts.reindex(frame["date"], fill_value=0).to_numpy(), storm=window)
        fit = _poisson_fit(region_frame, extra=" + storm")
        estimates.append(np.exp(fit.params["storm"]))
    assert len(estimates) == customers["region"].nunique()
    for estimate in estimates:
        assert estimate == pytest.approx(STORM_MULTIPLIER, rel=0.15)


def test_growth_trend(mixed_company):
    jobs = mixed_company.tables["jobs"]
    done = jobs[jobs["status"] == "completed"]
    per_year = done.groupby(done["scheduled_start"].dt.year).size()
    growth = (per_year.iloc[-1] / per_year.iloc[0]) ** 0.5 - 1
    assert growth == pytest.approx(mixed_company.profile.annual_growth, abs=0.05)


def test_churners_decline_before_they_leave(mixed_company):
    truth = mixed_company.truth_tables["customers"]
    jobs = mixed_company.tables["jobs"]
    churned = truth[truth["churned"] & (truth["churn_date"] > pd.Timestamp("2023-01-01"))]
    merged = jobs.merge(churned[["customer_id", "churn_date"]], on="customer_id")
    days_before = (merged["churn_date"] - merged["scheduled_start"]).dt.days
    last = ((days_before > 0) & (days_before <= 180)).sum()
    previous = ((days_before > 180) & (days_before <= 360)).sum()
    assert last / previous < 0.7  # the spec's "declining service frequency" signal
    after = (merged["scheduled_start"] > merged["churn_date"] + pd.Timedelta(days=1)).sum()
    assert after == 0


def test_churn_drivers(mixed_company):
    truth = mixed_company.truth_tables["customers"]
    rate = truth.groupby("late_payer")["churned"].mean()
    assert rate[True] > 1.5 * rate[False]
    with_contract = truth.groupby("has_contract")["churned"].mean()
    assert with_contract[True] < with_contract[False]


def test_late_payers_pay_late(mixed_company):
    t = mixed_company.tables
    paid = t["payments"].merge(t["invoices"][["invoice_id", "issued_date"]], on="invoice_id")
    paid["days"] = (paid["paid_date"] - paid["issued_date"]).dt.days
    late = set(mixed_company.truth_tables["customers"].query("late_payer")["customer_id"])
    is_late = paid["customer_id"].isin(late)
    assert paid.loc[is_late, "days"].mean() > 40
    assert paid.loc[~is_late, "days"].mean() < 30


def test_technicians_differ_in_speed_and_callbacks(mixed_company):
    jobs = mixed_company.tables["jobs"]
    done = jobs[jobs["status"] == "completed"]
    observed = done.groupby("technician_id").agg(
        ratio=("labor_hours", "sum"), planned=("scheduled_hours", "sum"), callbacks=("callback", "mean"),
        n=("job_id", "size"))
    observed["speed"] = observed["ratio"] / observed["planned"]
    truth = mixed_company.truth_tables["technicians"].set_index("technician_id")
    both = observed[observed["n"] > 300].join(truth.add_suffix("_true"))
    assert len(both) >= 8
    assert np.corrcoef(both["speed"], both["speed_true"])[0, 1] > 0.9
    assert np.corrcoef(both["callbacks"], both["callback_rate_true"])[0, 1] > 0.6


def test_quote_win_rate_falls_with_price_and_rises_with_urgency(mixed_company):
    quotes = mixed_company.tables["quotes"]
    truth = mixed_company.truth_tables["quotes"]
    decided = quotes[quotes["status"] != "open"].merge(truth, on="quote_id")
    decided["won"] = (decided["status"] == "won").astype(int)
    decided["urgent"] = (decided["urgency"] == "urgent").astype(int)
    fit = smf.logit("won ~ I(price_ratio - 1) + urgent", decided).fit(disp=0)
    # The slope differs by segment, line and urgency; one pooled slope lands near their mean.
    mean_slope = mixed_company.truth["quote_win_model"]["price_coefficient"]["quote_weighted_mean"]
    assert -5.5 < mean_slope < -3.5
    assert fit.params["I(price_ratio - 1)"] == pytest.approx(mean_slope, abs=1.5)
    assert fit.params["urgent"] == pytest.approx(0.7, abs=0.35)


def _drift_ratio(telemetry, failures, column, how="ratio"):
    """Per failure: the reading in the 5 days before it against the 60 days before its drift."""
    out = []
    by_unit = {k: g.set_index("ts")[column] for k, g in telemetry.groupby("equipment_id")}
    for failure in failures.itertuples():
        series = by_unit[failure.equipment_id]
        day = failure.failure_date
        baseline = series[(series.index < failure.drift_start - pd.Timedelta(days=5))].tail(60).median()
        before = series[(series.index > day - pd.Timedelta(days=5)) & (series.index <= day + pd.Timedelta(days=1))]
        if len(before) and baseline == baseline:
            out.append(before.median() / baseline if how == "ratio" else before.median() - baseline)
    return np.array(out)


def test_equipment_drifts_before_failure_by_mode(mixed_company):
    telemetry = mixed_company.tables["telemetry"]
    failures = mixed_company.truth_tables["equipment_failures"]
    assert len(failures) >= 10
    assert set(failures["failure_mode"]) <= set(FAILURE_MODES)
    # Each mode has its own signature: bearings shake, leaks lose pressure, electrical faults run hot.
    bearing = failures[failures.failure_mode == "bearing"]
    assert len(bearing) >= 3 and np.median(_drift_ratio(telemetry, bearing, "vibration")) > 2.0
    leak = failures[failures.failure_mode == "refrigerant_leak"]
    assert len(leak) >= 3 and np.median(_drift_ratio(telemetry, leak, "pressure", "diff")) < -8
    assert np.median(_drift_ratio(telemetry, leak, "vibration")) < 1.3
    electrical = failures[failures.failure_mode == "electrical"]
    assert len(electrical) >= 3 and np.median(_drift_ratio(telemetry, electrical, "vibration")) < 1.4
    assert np.median(_drift_ratio(telemetry, electrical, "temperature", "diff")) > 4
    # A control board gives little warning: a short window and no steady climb.
    board = failures[failures.failure_mode == "control_board"]
    lead = (board.failure_date - board.drift_start).dt.days
    assert len(board) >= 3 and lead.max() <= 7 and np.median(_drift_ratio(telemetry, board, "vibration")) < 1.5
    assert (bearing.failure_date - bearing.drift_start).dt.days.median() > 20
    # The modes follow each kind's mix: no refrigerant leaks on heavy equipment.
    kind = failures.merge(mixed_company.tables["equipment"][["equipment_id", "kind"]], on="equipment_id")["kind"]
    assert not ((kind == "heavy") & (failures.failure_mode == "refrigerant_leak").to_numpy()).any()
    truth = mixed_company.truth["equipment_drift"]
    assert truth["failure_mode_mix_by_kind"] == FAILURE_MODE_MIX
    assert truth["failures_by_mode"] == failures["failure_mode"].value_counts().to_dict()
    # The failure is recorded as a maintenance event on the same day, with the mode the technician found.
    events = mixed_company.tables["maintenance_events"]
    recorded = events[events["kind"] == "failure"][["equipment_id", "scheduled_date", "failure_mode"]]
    assert len(recorded) == len(failures)
    found = recorded.merge(failures, left_on=["equipment_id", "scheduled_date"],
                           right_on=["equipment_id", "failure_date"], suffixes=("", "_truth"))
    assert len(found) == len(failures) and (found.failure_mode == found.failure_mode_truth).all()
    assert events.loc[events["kind"] != "failure", "failure_mode"].isna().all()


def test_write_offs_and_publications_are_dated(mixed_company):
    inv = mixed_company.tables["invoices"]
    end = pd.Timestamp(mixed_company.profile.end)
    off = inv["status"] == "written_off"
    assert off.any() and inv["written_off_at"].notna().eq(off).all()
    dated = inv[off]
    assert (dated["written_off_at"] >= dated["issued_date"]).all() and (dated["written_off_at"] <= end).all()
    assert dated["disputed"].all()
    assert not set(dated["invoice_id"]) & set(mixed_company.tables["payments"]["invoice_id"])
    econ = mixed_company.tables["economic_indicators"]
    assert (econ["published_at"] == econ["month"] + pd.offsets.MonthBegin(1) + pd.Timedelta(days=14)).all()


def test_repairs_and_installs_are_quoted_and_only_won_quotes_become_jobs(mixed_company):
    quotes, jobs = mixed_company.tables["quotes"], mixed_company.tables["jobs"]
    truth = mixed_company.truth
    assert set(quotes["job_type"]) == {"install", "repair"} == set(truth["quotes"]["job_types"])
    assert truth["quotes"]["quoted_share_of_events"] == {"install": 1.0, "repair": MAJOR_REPAIR_QUOTE_SHARE}
    assert truth["quotes"]["quotes_by_job_type"] == quotes["job_type"].value_counts().to_dict()
    # The truth table carries each quote's job type.
    table = mixed_company.truth_tables["quotes"]
    assert table["quote_id"].tolist() == quotes["quote_id"].tolist()
    assert (table["job_type"] == quotes["job_type"]).all()
    # A won quote has one job of its type with its quote_id; a lost or open quote has none.
    quoted = jobs[jobs["quote_id"].notna()]
    assert not quoted["quote_id"].duplicated().any()
    merged = quoted.merge(quotes, on="quote_id", suffixes=("", "_quote"))
    assert len(merged) == len(quoted)
    assert (merged["job_type"] == merged["job_type_quote"]).all()
    assert (merged["status_quote"] == "won").all()
    assert (merged["customer_id"] == merged["customer_id_quote"]).all()
    assert (merged["service_line"] == merged["service_line_quote"]).all()
    done = merged[merged["status"] == "completed"]
    np.testing.assert_allclose(done["revenue"], done["amount"])
    won = quotes[quotes["status"] == "won"]
    # Every won quote's job exists, unless it was booked after the end of the data.
    missing = won[~won["quote_id"].isin(quoted["quote_id"])]
    assert len(missing) <= 0.02 * len(won)
    for kind in ("install", "repair"):
        assert (merged["job_type"] == kind).sum() > 300, kind
    # Installs are only done through a quote; most repairs come without one.
    assert jobs.loc[jobs["job_type"] == "install", "quote_id"].notna().all()
    repairs = jobs[jobs["job_type"] == "repair"]
    assert 0.05 < repairs["quote_id"].notna().mean() < 0.4
    # The list amount follows the job's scope: a major repair is quoted above an ordinary repair's
    # revenue and below an install; a commercial customer's job above a residential one's.
    customers = mixed_company.tables["customers"].set_index("customer_id")["customer_type"]
    q = quotes.assign(customer_type=quotes["customer_id"].map(customers))
    median = q.groupby(["service_line", "job_type"])["list_amount"].median().unstack()
    ordinary = repairs[repairs["quote_id"].isna() & (repairs["status"] == "completed")]
    ordinary = ordinary.groupby("service_line")["revenue"].median()
    assert (median["repair"] < median["install"]).all()
    assert (median["repair"] > 1.5 * ordinary.reindex(median.index)).all()
    by_type = q.groupby(["job_type", "customer_type"])["list_amount"].median().unstack()
    assert (by_type["commercial"] > 1.1 * by_type["residential"]).all()


def test_age_process_is_weibull_and_preventive_maintenance_reduces_failures():
    rng = np.random.default_rng(3)
    n, horizon, shape, scale = 4000, 1100, RELIABILITY["weibull_shape"], 300.0
    scales = np.full(n, scale)
    none = np.full((n, 12), np.nan)
    units, days, _, ages = _age_process(rng, scales, shape, 0.5, none, np.zeros(n), 45, horizon)
    first = pd.Series(days, index=units).groupby(level=0).min() - 45
    # Without maintenance the first life (from age 0) is Weibull(shape, scale): mean scale x Gamma(1 + 1 / shape).
    assert len(first) > 0.95 * n
    assert first.mean() == pytest.approx(scale * math.gamma(1 + 1 / shape), rel=0.04)
    firsts = pd.DataFrame({"unit": units, "day": days, "age": ages}).groupby("unit").first()
    np.testing.assert_allclose(firsts["age"], firsts["day"] - 45, atol=1)
    due = np.arange(12) * 90 + 35.0
    on_schedule = np.tile(due, (n, 1))
    skipped = np.where(rng.random((n, 12)) < 0.5, on_schedule, np.nan)
    counts = {}
    for label, pm in (("none", none), ("half skipped", skipped), ("on schedule", on_schedule)):
        counts[label] = len(_age_process(np.random.default_rng(4), scales, shape, RELIABILITY["pm_age_reduction"],
                                         pm, np.zeros(n), 45, horizon)[0])
    assert counts["on schedule"] < 0.8 * counts["half skipped"] < 0.8 * 0.8 * counts["none"]
    # A maintenance that does not reduce the age changes nothing but the random draws.
    no_effect = _age_process(np.random.default_rng(4), scales, shape, 0.0, on_schedule, np.zeros(n), 45, horizon)[0]
    assert len(no_effect) == pytest.approx(counts["none"], rel=0.03)


def test_failures_follow_the_recorded_wear_age(mixed_company):
    failures = mixed_company.truth_tables["equipment_failures"]
    units = mixed_company.truth_tables["equipment_reliability"]
    truth = mixed_company.truth["equipment_reliability"]
    assert truth["weibull_shape"] == RELIABILITY["weibull_shape"] and truth["pm_age_reduction"] == 0.5
    assert units["failures"].sum() == len(failures) and set(units["equipment_id"]) == set(
        mixed_company.tables["equipment"]["equipment_id"])
    start = pd.Timestamp(mixed_company.profile.start) + pd.Timedelta(days=RELIABILITY["start_day"])
    assert (failures["failure_date"] >= start).all()
    events = mixed_company.tables["maintenance_events"]
    done = events[(events.kind == "preventive") & events.completed_date.notna()]
    assert units["preventive_done"].sum() == len(done)
    assert 0.84 < len(done) / units["preventive_due"].sum() < 0.92
    # The age at failure is at most the time since the unit was last new (maintenance only reduces it),
    # and equals it when no maintenance was done in between.
    checked = equal = 0
    for unit, group in failures.groupby("equipment_id"):
        since = start - pd.Timedelta(days=float(units.set_index("equipment_id").loc[unit, "initial_virtual_age_days"]))
        pm = done.loc[done.equipment_id == unit, "completed_date"]
        for f in group.sort_values("failure_date").itertuples():
            elapsed = (f.failure_date - since).days
            assert f.virtual_age_days <= elapsed + 1.5
            if not ((pm >= max(since, start)) & (pm <= f.failure_date)).any():
                assert f.virtual_age_days == pytest.approx(elapsed, abs=1.5)
                equal += 1
            checked += 1
            since = f.failure_date + pd.Timedelta(days=int(f.downtime_days) + 1)
    assert checked == len(failures) and 0 < equal < checked


def _expected_state_hours(work, night, hours_of_day):
    """Expected hours a day in each state of a chain that starts idle at midnight (no drift)."""
    dist, total = np.eye(len(OPERATING_STATES))[0], np.zeros(len(OPERATING_STATES))
    for hour in range(24):
        dist = dist @ (work if hour in range(*hours_of_day) else night)
        total += dist
    return total


def test_operating_states_follow_the_chain_and_drift_toward_fault_before_failures(mixed_company):
    states = mixed_company.tables["equipment_states"]
    hours = [f"{s}_hours" for s in OPERATING_STATES]
    assert (states[hours].sum(axis=1) == 24).all()
    # One row per day the unit was up: the same days as the telemetry.
    telemetry_days = mixed_company.tables["telemetry"][["equipment_id", "ts"]]
    telemetry_days = telemetry_days.assign(date=telemetry_days.ts.dt.normalize())
    assert len(states) == len(telemetry_days)
    assert (states[["equipment_id", "date"]].to_numpy() == telemetry_days[["equipment_id", "date"]].to_numpy()).all()
    truth = mixed_company.truth["operating_states"]
    assert truth["states"] == list(OPERATING_STATES)
    failures = mixed_company.truth_tables["equipment_failures"]
    # Days far from any failure's drift: mean hours per state as the truth's matrices predict.
    states = states.merge(mixed_company.tables["equipment"][["equipment_id", "kind"]], on="equipment_id")
    near = np.zeros(len(states), dtype=bool)
    for f in failures.itertuples():
        near |= ((states.equipment_id == f.equipment_id) & (states.date >= f.drift_start)
                 & (states.date <= f.failure_date)).to_numpy()
    for kind, group in states[~near].groupby("kind"):
        expected = _expected_state_hours(np.array(truth["working_hours"][kind]), np.array(truth["night"]),
                                         truth["working_hours_of_day"])
        np.testing.assert_allclose(group[hours].mean().to_numpy(), expected, atol=0.15)
        assert truth["working_hours"][kind] == [list(r) for r in OPERATING_CHAINS["working_hours"][kind]]
    # In the last five days before a slow-drift failure the unit runs heavy and faulty far more often.
    slow = failures[failures.failure_mode.isin(["bearing", "refrigerant_leak"])]
    late = np.zeros(len(states), dtype=bool)
    for f in slow.itertuples():
        late |= ((states.equipment_id == f.equipment_id) & (states.date > f.failure_date - pd.Timedelta(days=5))
                 & (states.date <= f.failure_date)).to_numpy()
    assert late.sum() > 20
    assert states.loc[late, "fault_hours"].mean() > 4 * states.loc[~near, "fault_hours"].mean()
    assert states.loc[late, "heavy_hours"].mean() > 1.5 * states.loc[~near, "heavy_hours"].mean()


def test_vibration_snapshots_measure_the_waveform_and_grow_before_bearing_failures(mixed_company):
    snaps = mixed_company.tables["vibration_snapshots"]
    truth = mixed_company.truth_tables["vibration_snapshots"]
    spec = mixed_company.truth["vibration_snapshots"]
    assert spec["samples"] == 1024 and spec["sample_rate_hz"] == 2048
    # One a week per unit, on a day it was up.
    weeks = (snaps.ts - pd.Timestamp(mixed_company.profile.start)).dt.days // 7
    assert not snaps.assign(week=weeks).duplicated(["equipment_id", "week"]).any()
    up = set(zip(mixed_company.tables["telemetry"].equipment_id, mixed_company.tables["telemetry"].ts.dt.normalize()))
    assert all(key in up for key in zip(snaps.equipment_id, snaps.ts.dt.normalize()))
    n_units = len(mixed_company.tables["equipment"])
    n_weeks = mixed_company.tables["telemetry"].ts.dt.normalize().nunique() // 7
    assert 0.95 * n_units * n_weeks < len(snaps) <= n_units * n_weeks
    # The stored peaks measure the true amplitudes (a Hann window loses at most ~15 % between bins).
    assert (snaps[["equipment_id", "ts"]].to_numpy() == truth[["equipment_id", "ts"]].to_numpy()).all()
    ratio = snaps["amp_1x"] / truth["true_amp_1x"]
    assert 0.82 < ratio.median() < 1.02 and ratio.between(0.7, 1.2).mean() > 0.98
    # The bearing-defect and imbalance peaks grow before bearing failures, not before other modes.
    failures = mixed_company.truth_tables["equipment_failures"]
    growth = {}
    for mode in ("bearing", "electrical", "refrigerant_leak"):
        ratios = []
        for f in failures[failures.failure_mode == mode].itertuples():
            unit = snaps[snaps.equipment_id == f.equipment_id]
            base = unit[unit.ts < f.failure_date - pd.Timedelta(days=120)]["amp_bpfo"].median()
            late = unit[(unit.ts > f.failure_date - pd.Timedelta(days=10)) & (unit.ts <= f.failure_date)]
            if len(late) and base == base:
                ratios.append(late["amp_bpfo"].max() / base)
        growth[mode] = np.median(ratios)
    assert growth["bearing"] > 5 and growth["electrical"] < 2 and growth["refrigerant_leak"] < 2
    grown = truth.bearing_growth > 0.8
    assert grown.sum() >= 3
    assert snaps.loc[grown.to_numpy(), "amp_1x"].median() > 1.4 * snaps.loc[(truth.bearing_growth == 0).to_numpy(),
                                                                              "amp_1x"].median()
