"""Report tables: declared formats travel with a view's frame; explicit ones override them."""

from __future__ import annotations

import pandas as pd

from quantlib.views import report_table, table_view, with_formats


@table_view(formats={"revenue": "money", "share": "pct"}, labels={"share": "Share of revenue"})
def _revenue_view() -> pd.DataFrame:
    return pd.DataFrame({"line": ["hvac", "plumbing"], "revenue": [1234.4, 99.0], "share": [0.9257, 0.0743]})


def test_declared_formats_print_without_a_dictionary():
    html = report_table(_revenue_view()).to_html()
    assert "$1,234" in html and "92.6%" in html and "Share of revenue" in html
    assert _revenue_view.formats == {"revenue": "money", "share": "pct"}


def test_declarations_survive_selection_and_explicit_ones_win():
    frame = _revenue_view()[["line", "share"]].head(1)
    html = report_table(frame, formats={"share": "num2"}, labels={"line": "Service line"}).to_html()
    assert "0.93" in html and "92.6%" not in html
    assert "Service line" in html and "Share of revenue" in html


def test_undeclared_frame_prints_plainly():
    html = report_table(pd.DataFrame({"a_b": [1.5]})).to_html()
    assert "A b" in html and "1.5" in html


def test_with_formats_merges():
    frame = with_formats(with_formats(pd.DataFrame({"x": [1]}), {"x": "int"}), labels={"x": "X"})
    assert frame.attrs == {"formats": {"x": "int"}, "labels": {"x": "X"}}


def test_scorecard_table_marks_alerts_only_on_the_worse_side():
    from quantlib.views.tables import scorecard_table

    card = pd.DataFrame({"label": ["Revenue vs target", "DSO"], "value": [0.183, 60.0], "unit": ["ratio", "days"],
                         "target": [0.0, 45.0], "status": ["above target", "above target"], "alert": [False, True]})
    html = scorecard_table(card).to_html()
    assert "above target, alert" in html                           # DSO: lower is better
    assert html.count("above target, alert") == 1                  # revenue above target is no alarm


def test_unit_format_prints_each_row_in_its_unit_and_hides_the_unit_column():
    import pandas as pd

    from quantlib.views.tables import report_table, with_formats

    frame = pd.DataFrame({"name": ["dso", "share", "reserve", "change", "spc"],
                          "value": [25.3, 0.412, 59806.9, 0.073, 2.14],
                          "unit": ["days", "ratio", "currency", "points", "sigma"]})
    frame.attrs["hidden"] = ["unit"]
    html = report_table(with_formats(frame, {"value": "unit:unit"})).to_html()
    for shown in ("25.3 d", "41.2%", "$59,807", "+7.3 pts", "+2.1 σ"):
        assert shown in html
    assert ">days<" not in html and "Unit" not in html


def test_cells_are_text_not_markup():
    import pandas as pd

    from quantlib.views.tables import report_table

    html = report_table(pd.DataFrame({"name": ["<b>Acme</b> & Sons"], "spend": [1.5]}),
                        formats={"spend": "money"}).to_html()
    assert "&lt;b&gt;Acme&lt;/b&gt; &amp; Sons" in html and "<b>Acme</b>" not in html
