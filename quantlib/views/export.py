"""Files people download (CSV, Excel), safe to open in a spreadsheet.

A text cell that begins with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return,
which some spreadsheets skip before reading a formula) is run as a formula when the file is
opened: a customer named ``=HYPERLINK("http://x","y")`` becomes a live link, and worse
formulas can exfiltrate the sheet. Following OWASP's CSV-injection rule, every export goes
through :func:`neutralise_formulas`, which puts a leading apostrophe before such text.
Numbers are never touched: ``-12.5`` in a numeric column stays the number -12.5.
"""

from __future__ import annotations

import io

import pandas as pd

__all__ = ["FORMULA_PREFIXES", "neutralise_formulas", "neutralise_value", "to_csv_text", "to_excel_bytes"]

#: First characters that make a spreadsheet treat text as a formula (OWASP).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise_value(value):
    """``value`` with a leading ``'`` when it is text a spreadsheet would run; anything else unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells (and column names) cannot start a formula.

    Only non-numeric columns are looked at, so numbers (negative ones included) stay numbers.
    """
    out = frame.copy()
    for column in out.columns:
        if not (pd.api.types.is_numeric_dtype(out[column]) or pd.api.types.is_datetime64_any_dtype(out[column])):
            out[column] = out[column].map(neutralise_value)
    out.columns = [neutralise_value(c) for c in out.columns]
    return out


def to_csv_text(frame: pd.DataFrame) -> str:
    """``frame`` as CSV text (no index), formulas neutralised."""
    return neutralise_formulas(frame).to_csv(index=False)


def to_excel_bytes(frame: pd.DataFrame, sheet: str = "export") -> bytes:
    """``frame`` as an .xlsx file (openpyxl, no index), formulas neutralised."""
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        neutralise_formulas(frame).to_excel(writer, sheet_name=sheet, index=False)
    return buffer.getvalue()
