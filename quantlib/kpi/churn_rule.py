"""The churn-risk rule score: its factors, thresholds and points, written once.

:data:`CHURN_RULES` is the only place the rule's numbers live. From it come

* the DuckDB macro ``churn_rule_score`` (:func:`churn_rule_macro_sql`, installed with the
  other formulas by :func:`quantlib.kpi.formulas.install_formulas`), which the warehouse's
  ``customer_features.churn_score`` and the KPI ``churn_risk_share`` use;
* the Python scorer :class:`quantlib.customers.churn.RuleChurnScorer`, through
  :meth:`ChurnRule.points`;
* the human wording of the rule (:func:`describe_churn_rule`), used in the KPI's definition.

The score is the sum of the points of the rules that fire, capped at :data:`CHURN_SCORE_CAP`.
A missing input (NULL in SQL, NaN in Python: e.g. no ratings) scores 0 for its rule: the
score only counts evidence that is there.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

import numpy as np

__all__ = ["CHURN_RULES", "CHURN_SCORE_CAP", "ChurnRule", "churn_rule_macro_sql", "describe_churn_rule"]

#: The rule score never exceeds this, however many rules fire.
CHURN_SCORE_CAP = 1.0

_OPS = {"<": operator.lt, ">": operator.gt, ">=": operator.ge}


@dataclass(frozen=True)
class ChurnRule:
    """One rule of the churn score: an input compared with thresholds, worth points.

    Attributes
    ----------
    factor : str
        The rule's name as a churn reason (``"declining_frequency"``, ...).
    input : str
        The column of ``customer_features`` (and of the customer snapshot) it reads; also the
        macro parameter's name.
    op : {"<", ">", ">="}
        How the input is compared with each threshold.
    tiers : tuple of (threshold, points)
        Most severe first; the first tier the input meets gives the points, none gives 0.
    label : str
        What the input measures, in words, for the rule's description.
    """

    factor: str
    input: str
    op: str
    tiers: tuple[tuple[float, float], ...]
    label: str

    def __post_init__(self) -> None:
        if self.op not in _OPS:
            raise ValueError(f"churn rule {self.factor}: unknown comparison {self.op!r}")

    def points(self, values) -> np.ndarray:
        """Points per value (0 where no tier is met, NaN included).

        Parameters
        ----------
        values : array-like of float
            The rule's input, one value per customer.

        Returns
        -------
        numpy.ndarray of float
        """
        x = np.asarray(values, dtype=float)
        compare = _OPS[self.op]
        # np.select takes the first condition that holds: tiers are ordered most severe first.
        # Comparisons with NaN are False, so a missing input scores 0, as NULL does in SQL.
        return np.select([compare(x, threshold) for threshold, _ in self.tiers],
                         [float(points) for _, points in self.tiers], default=0.0)

    def sql_case(self) -> str:
        """The rule's points as a SQL ``CASE`` over the macro parameter :attr:`input`."""
        whens = " ".join(f"WHEN {self.input} {self.op} {threshold!r} THEN {points!r}"
                         for threshold, points in self.tiers)
        return f"CASE {whens} ELSE 0 END"

    def describe(self) -> str:
        """E.g. ``"average satisfaction < 5: 0.25, < 7: 0.15"``."""
        return f"{self.label} " + ", ".join(f"{self.op} {threshold:g}: {points:.2f}"
                                            for threshold, points in self.tiers)


#: The rules, in the order of the product spec (and of the macro's parameters).
CHURN_RULES: tuple[ChurnRule, ...] = (
    # trend = jobs in the last 180 days / jobs in the 180 before: below 0.7 is a fall of over 30 %.
    ChurnRule("declining_frequency", "frequency_trend", "<", ((0.7, 0.25),),
              "service frequency trend (last 180 days / the 180 before)"),
    ChurnRule("late_payments", "late_payment_share", ">", ((0.3, 0.20),), "late-payment share"),
    ChurnRule("disputes", "disputes", ">", ((0, 0.15),), "disputed invoices"),
    ChurnRule("satisfaction", "avg_rating", "<", ((5, 0.25), (7, 0.15)), "average satisfaction (0-10)"),
    ChurnRule("no_contact", "last_contact_days", ">=", ((90, 0.20), (30, 0.10)), "days since the last contact"),
)


def churn_rule_macro_sql(rules: tuple[ChurnRule, ...] = CHURN_RULES) -> str:
    """``CREATE OR REPLACE MACRO churn_rule_score(<each rule's input>) AS ...`` for DuckDB.

    The macro's parameters are the rules' inputs, in the rules' order.
    """
    params = ", ".join(rule.input for rule in rules)
    terms = "\n        + ".join(rule.sql_case() for rule in rules)
    # DOUBLE, not the DECIMAL the literals would give, so scores mix with other floats.
    return (f"CREATE OR REPLACE MACRO churn_rule_score({params}) AS\n"
            f"    least({CHURN_SCORE_CAP!r}, CAST(\n          {terms}\n        AS DOUBLE));\n")


def describe_churn_rule(rules: tuple[ChurnRule, ...] = CHURN_RULES) -> str:
    """The rule in one sentence, for definitions and reports."""
    return "; ".join(rule.describe() for rule in rules) + f"; the sum capped at {CHURN_SCORE_CAP:g}."
