"""Tables for reports: formatted, without the DataFrame index, readable in HTML and PDF.

A view declares how its columns print once, next to the view (:func:`table_view`), and the
formats travel with the frame it returns (``DataFrame.attrs``), so a notebook shows a view with
``report_table(view(...))`` and repeats no format dictionary. Explicit ``formats`` / ``labels``
given to :func:`report_table` override the declared ones, column by column.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass

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


#: ``"unit:<column>"`` formats a column row by row in the unit named in ``<column>``.
UNIT_FORMAT = "unit:"


def with_formats(frame: pd.DataFrame, formats: Mapping[str, str] | None = None,
                 labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """``frame`` carrying column ``formats`` and ``labels`` for :func:`report_table` (in ``frame.attrs``).

    A format ``"unit:<column>"`` prints each row in the unit that row's ``<column>`` names
    (:func:`~quantlib.views.formatting.format_kpi_value`); columns listed in
    ``frame.attrs["hidden"]`` are data for such formats and are not shown.

    Declarations already on the frame are kept unless overridden here. The frame is modified in
    place and returned, so a view can end with ``return with_formats(out, {...})``.
    """
    frame.attrs["formats"] = {**frame.attrs.get("formats", {}), **dict(formats or {})}
    frame.attrs["labels"] = {**frame.attrs.get("labels", {}), **dict(labels or {})}
    return frame


def table_view(formats: Mapping[str, str] | None = None, labels: Mapping[str, str] | None = None) -> Callable:
    """Decorator for a view returning a DataFrame: declare how its columns print, once.

    >>> @table_view(formats={"revenue": "money", "share": "pct"}, labels={"share": "Share of revenue"})
    ... def revenue_by_line(ctx): ...                                    # doctest: +SKIP
    """
    def decorate(view: Callable[..., pd.DataFrame]) -> Callable[..., pd.DataFrame]:
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            return with_formats(view(*args, **kwargs), formats, labels)
        wrapper.formats = dict(formats or {})
        wrapper.labels = dict(labels or {})
        return wrapper
    return decorate


def report_table(df: pd.DataFrame, formats: Mapping[str, str] | None = None,
                 labels: Mapping[str, str] | None = None, caption: str | None = None):
    """A pandas Styler of ``df`` for reports: no index, named formats, readable headers.

    Parameters
    ----------
    df : DataFrame
        Plain numbers (views return numbers, never pre-formatted strings).
    formats : mapping, optional
        Column -> a key of :data:`FORMATS` (``"money"``, ``"pct"``…), a format string or a
        callable. Missing values print as an en dash. Added to (and overriding) the formats the
        view declared (:func:`table_view`).
    labels : mapping, optional
        Column -> header text, over the view's declared labels; other columns get their name
        with underscores as spaces, capitalised.
    caption : str, optional
        Table caption.
    """
    formats = {**df.attrs.get("formats", {}), **dict(formats or {})}
    labels = {**df.attrs.get("labels", {}), **dict(labels or {})}
    shown = df.copy()
    unit_columns = []
    # "unit:<column>": each row's value printed in the unit that row's <column> names (a table
    # mixing days, ratios and money in one column), as the KPI scorecard prints its values.
    for column, fmt in list(formats.items()):
        if isinstance(fmt, str) and fmt.startswith(UNIT_FORMAT) and column in shown:
            units = df[fmt[len(UNIT_FORMAT):]]
            shown[column] = [format_value(v, u) for v, u in zip(df[column], units)]
            unit_columns.append(column)
            del formats[column]
    shown = shown.drop(columns=[c for c in df.attrs.get("hidden", ()) if c in shown])
    shown_columns = list(shown.columns)
    renamed = {c: labels.get(c, str(c).replace("_", " ").capitalize()) for c in shown.columns}
    shown = shown.rename(columns=renamed)
    style = shown.style.hide(axis="index")
    spec = {renamed[c]: FORMATS.get(f, f) for c, f in formats.items() if c in renamed}
    # Cells are text, never markup: a customer or a comment typed as "<b>x</b>" prints as typed.
    if spec:
        style = style.format(spec, na_rep="–", escape="html")
    else:
        style = style.format(na_rep="–", escape="html")
    numeric = [renamed[c] for c in shown_columns if pd.api.types.is_numeric_dtype(df[c]) or c in unit_columns]
    if numeric:
        style = style.set_properties(subset=numeric, **{"text-align": "right"})
    if caption:
        style = style.set_caption(caption)
    return style


def format_value(value, unit: str) -> str:
    """A KPI value in its unit, as in the CLI and the apps (an en dash when missing)."""
    return format_kpi_value(value, unit, missing="–")


def scorecard_table(scorecard: pd.DataFrame, caption: str | None = None):
    """The KPI scorecard (``quantlib.kpi.views.report.scorecard``) as a report table, each value in its unit.

    The status says where the value stands (above, on or below target); ``alert`` is added
    when that is the worse side for the KPI (the scorecard's ``alert`` column).
    """
    status = scorecard["status"].str.replace("_", " ")
    if "alert" in scorecard:
        status = status.where(~scorecard["alert"].fillna(False).astype(bool), status + ", alert")
    shown = pd.DataFrame({
        "KPI": scorecard["label"],
        "Value": [format_value(v, u) for v, u in zip(scorecard["value"], scorecard["unit"])],
        "Target": [format_value(t, u) for t, u in zip(scorecard["target"], scorecard["unit"])],
        "Status": status,
    })
    return report_table(shown, caption=caption, labels={c: c for c in shown.columns})


@dataclass
class ReportSection:
    """A report section that is a sentence, a table, or both: views that may have nothing to
    tabulate (no data yet, a model that cannot be fitted) return one, and the notebook shows it
    with :meth:`show` instead of branching on what came back."""

    line: str = ""
    table: pd.DataFrame | None = None
    caption: str | None = None

    def show(self) -> None:
        """Display the sentence (Markdown) and the table (:func:`report_table`) in a notebook."""
        from IPython.display import Markdown, display

        if self.line:
            display(Markdown(self.line))
        if self.table is not None:
            display(report_table(self.table, caption=self.caption))
