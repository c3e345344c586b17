"""The cost build-up: the spec's formulas on the company's history, overrides, and clear errors."""

from __future__ import annotations

import pandas as pd
import pytest

from quantlib.data.gold import open_gold
from quantlib.pricing import CostModel, PricingError, PricingParameters, load_pricing_parameters

AS_OF = "2024-12-31"


@pytest.fixture(scope="module")
def model(demo_lake):
    return CostModel(load_pricing_parameters("mixed_trades")).fit(demo_lake, AS_OF)


@pytest.fixture(scope="module")
def history(demo_lake):
    with open_gold(demo_lake) as con:
        return con.execute("""SELECT job_id, service_line, job_type, labor_hours, material_cost, technician_hourly_rate
                              FROM job_facts WHERE is_completed AND completed_date > DATE '2022-12-31'
                                AND completed_date <= DATE '2024-12-31'""").df()


def test_the_shipped_parameter_files_load():
    for company in ("mixed_trades", "seasonal_outdoor"):
        p = load_pricing_parameters(company)
        assert p.hourly_rate is None and p.price_list == []


def test_labour_is_rate_times_hours_times_skill_from_the_history(model, history):
    b = model.build("hvac", "repair")
    jobs = history[(history["service_line"] == "hvac") & (history["job_type"] == "repair")]
    assert b.history_jobs == len(jobs)
    assert b.hours == pytest.approx(jobs["labor_hours"].mean())
    assert b.hours_lo == pytest.approx(jobs["labor_hours"].quantile(0.1))
    assert b.hours_hi == pytest.approx(jobs["labor_hours"].quantile(0.9))
    assert b.skill_multiplier == pytest.approx(jobs["technician_hourly_rate"].mean() / model.hourly_rate_)
    assert b.labour == pytest.approx(b.hourly_rate * b.hours * b.skill_multiplier)
    assert b.materials == pytest.approx(jobs["material_cost"].mean())
    assert b.total == pytest.approx(b.labour + b.equipment + b.materials + b.overhead)
    assert b.total_lo < b.total < b.total_hi


def test_overhead_is_fixed_costs_over_job_volume(model, demo_lake):
    with open_gold(demo_lake) as con:
        fixed = con.execute("SELECT sum(amount) FROM expenses WHERE kind = 'fixed' AND date > DATE '2023-12-31' "
                            "AND date <= DATE '2024-12-31'").fetchone()[0]
        jobs = con.execute("SELECT count(*) FROM job_facts WHERE is_completed AND completed_date > DATE '2023-12-31' "
                           "AND completed_date <= DATE '2024-12-31'").fetchone()[0]
    assert model.overhead_per_job_ == pytest.approx((fixed / 12) / (jobs / 12))


def test_parameters_override_the_data(demo_lake):
    params = PricingParameters(hourly_rate=50.0, skill_multipliers={"install": 1.4}, price_list=[
        {"part": "unit", "unit_price": 900.0, "waste_factor": 1.1, "quantities": {"hvac/install": 1.0}},
        {"part": "kit", "unit_price": 20.0, "quantities": {"hvac/install": 2.0}}])
    m = CostModel(params).fit(demo_lake, AS_OF)
    b = m.build("hvac", "install")
    assert b.hourly_rate == 50.0 and b.skill_multiplier == 1.4
    assert b.materials == pytest.approx(900 * 1.1 + 20 * 2) and b.materials_source == "price list"
    assert m.build("hvac", "repair").materials_source.startswith("historical mean")


def test_a_job_that_cannot_be_costed_says_what_is_missing(model):
    with pytest.raises(PricingError, match=r"unknown service line 'roofing'.*known: electrical, hvac, plumbing"):
        model.build("roofing", "repair")
    with pytest.raises(PricingError, match=r"no completed hvac jobs of type 'wizardry'.*known types"):
        model.build("hvac", "wizardry")
    with pytest.raises(PricingError, match="not fitted"):
        CostModel().build("hvac", "repair")


def test_build_frame_is_build_for_many(model):
    pairs = pd.DataFrame({"service_line": ["hvac", "plumbing", "electrical", "hvac"],
                          "job_type": ["repair", "install", "maintenance", "emergency"]})
    frame = model.build_frame(pairs)
    for (_, row) in frame.iterrows():
        b = model.build(row["service_line"], row["job_type"])
        assert row["cost"] == pytest.approx(b.total)
        assert row["labour"] == pytest.approx(b.labour) and row["equipment"] == pytest.approx(b.equipment)
    with pytest.raises(PricingError, match="roofing"):
        model.build_frame(pd.DataFrame({"service_line": ["roofing"], "job_type": ["repair"]}))


def test_a_bad_parameter_file_names_itself(tmp_path):
    bad = tmp_path / "co.yaml"
    bad.write_text("hourly_rate: -4\nprice_list: [{part: x, unit_price: 1, quantities: {hvac: 1}}]\n")
    with pytest.raises(PricingError, match=r"co.yaml.*hourly_rate"):
        load_pricing_parameters(path=bad)


def test_equipment_is_depreciation_and_upkeep_per_usage_hour(model, demo_lake):
    with open_gold(demo_lake) as con:
        eq = con.execute("SELECT equipment_id, purchase_cost FROM equipment WHERE service_line = 'plumbing' "
                         "AND purchase_date <= DATE '2024-12-31'").df()
        usage = con.execute("SELECT equipment_id, job_id, date, hours FROM equipment_usage").df()
        upkeep = con.execute("SELECT equipment_id, completed_date, cost FROM maintenance_events").df()
    in_year = lambda d: (d > pd.Timestamp("2023-12-31")) & (d <= pd.Timestamp("2024-12-31"))  # noqa: E731
    hours = usage[usage["equipment_id"].isin(eq["equipment_id"])
                  & in_year(pd.to_datetime(usage["date"]))]["hours"].sum()
    kept = upkeep[upkeep["equipment_id"].isin(eq["equipment_id"])
                  & in_year(pd.to_datetime(upkeep["completed_date"]))]["cost"].sum()
    rate = (eq["purchase_cost"].sum() / 7 + kept) / hours
    assert model.equipment_rate_["plumbing"] == pytest.approx(rate)
    b = model.build("plumbing", "install")
    assert b.equipment == pytest.approx(rate * model.history_.loc[("plumbing", "install"), "usage_hours"])


def test_a_company_without_a_parameter_file_gets_the_defaults_only_when_asked():
    from quantlib.pricing.cost import pricing_parameters_path

    assert pricing_parameters_path("mixed_trades").is_file()
    assert not pricing_parameters_path("no_such_company").exists()
    assert load_pricing_parameters("no_such_company", missing_ok=True) == PricingParameters()
    assert load_pricing_parameters("mixed_trades", missing_ok=True) == load_pricing_parameters("mixed_trades")
    with pytest.raises(PricingError, match="no_such_company.yaml"):
        load_pricing_parameters("no_such_company")
