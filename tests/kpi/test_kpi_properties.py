"""Every KPI, at any date and under any filter it accepts, is a value within its unit (or says why not).

Hypothesis draws the KPI, the as-of date, the window and the filter; the bounds follow from the
unit (a rating is 0-10, a count a whole number >= 0, days and hours >= 0) and, for ratios, from
what the ratio divides (a share is 0-1, a margin at most 1, a variance from target at least -1).
"""

from __future__ import annotations

import datetime as dt
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantlib.data.gold import Filters, gold_as_of, open_gold
from quantlib.kpi import REGISTRY, KpiUnavailable

#: Ratios that are parts of a whole.
SHARES = {"quality_rate", "customer_retention", "churn_risk_share", "pm_completion_rate"}
#: Ratios of profit to revenue: a loss can be any size, a profit not more than the revenue.
MARGINS = {"profit_margin", "gross_margin"}
#: (actual - target) / target with actual revenue >= 0.
VARIANCES = {"revenue_vs_target"}
#: Ratios of non-negative quantities without an upper bound (a booked day can exceed 100 %).
NON_NEGATIVE = {"technician_efficiency", "technician_utilisation", "efficiency_score", "equipment_utilisation"}

PROPERTY = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def test_every_ratio_has_a_bound():
    ratios = {k.name for k in REGISTRY.values() if k.unit == "ratio"}
    assert ratios - SHARES - MARGINS - VARIANCES - NON_NEGATIVE == {"equipment_roi"}  # any sign


def _within_unit(name: str, unit: str, value: float) -> bool:
    if not math.isfinite(value):
        return False
    if unit == "rating":
        return 0 <= value <= 10
    if unit == "count":
        return value >= 0 and float(value).is_integer()
    if unit in ("days", "hours"):
        return value >= 0
    if name in SHARES:
        return 0 <= value <= 1
    if name in MARGINS:
        return value <= 1
    if name in VARIANCES:
        return value >= -1
    if name in NON_NEGATIVE:
        return value >= 0
    if name == "customer_lifetime_value":
        return value >= 0
    return True


@pytest.fixture(scope="module")
def gold(demo_lake):
    with open_gold(demo_lake) as con:
        slices = {
            "service_line": [r[0] for r in con.execute("SELECT DISTINCT service_line FROM jobs ORDER BY 1").fetchall()],
            "region": [r[0] for r in con.execute("SELECT DISTINCT region FROM technicians ORDER BY 1").fetchall()],
            "technician_id": [r[0] for r in con.execute(
                "SELECT technician_id FROM technicians ORDER BY 1 LIMIT 5").fetchall()],
        }
        yield con, gold_as_of(con), slices


@PROPERTY
@given(data=st.data())
def test_any_kpi_at_any_date_and_filter_stays_within_its_unit(gold, data):
    con, built, slices = gold
    kpi = REGISTRY[data.draw(st.sampled_from(sorted(REGISTRY)))]
    as_of = built - dt.timedelta(days=data.draw(st.integers(min_value=0, max_value=600)))
    window = data.draw(st.sampled_from([None, 7, 30, 90, 365]))
    field = data.draw(st.sampled_from([None, *sorted(kpi.filters)]))
    filters = Filters(**{field: data.draw(st.sampled_from(slices[field]))}) if field else Filters()
    try:
        value = kpi.compute(con, as_of, window=window, filters=filters)
    except KpiUnavailable as reason:
        assert str(reason), "a KPI without a value must say why"
        return
    assert _within_unit(kpi.name, kpi.unit, value), (kpi.name, kpi.unit, value, as_of, window, filters)
