"""Downloads are inert in a spreadsheet: OWASP's CSV-injection rule in one helper."""

from __future__ import annotations

import io

import openpyxl
import pandas as pd
import pytest

from quantlib.views.export import neutralise_formulas, neutralise_value, to_csv_text, to_excel_bytes

HOSTILE = '=HYPERLINK("http://x","y")'


@pytest.mark.parametrize("text", [HOSTILE, "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"])
def test_formula_text_gets_an_apostrophe(text):
    assert neutralise_value(text) == "'" + text


@pytest.mark.parametrize("value", ["Ann", "", "a=b", -12.5, 3, None])
def test_other_values_are_unchanged(value):
    assert neutralise_value(value) == value


def frame() -> pd.DataFrame:
    return pd.DataFrame({"name": [HOSTILE, "Bob", "-minus"], "balance": [-12.5, 3.0, -1.0], "jobs": [-2, 0, 5]})


def test_negative_numbers_stay_numbers():
    out = neutralise_formulas(frame())
    assert out["balance"].tolist() == [-12.5, 3.0, -1.0] and out["jobs"].tolist() == [-2, 0, 5]
    assert out["name"].tolist() == ["'" + HOSTILE, "Bob", "'-minus"]


def test_csv_reads_back_as_text():
    back = pd.read_csv(io.StringIO(to_csv_text(frame())))
    assert back.loc[0, "name"] == "'" + HOSTILE
    assert back["balance"].tolist() == [-12.5, 3.0, -1.0]


def test_xlsx_cell_is_text_not_a_formula():
    sheet = openpyxl.load_workbook(io.BytesIO(to_excel_bytes(frame()))).active
    assert sheet["A2"].data_type == "s" and sheet["A2"].value == "'" + HOSTILE
    assert sheet["A4"].data_type == "s" and sheet["A4"].value == "'-minus"
    assert sheet["B2"].data_type == "n" and sheet["B2"].value == -12.5
    assert sheet["C2"].data_type == "n" and sheet["C2"].value == -2
    assert not any(c.data_type == "f" for row in sheet.iter_rows() for c in row)
