"""The operations dashboard in Python: every card is the registry's KPI for the range and slice, the
equipment table and acquisition chart follow the filters."""

from __future__ import annotations

import math
import re

import duckdb
import pytest

from quantlib.apps.operations_dashboard import OPERATIONS_SECTIONS, OperationsDashboard, operations_from_parameters
from quantlib.kpi import Filters, KpiUnavailable, get_kpi


@pytest.fixture(scope="module")
def dash(demo_lake):
    dash = OperationsDashboard(demo_lake.gold, debounce=0)
    yield dash
    dash.close()


def test_the_spec_cards_in_three_sections():
    assert [heading for heading, _ in OPERATIONS_SECTIONS] == ["Technicians", "Equipment", "Customers"]
    names = [card.name for _, cards in OPERATIONS_SECTIONS for card in cards]
    assert names == ["technician_efficiency", "technician_utilisation", "quality_rate", "technician_rating",
                     "equipment_utilisation", "pm_completion_rate", "equipment_roi", "equipment_downtime_hours",
                     "customer_acquisition", "customer_retention", "customer_lifetime_value", "churn_risk_share"]


@pytest.mark.parametrize("filters", [Filters(), Filters(region="springfield"), Filters(service_line="hvac")])
def test_every_card_is_the_registrys_kpi(dash, demo_lake, filters):
    start, end = dash.default_range()
    values = dash.values(start, end, filters)
    con = duckdb.connect(str(demo_lake.gold), read_only=True)
    for name, value in values.items():
        try:
            expected = get_kpi(name).compute(con, end, window=start, filters=filters)
        except KpiUnavailable:
            assert value is None, name
            continue
        assert value == pytest.approx(expected) or (math.isnan(expected) and value is None), name
    con.close()


def test_equipment_and_acquisition_follow_the_filters(dash, demo_lake):
    start, end = dash.default_range()
    con = duckdb.connect(str(demo_lake.gold), read_only=True)
    region = con.execute("SELECT min(region) FROM equipment").fetchone()[0]
    expected = con.execute("SELECT count(*) FROM equipment_kpis_between(?::DATE, ?::DATE, reg := ?)",
                           [start, end, region]).fetchone()[0]
    assert len(dash.equipment(start, end, Filters(region=region))) == expected
    assert set(dash.equipment(start, end, Filters(region=region))["region"]) == {region}
    first = con.execute("SELECT min(first_job) FROM (SELECT customer_id, min(completed_date) AS first_job FROM "
                        "job_facts WHERE is_completed GROUP BY 1) WHERE date_trunc('month', first_job) = "
                        "date_trunc('month', ?::DATE)", [end]).fetchone()[0]
    months = dash.acquisition(start, end)
    assert (first is None) == months.empty or months["month"].max().month == end.month
    con.close()
    dash.refresh()
    technicians, equipment, customers = (panel.value for panel in dash.panels)
    assert "<h2>Technicians</h2>" in technicians and "data-technician=" in technicians
    assert equipment.count("<tr data-equipment=") == len(dash.equipment(start, end))
    assert "<svg" in customers and "<script" not in customers
    tech = dash.technicians[0][1]
    dash.technician.value = tech
    assert "the technician filter does not apply here" in dash.panels[1].value
    assert "the technician filter does not apply here" in dash.panels[2].value and "<svg" in dash.panels[2].value
    # Equipment cannot be sliced by technician: the cards say so instead of showing a number.
    assert 'data-kpi="equipment_utilisation" title=' in dash.cards["equipment_utilisation"].value
    dash.technician.value = "All"
    headings = re.findall(r'<h2 class="qd-section">([^<]+)</h2>', "".join(
        child.value for child in dash.widget.children if hasattr(child, "value") and isinstance(child.value, str)))
    assert headings == ["Technicians", "Equipment", "Customers"]


def test_the_app_notebooks_parameters_build_it(demo_lake):
    dash = operations_from_parameters(environ={"QUANT_LAKE": str(demo_lake.root)})
    try:
        assert isinstance(dash, OperationsDashboard) and dash.as_of
    finally:
        dash.close()
