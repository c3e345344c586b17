"""How a KPI value is printed, by its unit: one rule for the CLI, the reports and the apps."""

from __future__ import annotations

import math


def format_kpi_value(value: float | None, unit: str, missing: str = "n/a") -> str:
    """``value`` as a reader expects it for ``unit``.

    ``$41,235`` (currency), ``30.6%`` (ratio), ``24.3 d`` (days), ``12.5 h`` (hours),
    ``1,234`` (count), ``+4.2%`` (change: a relative change), ``+1.5 pts`` (points: a change of a
    ratio), ``+2.1 σ`` (sigma), ``4.37`` (rating5: the 5-point scale), ``8.1`` (rating and
    anything else); ``missing`` for None or NaN.
    """
    if value is None or not math.isfinite(value):
        return missing
    if unit == "currency":
        return f"-${-value:,.0f}" if value < 0 else f"${value:,.0f}"
    if unit == "ratio":
        return f"{value:.1%}"
    if unit == "days":
        return f"{value:,.1f} d"
    if unit == "hours":
        return f"{value:,.1f} h"
    if unit == "count":
        return f"{value:,.0f}"
    if unit == "change":
        return f"{value:+.1%}"
    if unit == "points":
        return f"{value * 100:+.1f} pts"
    if unit == "rating5":
        return f"{value:,.2f}"
    if unit == "sigma":
        return f"{value:+.1f} σ"
    return f"{value:,.1f}"


def markdown_money(value: float, decimals: int = 0) -> str:
    """``value`` as money for Markdown text: ``\\$41,235`` (the dollar sign escaped).

    Two bare dollar signs in one Markdown paragraph open and close a formula, so
    ``**$378,730**, with a range of $300,000`` rendered the bold marks literally
    inside a formula. Text shown through ``IPython.display.Markdown`` writes money with
    this function.
    """
    sign = "-" if value < 0 else ""
    return f"{sign}\\${abs(value):,.{decimals}f}"
