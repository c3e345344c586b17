"""Comments in reports: the table and the numbered markers agree, and the chart still renders."""

from __future__ import annotations

import altair as alt
import pandas as pd
import vl_convert as vlc

from quantlib.data.annotations import AnnotationStore
from quantlib.views.annotations import annotation_layer, annotations_table, numbered


def test_table_and_markers_carry_the_same_numbers(tmp_path):
    store = AnnotationStore(tmp_path / "notes.sqlite")
    store.add("chart:mbr/revenue", "Whole chart: fine", "ana", now="2024-12-01T09:00:00+00:00")
    store.add("chart:mbr/revenue", "Storm week", "ben", point_x="2024-03-15", now="2024-12-02T09:00:00+00:00")
    resolved = store.add("chart:mbr/revenue", "Old news", "cy", point_x="2024-02-01")
    store.resolve(resolved.id, by="ana")
    notes = numbered(store.frame("chart:mbr/", prefix=True, include_resolved=False))
    table = annotations_table(notes)
    assert list(table["#"]) == [1, 2] and list(table["on"]) == ["revenue", "revenue at 2024-03-15"]
    assert list(table["status"]) == ["open", "open"] and table.attrs["empty_message"] == "No open comments."
    layer = annotation_layer(notes)
    spec = layer.to_dict()
    marks = pd.DataFrame(spec["datasets"][spec["data"]["name"]])
    assert list(marks["label"]) == ["2"] and list(marks["comment"]) == ["Storm week"]  # the table's number
    series = pd.DataFrame({"ds": pd.date_range("2024-01-01", periods=6, freq="MS"), "y": [1, 3, 2, 4, 3, 5]})
    chart = alt.Chart(series).mark_line().encode(x="ds:T", y="y:Q") + layer
    svg = vlc.vegalite_to_svg(chart.to_dict())
    assert "<svg" in svg and ">2<" in svg
    assert annotation_layer(numbered(store.frame("chart:none"))) is None
    everything = annotations_table(store.frame("chart:mbr/", prefix=True))
    assert list(everything["status"]) == ["open", "open", "resolved by ana"]
