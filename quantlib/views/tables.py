"""Tables for reports: formatted, without the DataFrame index, readable in HTML and PDF."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from quantlib.views.formatting import format_kpi_value

#: Named number formats, so a notebook says *what* a column is, not how to print it.
FORMATS = {
    "money": "${:,.0f}",
    "pct": "{:.1%}",
    "change": "{:+.1%}",
    "int": "{:,.0f}",
    "num1": "{:,.1f}",
    "num2": "{:,.2f}",
    "date": "{:%d %b %Y}",
    "month": "{:%b %Y}",
    "text": "{}",
}


def report_table(df: pd.DataFrame, formats: Mapping[str, str] | None = None,
                 labels: Mapping[str, str] | None = None, caption: str | None = None):
    """A pandas Styler of ``df`` for reports: no index, named formats, readable headers.

    Parameters
    ----------
    df : DataFrame
        Plain numbers (views return numbers, never pre-formatted strings).
    formats : mapping, optional
        Column -> a key of :data:`FORMATS` (``"money"``, ``"pct"``…) or a format string.
        Missing values print as an en dash.
    labels : mapping, optional
        Column -> header text; other columns get their name with underscores as spaces,
        capitalised.
    caption : str, optional
        Table caption.
    """
    formats = dict(formats or {})
    labels = dict(labels or {})
    shown = df.copy()
    renamed = {c: labels.get(c, str(c).replace("_", " ").capitalize()) for c in shown.columns}
    shown = shown.rename(columns=renamed)
    style = shown.style.hide(axis="index")
    spec = {renamed[c]: FORMATS.get(f, f) for c, f in formats.items() if c in renamed}
    if spec:
        style = style.format(spec, na_rep="–")
    else:
        style = style.format(na_rep="–")
    numeric = [renamed[c] for c in df.columns if pd.api.types.is_numeric_dtype(df[c])]
    if numeric:
        style = style.set_properties(subset=numeric, **{"text-align": "right"})
    if caption:
        style = style.set_caption(caption)
    return style


def format_value(value, unit: str) -> str:
    """A KPI value in its unit, as in the CLI and the apps (an en dash when missing)."""
    return format_kpi_value(value, unit, missing="–")


def scorecard_table(scorecard: pd.DataFrame, caption: str | None = None):
    """The KPI scorecard (``quantlib.kpi.views.report.scorecard``) as a report table, each value in its unit."""
    shown = pd.DataFrame({
        "KPI": scorecard["label"],
        "Value": [format_value(v, u) for v, u in zip(scorecard["value"], scorecard["unit"])],
        "Target": [format_value(t, u) for t, u in zip(scorecard["target"], scorecard["unit"])],
        "Status": scorecard["status"].str.replace("_", " "),
    })
    return report_table(shown, caption=caption, labels={c: c for c in shown.columns})
