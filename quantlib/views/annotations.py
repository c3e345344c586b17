"""Comments in reports and apps: a table of them, and numbered markers on the points they are about.

The comments are :class:`quantlib.data.annotations.AnnotationStore`'s (its ``frame``). A
report shows a target's comments as a table (:func:`annotations_table`) and draws the ones on
data points as numbered rules on its chart (:func:`annotation_layer`), the numbers matching the
table's.

>>> notes = numbered(AnnotationStore().frame("chart:monthly_business_review/", prefix=True,
...                                          include_resolved=False))              # doctest: +SKIP
>>> annotations_table(notes); chart + annotation_layer(notes)                      # doctest: +SKIP
"""

from __future__ import annotations

import altair as alt
import pandas as pd

__all__ = ["annotation_layer", "annotations_table", "numbered"]


def numbered(notes: pd.DataFrame) -> pd.DataFrame:
    """``notes`` with ``number`` (1, 2, ... in order): what markers and tables show."""
    return notes.assign(number=range(1, len(notes) + 1))


def annotations_table(notes: pd.DataFrame) -> pd.DataFrame:
    """Comments for a report: ``#, when, author, on, comment, status``.

    Parameters
    ----------
    notes : DataFrame
        :meth:`AnnotationStore.frame <quantlib.data.annotations.AnnotationStore.frame>` rows,
        :func:`numbered` (else numbered here, in their order).

    Returns
    -------
    DataFrame
        ``attrs["empty_message"]`` says there is none (what a report prints instead of an empty table).
    """
    if "number" not in notes:
        notes = numbered(notes)

    def on(row) -> str:
        where = row.target.split(":", 1)[1].split("/")[-1].replace("_", " ")
        point = f" at {row.point_x}" if pd.notna(row.point_x) else ""
        series = f" ({row.point_series})" if pd.notna(row.point_series) else ""
        return f"{where}{point}{series}"

    table = pd.DataFrame({
        "#": notes["number"],
        "when": notes["created_at"].dt.tz_localize(None).dt.strftime("%d %b %Y %H:%M"),
        "author": notes["author"],
        "on": [on(r) for r in notes.itertuples(index=False)],
        "comment": notes["text"],
        "status": ["resolved by " + str(r.resolved_by) if pd.notna(r.resolved_at) else "open"
                   for r in notes.itertuples(index=False)],
    })
    table.attrs["empty_message"] = "No open comments."
    return table


def annotation_layer(notes: pd.DataFrame, x_type: str = "temporal") -> alt.LayerChart | None:
    """Numbered vertical rules at the points ``notes`` are about, to layer over a chart with that x.

    ``notes`` is :func:`numbered` comments (only those with ``point_x`` are drawn). ``x_type``
    is the chart's x type (``temporal``: ``point_x`` is a date). None when no comment has a point.
    """
    if "number" not in notes:
        notes = numbered(notes)  # before keeping the points: the numbers are the table's
    notes = notes[notes["point_x"].notna()]
    if notes.empty:
        return None
    marks = pd.DataFrame({"x": pd.to_datetime(notes["point_x"]) if x_type == "temporal" else notes["point_x"],
                          "label": [f"{n}" for n in notes["number"]], "comment": notes["text"],
                          "author": notes["author"]})
    encoding = {"x": alt.X("x", type=x_type, title=None)}
    rules = alt.Chart(marks).mark_rule(color="#8a5a00", strokeDash=[3, 3], strokeWidth=1.5).encode(
        **encoding, tooltip=[alt.Tooltip("label:N", title="#"), "author:N", "comment:N"])
    labels = alt.Chart(marks).mark_text(color="#8a5a00", fontWeight="bold", dy=-4, baseline="bottom",
                                        align="left", dx=3).encode(**encoding, y=alt.value(12), text="label:N")
    return rules + labels
