import numpy as np
import pandas as pd
import pytest

from quantlib.maintenance.views import report as mv
from tests.conftest import build_lake


@pytest.fixture(scope="module")
def fleet(mixed_company, tmp_path_factory):
    lake = build_lake(mixed_company, tmp_path_factory.mktemp("maintenance_views"))
    return lake, mv.fleet_for_report(lake)


def test_interventions_price_the_risk_at_the_kinds_failure_cost(fleet):
    lake, health = fleet
    due = mv.interventions(health, threshold=0.99)  # everything below 0.99: every unit at some risk
    assert len(due) > 0
    failures = health.events[health.events["kind"] == "failure"]
    kind_of = health.units.set_index("equipment_id")["kind"]
    mean_cost = failures.assign(k=failures["equipment_id"].map(kind_of)).groupby("k")["cost"].mean()
    for row in due.itertuples(index=False):
        kind = kind_of[row.equipment_id]
        assert row.failure_cost == pytest.approx(mean_cost[kind])
        assert row.expected_cost == pytest.approx(row.p_fail * mean_cost[kind])
    assert "work order(s) due" in mv.interventions_line(due)
    assert mv.interventions_line(due.iloc[0:0]).startswith("No unit is below")


def test_warning_record_and_health_section(fleet, mixed_company):
    lake, health = fleet
    record = mv.warning_record(health)
    assert len(record) == 1 and record["failures"].iloc[0] > 0
    assert 0 <= record["warned"].iloc[0] <= record["failures"].iloc[0]
    section = mv.health_section(lake, top=4)
    assert isinstance(section.table, pd.DataFrame) and len(section.table) == 4 and section.line == ""
    early = pd.Timestamp(mixed_company.profile.start).date() + pd.Timedelta(days=20)
    reason = mv.health_section(lake, as_of=early)
    assert reason.table is None
    assert reason.line.startswith("Equipment health is not available: no equipment failure")


def test_preventive_plan_says_when_the_records_cannot_tell(demo_lake):
    from quantlib.maintenance.views.report import preventive_plan

    strict = preventive_plan(demo_lake, max_interval_width=0.0)
    assert strict.table is None and "cannot tell yet how much a service visit restores" in strict.line
    loose = preventive_plan(demo_lake, min_failures=2, max_interval_width=1.01)
    table = loose.table
    assert table is not None and set(table["kind"]) == set(loose.policy.kinds_)
    # the best interval never costs more than the current one or than no servicing at all
    assert (table["optimal_cost"] <= table["current_cost"] + 1e-6).all()
    assert (table["optimal_cost"] <= table["run_to_failure_cost"] + 1e-6).all()
    np.testing.assert_allclose(table["fleet_saving"], (table["current_cost"] - table["optimal_cost"]) * table["units"])
    assert "of a unit's wear" in loose.line
    too_few = preventive_plan(demo_lake, min_failures=10_000)
    assert too_few.table is None and "cannot be estimated yet" in too_few.line


def test_spectra_compare_the_oldest_and_newest_waveform_kept(fleet):
    import altair as alt
    from IPython.display import Markdown

    lake, health = fleet
    units = mv.at_risk_units(health, 2)
    frame = mv.spectra(lake, units)
    assert set(frame["equipment_id"]) == set(units)
    for _, unit in frame.groupby("equipment_id"):
        labels = sorted(unit["snapshot"].unique())
        assert len(labels) == 2 and labels[0].startswith("first kept") and labels[1].startswith("latest")
    assert frame["hz"].max() == pytest.approx(1024.0) and (frame["mm_s"] >= 0).all()
    assert isinstance(mv.spectra_chart(lake, units), alt.FacetChart)
    assert isinstance(mv.spectra_chart(lake, ["no such unit"]), Markdown)
