"""Colours, number formats and small checks shared by the chart modules."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import altair as alt
import pandas as pd
from altair.utils import sanitize_pandas_dataframe

from quantlib.views.theme import PALETTE

#: Good news and bad news (a rise in revenue, a fall), and totals / neutral bars.
FAVOURABLE = PALETTE[2]
UNFAVOURABLE = PALETTE[7]
NEUTRAL = PALETTE[0]
MUTED = "#bdbdbd"
INK = "#333333"
#: A sequential ramp from near-white to the house blue, for heatmaps and maps.
SEQUENTIAL = ["#eef3f8", "#9fbad4", PALETTE[0], "#1a3550"]

MONEY = "$,.0f"
PERCENT = ".0%"


def require_columns(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """Raise a ``ValueError`` naming the columns ``frame`` lacks (``what`` names the argument)."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} lacks column(s) {missing}; has {list(frame.columns)}")


def tooltip_type(frame: pd.DataFrame, column: str) -> str:
    """The Vega-Lite type shorthand of ``column`` (``Q``, ``T`` or ``N``)."""
    series = frame[column]
    if pd.api.types.is_datetime64_any_dtype(series):
        return "T"
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        return "Q"
    return "N"


def inline_values(frame: pd.DataFrame) -> alt.Data:
    """``frame`` as inline Vega-Lite data, past Altair's 5,000-row guard.

    The guard protects notebooks from huge specs; a chart that is meant to carry one row per day
    and series (years of calendars) needs more. Encodings must then name their types.
    """
    return alt.Data(values=sanitize_pandas_dataframe(frame.copy()).to_dict(orient="records"))


def date_window(con, as_of, days: int) -> tuple[dt.date, dt.date]:
    """The ``days`` days ending at ``as_of`` (default gold's as-of date), both ends included."""
    from quantlib.data.gold import as_of_date

    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    end = as_of_date(con, as_of)
    return end - dt.timedelta(days=days - 1), end
