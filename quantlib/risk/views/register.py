"""Report tables of the risk register, an indicator's monthly trend and the success scorecard.

Each view takes a gold source (a report context, a connection, a lake or a path) and an optional
as-of date (a report context's own date when omitted) and returns numbers; the formats are
declared here, with per-row units (``"unit:<column>"``), so a notebook shows a view with
``report_table(view(...))``.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from quantlib.data.gold import as_of_date, open_gold
from quantlib.risk.register import risk_register, risk_trend
from quantlib.risk.scorecard import ScorecardError, success_scorecard
from quantlib.views.tables import table_view, with_formats

__all__ = ["default_baseline_year", "risk_level_history", "risk_register_table", "risk_trend_table",
           "scorecard_table_view"]


def _as_of(source, as_of):
    return as_of if as_of is not None else getattr(source, "as_of", None)


def _yes_no(value) -> str:
    return "yes" if value else "no"


@table_view(formats={"value": "unit:unit", "warning": "unit:unit", "critical": "unit:unit",
                     "previous": "unit:unit"},
            # "Warn at", not "Warning": a rendered report must not read like a Python warning.
            labels={"label": "Indicator", "warning": "Warn at", "critical": "Critical at",
                    "previous": "A month ago"})
def risk_register_table(source, as_of=None, include_expensive: bool = True) -> pd.DataFrame:
    """The risk register: indicator, value, thresholds, level, trend, owner, mitigation; most severe first.

    From :func:`quantlib.risk.risk_register`; ``attrs["unavailable"]`` keeps the indicators
    without a value and why.
    """
    register = risk_register(source, _as_of(source, as_of), include_expensive=include_expensive)
    table = register[["label", "value", "unit", "warning", "critical", "level", "previous", "trend", "owner",
                      "mitigation"]].copy()
    table.attrs.update(register.attrs)
    table.attrs["hidden"] = ["unit"]
    return table


def risk_trend_table(source, indicator: str, months: int = 12, as_of=None) -> pd.DataFrame:
    """One indicator at each month end (:func:`quantlib.risk.risk_trend`), values in the indicator's unit."""
    from quantlib.risk.indicators import get_indicator

    trend = risk_trend(source, indicator, months, _as_of(source, as_of))
    trend["unit"] = get_indicator(indicator).unit
    trend.attrs["hidden"] = ["unit"]
    return with_formats(trend, {"month_end": "month", "value": "unit:unit", "warning": "unit:unit",
                                "critical": "unit:unit"},
                        {"month_end": "Month", "warning": "Warn at", "critical": "Critical at"})


def risk_level_history(source, months: int = 6, as_of=None, include_expensive: bool = False) -> pd.DataFrame:
    """Each indicator's level at each of the last ``months`` month ends: the register's trend at a glance.

    One row per indicator (registry order; the indicators that fit a model are left out unless
    ``include_expensive``), one column per month end, oldest first, labelled ``Mon YYYY`` (the
    last is the as-of date itself); a cell is ``none``, ``info``, ``warning`` or ``critical``,
    or ``n/a`` when the indicator had no value then. ``attrs["month_ends"]`` keeps the dates.
    """
    from quantlib.risk.indicators import INDICATORS

    rows, ends = [], []
    with open_gold(source) as con:
        day = as_of_date(con, _as_of(source, as_of))
        for name, spec in INDICATORS.items():
            if spec.expensive and not include_expensive:
                continue
            trend = risk_trend(con, name, months, day)
            ends = [d.date() for d in trend["month_end"]]
            rows.append([spec.label, *[level if level is not None else "n/a" for level in trend["level"]]])
    labels = [f"{end:%b %Y}" for end in ends]
    table = pd.DataFrame(rows, columns=["indicator", *labels])
    table.attrs["month_ends"] = ends
    return with_formats(table, {}, {"indicator": "Indicator"})


def default_baseline_year(source, as_of=None) -> int:
    """The latest calendar year that ends before the year to ``as_of`` starts (the scorecard's default)."""
    with open_gold(source) as con:
        day = as_of_date(con, _as_of(source, as_of))
    start = (pd.Timestamp(day) - pd.DateOffset(years=1)).date() + dt.timedelta(days=1)
    return start.year - 1


def scorecard_table_view(source, baseline_year: int | None = None, as_of=None) -> pd.DataFrame:
    """The success scorecard (:func:`quantlib.risk.scorecard.success_scorecard`) as a report table.

    ``baseline_year`` defaults to :func:`default_baseline_year`. Baseline and current print in
    the metric's unit; ``change`` as a relative change, points or a difference by the metric's
    kind; ``met`` as yes / no (a dash without a target or a value).

    Raises
    ------
    ScorecardError
        When the baseline year does not fit the data.
    """
    as_of = _as_of(source, as_of)
    year = baseline_year if baseline_year is not None else default_baseline_year(source, as_of)
    card = success_scorecard(source, year, as_of)
    change_unit = [("change" if kind == "relative" else "points" if unit == "ratio" else unit)
                   for kind, unit in zip(card["kind"], card["unit"])]
    target_unit = [unit if kind == "level" else change for kind, unit, change in
                   zip(card["kind"], card["unit"], change_unit)]
    table = card[["label", "baseline", "current", "change", "target", "met", "note", "unit"]].assign(
        change_unit=change_unit, target_unit=target_unit)
    table.attrs.update(card.attrs)
    table.attrs["baseline_year"] = year
    table.attrs["hidden"] = ["unit", "change_unit", "target_unit"]
    return with_formats(table, {"baseline": "unit:unit", "current": "unit:unit", "change": "unit:change_unit",
                                "target": "unit:target_unit", "met": _yes_no},
                        {"label": "Metric", "baseline": f"{year}", "current": "Year to date"})


__all__ += ["ScorecardError"]
