"""How a KPI value is printed, by its unit: one rule for the CLI, the reports and the apps."""

from __future__ import annotations

import math


def _plain(value: float) -> str:
    return f"{value:,.1f}"


#: How each unit prints a finite value; other units (e.g. ``rating``) print as :func:`_plain`.
_UNIT_FORMATS = {
    "currency": lambda v: f"-${-v:,.0f}" if v < 0 else f"${v:,.0f}",
    "ratio": lambda v: f"{v:.1%}",
    "days": lambda v: f"{v:,.1f} d",
    "hours": lambda v: f"{v:,.1f} h",
    "count": lambda v: f"{v:,.0f}",
    "change": lambda v: f"{v:+.1%}",
    "points": lambda v: f"{v * 100:+.1f} pts",
    "rating5": lambda v: f"{v:,.2f}",
    "sigma": lambda v: f"{v:+.1f} σ",
}


def format_kpi_value(value: float | None, unit: str, missing: str = "n/a") -> str:
    """``value`` as a reader expects it for ``unit``.

    ``$41,235`` (currency), ``30.6%`` (ratio), ``24.3 d`` (days), ``12.5 h`` (hours),
    ``1,234`` (count), ``+4.2%`` (change: a relative change), ``+1.5 pts`` (points: a change of a
    ratio), ``+2.1 σ`` (sigma), ``4.37`` (rating5: the 5-point scale), ``8.1`` (rating and
    anything else); ``missing`` for None or NaN.
    """
    if value is None or not math.isfinite(value):
        return missing
    return _UNIT_FORMATS.get(unit, _plain)(value)


def markdown_money(value: float, decimals: int = 0) -> str:
    """``value`` as money for Markdown text: ``\\$41,235`` (the dollar sign escaped).

    Two bare dollar signs in one Markdown paragraph open and close a formula, so
    ``**$378,730**, with a range of $300,000`` rendered the bold marks literally
    inside a formula. Text shown through ``IPython.display.Markdown`` writes money with
    this function.
    """
    sign = "-" if value < 0 else ""
    return f"{sign}\\${abs(value):,.{decimals}f}"
