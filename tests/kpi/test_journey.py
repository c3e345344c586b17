"""The customer journey from the funnel mart: by hand on the fixture company, against SQL on the demo lake.

The fixture's leads (tests/kpi/conftest.py): L4 (hvac, May 2024) -> Q4 won -> J4 -> I4 paid;
L1 (hvac, June) -> Q1 won -> J3 -> I3 open, and Q3 lost; L2 (electrical, June) -> Q2 won ->
J5 -> I5 open; L3 (plumbing, June) never quoted.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantlib.data.gold import connect_gold
from quantlib.kpi.journey import JOURNEY_STAGES, journey_stages

STAGES = ["Lead", "Quote", "Won quote", "Job", "Invoice", "Paid invoice"]


def test_all_lines_all_months_by_hand(con):
    got = journey_stages(con)
    assert got["stage"].tolist() == STAGES
    assert got["count"].tolist() == [4, 4, 3, 3, 3, 1]
    assert got["continued"].tolist()[:-1] == [4, 3, 3, 3, 1] and pd.isna(got["continued"].iloc[-1])
    assert got["dropped"].tolist()[:-1] == [0, 1, 0, 0, 2] and pd.isna(got["dropped"].iloc[-1])
    np.testing.assert_allclose(got["drop_rate"], [0, 0.25, 0, 0, 2 / 3, np.nan])


def test_one_line_and_a_range_of_months(con):
    hvac = journey_stages(con, service_line="hvac")
    # L1 got two quotes: the quote stage has more entries than the lead stage, a negative drop.
    assert hvac["count"].tolist() == [2, 3, 2, 2, 2, 1]
    assert hvac["dropped"].iloc[0] == -1 and hvac["drop_rate"].iloc[0] == pytest.approx(-0.5)
    june = journey_stages(con, start="2024-06-15", end="2024-06-30")  # June's leads, from mid-month on
    assert june["count"].tolist() == [3, 3, 2, 2, 2, 0]
    assert june.attrs["start"] == pd.Timestamp("2024-06-01").date()
    may = journey_stages(con, end="2024-05-31", service_line="hvac")
    assert may["count"].tolist() == [1, 1, 1, 1, 1, 1] and (may["drop_rate"].iloc[:-1] == 0).all()
    # months=N: the last N lead months to end's month.
    assert journey_stages(con, end="2024-06-30", months=1)["count"].tolist() == june["count"].tolist()
    two = journey_stages(con, end="2024-06-10", months=2)
    assert two.attrs["start"] == pd.Timestamp("2024-05-01").date()
    assert two["count"].tolist() == journey_stages(con, start="2024-05-01", end="2024-06-30")["count"].tolist()


def test_no_leads_in_range_gives_zeros_and_no_rates(con):
    got = journey_stages(con, start="2030-01-01")
    assert got["count"].tolist() == [0] * 6 and got["drop_rate"].isna().all()


def test_arguments_are_checked(con):
    with pytest.raises(ValueError, match="roofing"):
        journey_stages(con, service_line="roofing")
    with pytest.raises(ValueError, match="after"):
        journey_stages(con, start="2024-06-01", end="2024-05-01")
    with pytest.raises(ValueError, match="months"):
        journey_stages(con, start="2024-06-01", months=2)
    with pytest.raises(ValueError, match="months"):
        journey_stages(con, end="2024-06-01", months=0)


@pytest.mark.parametrize("start, end, line", [(None, None, None), ("2023-03-01", "2023-08-31", "hvac"),
                                              ("2022-07-10", None, "plumbing")])
def test_demo_lake_against_sql(demo_lake, start, end, line):
    con = connect_gold(demo_lake)
    try:
        got = journey_stages(con, start=start, end=end, service_line=line)
        where = ["service_line = ?"]
        params = [line or "all"]
        if start:
            where.append("month >= date_trunc('month', ?::DATE)")
            params.append(start)
        if end:
            where.append("month <= ?::DATE")
            params.append(end)
        sums = ", ".join(f"sum({c})" for c in JOURNEY_STAGES)
        expected = con.execute(f"SELECT {sums} FROM funnel WHERE {' AND '.join(where)}", params).fetchone()
    finally:
        con.close()
    assert got["count"].tolist() == list(expected)
    counts = np.array(expected, dtype=float)
    np.testing.assert_allclose(got["drop_rate"].iloc[:-1], (counts[:-1] - counts[1:]) / counts[:-1])
    assert (got["count"].iloc[:-1].to_numpy() - got["dropped"].iloc[:-1].to_numpy()
            == got["count"].iloc[1:].to_numpy()).all()
    assert got["count"].iloc[0] > 0
