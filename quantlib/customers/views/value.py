"""Customer value views: the tables and charts of ``notebooks/customer_value.ipynb``.

Each function returns a plain DataFrame (numbers, not strings) or an Altair chart, so the
notebook stays thin and the numbers can be tested; the tables declare how their columns print
(:func:`quantlib.views.table_view`). :func:`value_summary` is the customer
section's headline numbers for the monthly business review.

CLV here is the MBG/NBD + Gamma-Gamma model of :mod:`quantlib.customers.clv` fitted on the
completed jobs' revenue per customer and day up to the report date: expected revenue over
the next ``horizon_months``, discounted monthly. MBG/NBD (not BG/NBD) so that a customer who
bought once, long ago, is not counted as likely still active.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
from pydantic import Field

from quantlib.customers.clv import CompanyCLV, company_clv
from quantlib.data.gold import as_of_date, open_gold
from quantlib.parameters import NotebookParameters, register_parameters
from quantlib.views.tables import table_view

__all__ = [
    "CustomerValueParameters",
    "clv_by_type",
    "clv_distribution",
    "clv_histogram",
    "customer_values",
    "headline",
    "model_parameters",
    "top_customers",
    "value_summary",
]

#: P(alive) at or above which a customer counts as "likely active".
LIKELY_ALIVE = 0.5


@register_parameters("customer_value")
class CustomerValueParameters(NotebookParameters):
    """Customer value: CLV distribution, acquisition cohorts and retention, top customers."""

    horizon_months: int = Field(12, ge=1, le=60, description="months of future revenue in the CLV")
    discount_rate: float = Field(0.01, ge=0, le=0.2, description="monthly discount rate")
    cohort_months: int = Field(12, ge=2, le=36, description="acquisition cohorts shown (months)")
    top_n: int = Field(15, ge=1, le=100, description="customers in the top-CLV table")
    record_predictions: bool = Field(True, description="record this run's predictions in the operational store "
                                                       "(model monitoring)")


# ---------------------------------------------------------------------------- CLV
def customer_values(report, horizon_months: int = 12, discount_rate: float = 0.01) -> CompanyCLV:
    """CLV of every customer served up to the report date (``report`` from ``quantlib.kpi.views.open_report``).

    The customer's type, region and name from ``customers`` are added to the table.
    """
    res = company_clv(report.con, report.as_of, horizon_months=horizon_months, discount_rate=discount_rate)
    info = (report.con.execute("SELECT customer_id, name, customer_type, region FROM customers").df()
            .set_index("customer_id"))
    res.customers = res.customers.join(info, how="left")
    return res


def headline(res: CompanyCLV, company: str) -> str:
    """One Markdown paragraph: customers, likely active, total and average predicted value."""
    c = res.customers
    alive = int((c["p_alive"] >= LIKELY_ALIVE).sum())
    # "\\$": two bare dollar signs in one paragraph would render as a formula.
    return (f"**{company}** · data to {res.as_of:%d %B %Y} · {len(c):,} customers served, "
            f"{alive:,} ({alive / len(c):.0%}) likely still active. Predicted value of the next "
            f"{res.horizon_months} months (discounted at {res.discount_rate:.1%} a month): "
            f"**\\${c['clv'].sum():,.0f}** in total, \\${c['clv'].mean():,.0f} per customer.")


@table_view(formats={"customers": "int", "share_customers": "pct", "clv": "money", "share_clv": "pct"},
            labels={"band": "Predicted value", "share_customers": "Share of customers",
                    "clv": "Predicted value (total)", "share_clv": "Share of value"})
def clv_distribution(res: CompanyCLV, bands=(0, 250, 500, 1000, 2500, 5000, 10000)) -> pd.DataFrame:
    """Customers and predicted value per CLV band: ``band, lower, customers, share_customers, clv, share_clv``."""
    clv = res.customers["clv"]
    edges = list(bands) + [np.inf]
    labels = [f"${lo:,.0f}–${hi:,.0f}" if np.isfinite(hi) else f"${lo:,.0f}+" for lo, hi in zip(edges[:-1], edges[1:])]
    band = pd.cut(clv, edges, right=False, labels=labels)
    g = clv.groupby(band, observed=False).agg(["size", "sum"])
    out = pd.DataFrame({"band": labels, "lower": edges[:-1], "customers": g["size"].to_numpy(),
                        "clv": g["sum"].to_numpy()})
    out["share_customers"] = out["customers"] / max(len(clv), 1)
    out["share_clv"] = out["clv"] / clv.sum() if clv.sum() > 0 else 0.0
    # Empty bands above the most valuable customer say nothing.
    filled = np.flatnonzero(out["customers"].to_numpy() > 0)
    out = out.iloc[: filled[-1] + 1 if len(filled) else len(out)]
    return out[["band", "lower", "customers", "share_customers", "clv", "share_clv"]]


def clv_histogram(res: CompanyCLV, width: int = 520, height: int = 220) -> alt.Chart:
    """Customers per CLV band (bars in band order)."""
    d = clv_distribution(res)
    return alt.Chart(d, title=f"Predicted {res.horizon_months}-month customer value").mark_bar().encode(
        x=alt.X("band:N", sort=list(d["band"]), title="Predicted value (discounted)"),
        y=alt.Y("customers:Q", title="Customers"),
        tooltip=["band", "customers", alt.Tooltip("share_clv:Q", format=".0%")],
    ).properties(width=width, height=height)


@table_view(formats={"customers": "int", "likely_active": "int", "mean_clv": "money", "total_clv": "money",
                     "mean_p_alive": "pct"},
            labels={"customer_type": "Customer type", "mean_clv": "Average value", "total_clv": "Total value",
                    "mean_p_alive": "Average P(active)"})
def clv_by_type(res: CompanyCLV) -> pd.DataFrame:
    """Per customer type: customers, likely active, mean and total CLV, mean P(alive)."""
    c = res.customers.assign(likely_alive=res.customers["p_alive"] >= LIKELY_ALIVE)
    g = c.groupby(c["customer_type"].fillna("unknown"))
    out = pd.DataFrame({"customers": g.size(), "likely_active": g["likely_alive"].sum(), "mean_clv": g["clv"].mean(),
                        "total_clv": g["clv"].sum(), "mean_p_alive": g["p_alive"].mean()})
    return out.reset_index().sort_values("total_clv", ascending=False, ignore_index=True)


@table_view(formats={"clv": "money", "p_alive": "pct", "expected_purchases_90d": "num1",
                     "expected_avg_value": "money", "repeat_jobs": "int", "last_purchase": "date"},
            labels={"customer_id": "Customer", "customer_type": "Type", "clv": "Predicted value",
                    "p_alive": "P(active)", "expected_purchases_90d": "Expected jobs (90 days)",
                    "expected_avg_value": "Expected job value", "last_purchase": "Last job"})
def top_customers(res: CompanyCLV, n: int = 15) -> pd.DataFrame:
    """The ``n`` customers with the highest CLV, with P(alive), expected jobs and their history."""
    c = res.customers.sort_values("clv", ascending=False).head(n).reset_index()
    return c[["customer_id", "name", "customer_type", "region", "clv", "p_alive", "expected_purchases_90d",
              "expected_avg_value", "frequency", "last_purchase"]].rename(columns={"frequency": "repeat_jobs"})


@table_view(formats={"value": "num2"})
def model_parameters(res: CompanyCLV) -> pd.DataFrame:
    """The fitted parameters with what each means (``model, parameter, value, meaning``)."""
    unit = "week" if res.unit_days == 7 else f"{res.unit_days:g} days"
    bg, gg = res.purchases.params_, res.spend.params_
    name = getattr(res.purchases, "model_name", "BG/NBD")
    rows = [
        (name, "r", bg["r"], "shape of the purchase-rate distribution"),
        (name, "alpha", bg["alpha"],
         f"scale of the purchase rate (mean rate r/alpha = {bg['r'] / bg['alpha']:.3f} per {unit})"),
        (name, "a", bg["a"], "dropout after a purchase ~ Beta(a, b)"),
        (name, "b", bg["b"], f"mean dropout probability a/(a+b) = {bg['a'] / (bg['a'] + bg['b']):.3f}"),
        ("Gamma-Gamma", "p", gg["p"], "shape of the job value"),
        ("Gamma-Gamma", "q", gg["q"], "shape of the customers' spend level"),
        ("Gamma-Gamma", "v", gg["v"], f"scale; mean job value p v/(q-1) = ${res.spend.population_mean_:,.0f}"),
    ]
    return pd.DataFrame(rows, columns=["model", "parameter", "value", "meaning"])


# ---------------------------------------------------------------------------- summary
def value_summary(con_or_lake, as_of=None, *, horizon_months: int = 12, discount_rate: float = 0.01) -> dict:
    """Headline customer-value numbers for the monthly business review.

    Parameters
    ----------
    con_or_lake : duckdb connection, Lake, or path
        A gold connection, a ``quantlib.data.lake.Lake``, a lake folder or the gold file.
    as_of : date, optional
        Report date; default the warehouse's build date.

    Returns
    -------
    dict
        ``as_of``; ``retention_rate`` (the KPI registry's 12-month customer retention, ``None``
        when there is too little history); ``customers`` (served to date),
        ``customers_likely_alive`` and ``share_likely_alive`` (P(alive) >= 0.5);
        ``total_predicted_clv`` and ``average_predicted_clv`` over ``horizon_months``
        discounted at ``discount_rate`` a month; ``expected_jobs_90d``; ``horizon_months``,
        ``discount_rate``.
    """
    from quantlib.kpi.registry import REGISTRY, KpiUnavailable

    with open_gold(con_or_lake) as con:
        day = as_of_date(con, as_of)
        try:
            retention = REGISTRY["customer_retention"].compute(con, day)
        except KpiUnavailable:
            retention = None
        res = company_clv(con, day, horizon_months=horizon_months, discount_rate=discount_rate)
    c = res.customers
    alive = int((c["p_alive"] >= LIKELY_ALIVE).sum())
    return {
        "as_of": day,
        "retention_rate": retention,
        "customers": int(len(c)),
        "customers_likely_alive": alive,
        "share_likely_alive": alive / len(c),
        "total_predicted_clv": float(c["clv"].sum()),
        "average_predicted_clv": float(c["clv"].mean()),
        "expected_jobs_90d": float(c["expected_purchases_90d"].sum()),
        "horizon_months": horizon_months,
        "discount_rate": discount_rate,
    }
