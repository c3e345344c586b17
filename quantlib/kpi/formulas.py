"""The KPI formulas that marts and KPIs share, as DuckDB SQL macros.

A formula is written here once and installed into the gold database by
:func:`install_formulas` (the warehouse build calls it). The marts
(``technician_kpis``, ``customer_features``) and the KPI functions of
:mod:`quantlib.kpi` both call these macros, so a score cannot mean one thing
in a mart and another on a dashboard.

Macros
------
``completion_time_ratio(scheduled_hours, labor_hours)``
    ``scheduled_hours / labor_hours``: above 1 the work took less time than
    planned. NULL without labour hours.
``quality_rate(callbacks, completed_jobs)``
    ``1 - callbacks / completed_jobs``. NULL without completed jobs.
``safety_rate(incidents, jobs)``
    ``1 - incidents / jobs``. NULL without jobs.
``efficiency_score(completion_time_ratio, quality, mean_rating, safety)``
    ``0.3 * min(completion_time_ratio, 1) + 0.4 * quality
    + 0.2 * mean_rating / 10 + 0.1 * safety``, in [0, 1]. NULL when an input is
    NULL (a technician without rated jobs has no score rather than a flattering
    or punishing guess).
``churn_rule_score(frequency_trend, late_payment_share, disputes, avg_rating, last_contact_days)``
    Transparent churn-risk rule score in [0, 1], generated from the rule table
    :data:`quantlib.kpi.churn_rule.CHURN_RULES` (which also drives the Python
    scorer, so the two cannot drift apart). A missing input (e.g. no ratings)
    scores 0 for its rule: the score only counts evidence that is there.
"""

from __future__ import annotations

from quantlib.kpi.churn_rule import churn_rule_macro_sql

#: Weights of the technician efficiency score (they sum to 1).
EFFICIENCY_WEIGHTS = {"completion_time": 0.3, "quality": 0.4, "satisfaction": 0.2, "safety": 0.1}

#: A customer with a rule score at or above this is "at churn risk".
CHURN_RISK_THRESHOLD = 0.7

FORMULA_SQL = f"""
CREATE OR REPLACE MACRO completion_time_ratio(scheduled_hours, labor_hours) AS
    CASE WHEN labor_hours > 0 THEN scheduled_hours / labor_hours END;

CREATE OR REPLACE MACRO quality_rate(callbacks, completed_jobs) AS
    CASE WHEN completed_jobs > 0 THEN 1 - callbacks / completed_jobs END;

CREATE OR REPLACE MACRO safety_rate(incidents, jobs) AS
    CASE WHEN jobs > 0 THEN 1 - incidents / jobs END;

CREATE OR REPLACE MACRO efficiency_score(completion_time_ratio, quality, mean_rating, safety) AS
      {EFFICIENCY_WEIGHTS['completion_time']} * least(completion_time_ratio, 1.0)
    + {EFFICIENCY_WEIGHTS['quality']} * quality
    + {EFFICIENCY_WEIGHTS['satisfaction']} * mean_rating / 10.0
    + {EFFICIENCY_WEIGHTS['safety']} * safety;

{churn_rule_macro_sql()}"""


def install_formulas(con) -> None:
    """Create (or replace) the formula macros on DuckDB connection ``con``."""
    con.execute(FORMULA_SQL)
