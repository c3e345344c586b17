"""The churn rule table: one source for the SQL macro, the Python scorer and the KPI definition."""

from __future__ import annotations

import itertools

import duckdb
import numpy as np
import pandas as pd
import pytest

from quantlib.kpi import get_kpi, install_formulas
from quantlib.kpi.churn_rule import CHURN_RULES, CHURN_SCORE_CAP, ChurnRule, describe_churn_rule

# Every threshold, a value either side of it, and the missing value, for each input.
GRID = {
    "frequency_trend": [np.nan, 0.0, 0.5, 0.69, 0.7, 0.71, 1.5],
    "late_payment_share": [np.nan, 0.0, 0.29, 0.3, 0.31, 1.0],
    "disputes": [np.nan, 0, 1, 4],
    "avg_rating": [np.nan, 1.0, 4.9, 5.0, 6.9, 7.0, 10.0],
    "last_contact_days": [np.nan, 0, 29, 30, 89, 90, 400],
}


@pytest.fixture(scope="module")
def grid() -> pd.DataFrame:
    frame = pd.DataFrame(list(itertools.product(*GRID.values())), columns=list(GRID))
    frame.insert(0, "customer_id", [f"C{i}" for i in range(len(frame))])
    frame["frequency_lifetime"] = 1  # every customer has a completed job, so every one is scored
    return frame


def _sql_scores(frame: pd.DataFrame) -> np.ndarray:
    args = ", ".join(rule.input for rule in CHURN_RULES)
    # NaN is not NULL in DuckDB; the warehouse's missing inputs are NULL, so convert.
    inputs = ", ".join(f"CASE WHEN isnan({c}) THEN NULL ELSE {c} END AS {c}" for c in GRID)
    with duckdb.connect() as con:
        install_formulas(con)
        con.register("grid", frame.reset_index(names="row"))
        rows = con.execute(f"SELECT churn_rule_score({args}) FROM (SELECT row, {inputs} FROM grid) ORDER BY row")
        return np.array([score for (score,) in rows.fetchall()], dtype=float)


def test_sql_macro_and_python_scorer_agree_on_every_threshold(grid):
    from quantlib.customers.churn import RuleChurnScorer

    sql = _sql_scores(grid)
    points = RuleChurnScorer().fit(grid).contributions(grid)
    python = np.minimum(points[[rule.factor for rule in CHURN_RULES]].sum(axis=1).to_numpy(), CHURN_SCORE_CAP)
    assert len(sql) == len(grid)
    mismatch = grid.loc[~np.isclose(sql, python)]
    assert mismatch.empty, f"SQL and Python disagree, e.g. on {mismatch.head(3).to_dict('records')}"
    # The grid reaches both ends of the score: nothing fired, and the cap.
    assert python.min() == 0 and python.max() == CHURN_SCORE_CAP


def test_missing_input_scores_zero_for_its_rule():
    for rule in CHURN_RULES:
        assert rule.points([np.nan]).tolist() == [0.0]


def test_tiers_give_the_most_severe_points_met():
    rule = ChurnRule("satisfaction", "avg_rating", "<", ((5, 0.25), (7, 0.15)), "average satisfaction")
    assert rule.points([4.9, 5.0, 6.9, 7.0]).tolist() == [0.25, 0.15, 0.15, 0.0]
    assert rule.sql_case() == "CASE WHEN avg_rating < 5 THEN 0.25 WHEN avg_rating < 7 THEN 0.15 ELSE 0 END"
    with pytest.raises(ValueError, match="unknown comparison"):
        ChurnRule("x", "x", "==", ((1, 1.0),), "x")


def test_kpi_definition_states_the_table_s_points():
    definition = get_kpi("churn_risk_share").definition
    assert " ".join(describe_churn_rule().split()) in definition
    assert "{churn_rule}" not in definition
