"""The risk register and monthly trends of the risk indicators.

>>> risk_register("data/demo/mixed_trades/lake")                       # doctest: +SKIP
>>> risk_trend("data/demo/mixed_trades/lake", "dso", months=12)        # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from quantlib.data.gold import as_of_date, open_gold
from quantlib.risk.indicators import INDICATORS, LEVELS, RiskUnavailable, get_indicator
from quantlib.risk.parameters import RiskParameters, load_risk_parameters

__all__ = ["REGISTER_COLUMNS", "month_ends", "risk_register", "risk_trend"]

REGISTER_COLUMNS = ["indicator", "label", "category", "value", "unit", "warning", "critical", "level", "previous",
                    "trend", "owner", "mitigation"]


def _month_earlier(day: dt.date) -> dt.date:
    return (pd.Timestamp(day) - pd.DateOffset(months=1)).date()


def _trend(value: float, previous: float | None, worse: str, tolerance: float = 0.02) -> str | None:
    """``worse``, ``better`` or ``steady`` (within ``tolerance`` relative change) against a month earlier."""
    if previous is None or pd.isna(previous):
        return None
    scale = max(abs(previous), 1e-9)
    change = (value - previous) / scale
    if abs(change) <= tolerance:
        return "steady"
    return "worse" if (change > 0) == (worse == "higher") else "better"


def risk_register(source, as_of=None, params: RiskParameters | None = None, names: list[str] | None = None,
                  include_expensive: bool = True) -> pd.DataFrame:
    """Every risk indicator (or ``names``) as of ``as_of``: the risk register table.

    Parameters
    ----------
    source : connection, report context, Lake or path
        Gold (anything :func:`~quantlib.data.gold.open_gold` takes).
    as_of : date or str, optional
        Default: gold's build date.
    params : RiskParameters, optional
        Default ``parameters/risk.yaml``.
    names : list of str, optional
        Restrict to these indicators (default: all, in registry order).
    include_expensive : bool
        False leaves out indicators that fit a model (the cash reserve runs the cash-flow simulation).

    Returns
    -------
    DataFrame
        One row per indicator with a value, most severe first: ``indicator, label, category,
        value, unit, warning, critical, level, previous, trend, owner, mitigation``. ``previous``
        is the value a month earlier (NaN for expensive indicators or without a value then);
        ``trend`` is ``worse``, ``better`` or ``steady`` against it. Indicators without a
        value are not rows: ``attrs["unavailable"]`` maps each to the reason.
    """
    params = params or load_risk_parameters()
    rows, unavailable = [], {}
    with open_gold(source) as con:
        day = as_of_date(con, as_of)
        for name in names or list(INDICATORS):
            spec = get_indicator(name)
            if spec.expensive and not include_expensive and not names:
                continue
            try:
                reading = spec(con, day, params)
            except RiskUnavailable as reason:
                unavailable[name] = str(reason)
                continue
            previous = None
            if not spec.expensive:
                try:
                    previous = spec(con, _month_earlier(day), params).value
                except RiskUnavailable:
                    previous = None
            rows.append({**reading.as_row(), "previous": previous,
                         "trend": _trend(reading.value, previous, spec.worse)})
    frame = pd.DataFrame(rows, columns=REGISTER_COLUMNS)
    frame["previous"] = frame["previous"].astype(float)
    order = {level: i for i, level in enumerate(reversed(LEVELS))}
    frame = frame.sort_values("level", key=lambda s: s.map(order), kind="stable", ignore_index=True)
    frame.attrs["unavailable"] = unavailable
    frame.attrs["as_of"] = day
    return frame


def month_ends(as_of: dt.date, months: int) -> list[dt.date]:
    """The last ``months`` month ends up to ``as_of``, oldest first; the last is ``as_of`` itself."""
    ends = [as_of]
    first = as_of.replace(day=1)
    for _ in range(months - 1):
        first = (pd.Timestamp(first) - pd.DateOffset(months=1)).date()
        ends.append((pd.Timestamp(first) + pd.offsets.MonthEnd(0)).date())
    return sorted(ends)


def risk_trend(source, indicator: str, months: int = 12, as_of=None,
               params: RiskParameters | None = None) -> pd.DataFrame:
    """Indicator ``indicator`` at each month end of the last ``months`` months (the current month: as_of).

    Returns
    -------
    DataFrame
        ``month_end, value, warning, critical, level``; a month without a value has NaN and
        level ``None`` (too little history then).
    """
    if months < 1:
        raise ValueError(f"months must be at least 1, got {months}")
    spec = get_indicator(indicator)
    params = params or load_risk_parameters()
    rows = []
    with open_gold(source) as con:
        for end in month_ends(as_of_date(con, as_of), months):
            try:
                reading = spec(con, end, params)
                rows.append({"month_end": end, "value": reading.value, "warning": reading.warning,
                             "critical": reading.critical, "level": reading.level})
            except RiskUnavailable:
                warning, critical = params.settings(indicator).thresholds()
                rows.append({"month_end": end, "value": float("nan"), "warning": warning, "critical": critical,
                             "level": None})
    frame = pd.DataFrame(rows, columns=["month_end", "value", "warning", "critical", "level"])
    frame["month_end"] = pd.to_datetime(frame["month_end"])
    return frame
