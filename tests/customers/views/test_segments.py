"""Segment views carry how their tables print, including the migration matrix's segment columns."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

from quantlib.customers.views import segments as sv
from quantlib.views import report_table


def test_migration_matrix_counts_and_stayed_share():
    moves = pd.DataFrame({"from_segment": ["a", "a", "new"], "to_segment": ["a", "b", "b"],
                          "customers": [1500, 500, 7], "share_of_from": [0.75, 0.25, 1.0]})
    matrix = sv.migration_matrix(SimpleNamespace(migration=moves))
    assert matrix.attrs["formats"] == {"a": "int", "b": "int", "stayed": "pct"}
    html = report_table(matrix).to_html()
    assert "1,500" in html and "75.0%" in html and "Before → now" in html


def test_segment_tables_declare_their_formats():
    assert sv.segment_sizes.formats["spend_365d_total"] == "money" and sv.segment_sizes.formats["share"] == "pct"
    assert sv.segment_sizes.labels["segment_name"] == "Segment"
    assert set(sv.profile_match.formats) == set(sv.PROFILE_COLUMNS)
    assert sv.silhouette_table.formats["silhouette"] == "{:.3f}"
