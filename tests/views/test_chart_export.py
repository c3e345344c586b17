"""Chart and dashboard exports, opened with their own libraries: the right titles, notes and numbers."""

from __future__ import annotations

import io
import shutil
import subprocess

import altair as alt
import pandas as pd
import pytest

from quantlib.views.chart_export import (
    ExportChart,
    chart_data,
    chart_to_csv,
    charts_to_excel,
    charts_to_pdf,
    charts_to_pptx,
    safe_title,
)

REVENUE = pd.DataFrame({"month": ["2024-10", "2024-11", "2024-12"], "revenue": [120_500.0, 98_250.5, 143_000.0]})
CUSTOMERS = pd.DataFrame({"customer": ['=HYPERLINK("http://x","y")', "Acme"], "spend": [-12.5, 800.0]})


def dashboard():
    bars = alt.Chart(REVENUE, title="Revenue by month").mark_bar().encode(x="month:N", y="revenue:Q")
    rule = alt.Chart(pd.DataFrame({"target": [110_000.0]})).mark_rule().encode(y="target:Q")
    spend = alt.Chart(CUSTOMERS).mark_bar().encode(x="customer:N", y="spend:Q")
    return [ExportChart("Revenue by month", bars + rule, notes="December beat the target by 30 %."),
            ExportChart("Spend: top customers", spend, notes="Line one\nLine two # not markup")]


def test_the_data_of_a_chart_is_what_it_shows():
    charts = dashboard()
    layered = chart_data(charts[0])
    assert list(layered["dataset"].unique()) == [1, 2] and layered["revenue"].dropna().tolist() == [
        120_500.0, 98_250.5, 143_000.0]
    assert chart_data(ExportChart("x", charts[1].chart, data=REVENUE)).equals(REVENUE)
    text = chart_to_csv(charts[1])
    assert "'=HYPERLINK" in text and "-12.5" in text  # the formula is text; the number stays a number


def test_excel_has_a_sheet_per_chart_with_its_numbers():
    from openpyxl import load_workbook

    charts = dashboard() + [ExportChart("Revenue by month", dashboard()[0].chart)]
    book = load_workbook(io.BytesIO(charts_to_excel(charts)))
    assert book.sheetnames == ["Revenue by month", "Spend  top customers", "Revenue by month 2"]
    sheet = book["Spend  top customers"]
    assert [c.value for c in sheet[2]] == ["'=HYPERLINK(\"http://x\",\"y\")", -12.5]
    assert sheet["A2"].data_type == "s"  # text, not a formula


def test_powerpoint_has_a_slide_per_chart_with_title_picture_and_notes():
    from pptx import Presentation

    deck = Presentation(io.BytesIO(charts_to_pptx(dashboard(), title="Operations", subtitle="December 2024")))
    slides = list(deck.slides)
    assert len(slides) == 3 and slides[0].shapes.title.text == "Operations"
    assert [s.shapes.title.text for s in slides[1:]] == ["Revenue by month", "Spend: top customers"]
    for slide in slides[1:]:
        pictures = [s for s in slide.shapes if s.shape_type == 13]  # MSO_SHAPE_TYPE.PICTURE
        assert len(pictures) == 1 and pictures[0].width <= deck.slide_width
    assert slides[1].notes_slide.notes_text_frame.text == "December beat the target by 30 %."


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")
def test_pdf_has_a_page_per_chart_with_vector_text():
    pdf = charts_to_pdf(dashboard(), title="Operations", subtitle="December 2024")
    assert pdf[:5] == b"%PDF-"
    text = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True).stdout
    text = text.decode()
    pages = text.split("\f")
    assert "Operations" in pages[0] and "Revenue by month" in pages[1] and "Spend: top customers" in pages[2]
    assert "December beat the target by 30 %." in pages[1] and "# not markup" in pages[2]
    assert "Acme" in pages[2]  # the chart's axis labels are text: the chart is vector, not a picture


def test_file_names_from_titles():
    assert safe_title("Revenue: by month / region") == "revenue-by-month-region"
    assert safe_title("***") == "export"
