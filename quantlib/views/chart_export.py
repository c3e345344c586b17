"""Exports of charts and dashboards: PDF, PowerPoint, Excel and CSV.

Any chart (an Altair chart or a Vega-Lite spec) or a dashboard (several, in order) goes out as

* **PDF** (:func:`charts_to_pdf`): a title page, then one chart per page as vector SVG with its
  title and notes, laid out by Typst (the report PDF's engine; no browser);
* **PowerPoint** (:func:`charts_to_pptx`, python-pptx): a title slide, then one slide per
  chart with its title, the chart as a picture (PNG at twice the screen resolution: PowerPoint
  does not place SVG reliably) and the notes in the slide's speaker notes;
* **Excel** (:func:`charts_to_excel`, openpyxl): one sheet per chart with the data it shows,
  formulas neutralised (:func:`quantlib.views.export.neutralise_formulas`);
* **CSV** (:func:`chart_to_csv`): one chart's data, formulas neutralised.

A chart's data is what :class:`ExportChart` is given, else the rows inlined in its spec (every
dataset of a layered chart, one after the other with a ``dataset`` column when there are
several).
"""

from __future__ import annotations

import io
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from quantlib.views.export import neutralise_formulas, to_csv_text

__all__ = ["ExportChart", "chart_data", "chart_to_csv", "charts_to_excel", "charts_to_pdf", "charts_to_pptx",
           "safe_title"]


@dataclass
class ExportChart:
    """A chart to export.

    Attributes
    ----------
    title : str
    chart : altair chart or dict
        The chart, or its Vega-Lite spec.
    notes : str
        Shown under the chart in the PDF, as speaker notes in PowerPoint.
    data : DataFrame, optional
        The rows the Excel and CSV exports hold; default the data inlined in the spec.
    """

    title: str
    chart: object
    notes: str = ""
    data: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def spec(self) -> dict:
        return self.chart if isinstance(self.chart, dict) else self.chart.to_dict()


def chart_data(chart: ExportChart) -> pd.DataFrame:
    """The rows a chart shows (``chart.data``, else the datasets inlined in its spec)."""
    if chart.data is not None:
        return chart.data.reset_index(drop=True)
    spec = chart.spec
    datasets = spec.get("datasets", {})
    if not datasets and isinstance(spec.get("data", {}).get("values"), list):
        datasets = {"data": spec["data"]["values"]}
    frames = [pd.DataFrame(rows) for rows in datasets.values()]
    if len(frames) == 1:
        return frames[0]
    return pd.concat([f.assign(dataset=i + 1) for i, f in enumerate(frames)], ignore_index=True)


def chart_to_csv(chart: ExportChart) -> str:
    """One chart's data as CSV text, formulas neutralised."""
    return to_csv_text(chart_data(chart))


def _sheet_names(titles: list[str]) -> list[str]:
    """Excel sheet names: at most 31 characters, none of ``[]:*?/\\``, unique."""
    names: list[str] = []
    for title in titles:
        base = re.sub(r"[\[\]:*?/\\]", " ", title).strip()[:28] or "chart"
        name, n = base, 2
        while name.lower() in (x.lower() for x in names):
            name, n = f"{base[:27]} {n}", n + 1
        names.append(name)
    return names


def charts_to_excel(charts: list[ExportChart]) -> bytes:
    """An .xlsx with one sheet per chart (its data), formulas neutralised."""
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        for name, chart in zip(_sheet_names([c.title for c in charts]), charts):
            neutralise_formulas(chart_data(chart)).to_excel(writer, sheet_name=name, index=False)
    return buffer.getvalue()


def charts_to_pptx(charts: list[ExportChart], title: str = "", subtitle: str = "") -> bytes:
    """A PowerPoint deck: a title slide, then one slide per chart (title, picture, speaker notes)."""
    import vl_convert as vlc
    from pptx import Presentation
    from pptx.util import Emu, Inches, Pt

    deck = Presentation()
    deck.slide_width, deck.slide_height = Inches(13.333), Inches(7.5)  # 16:9
    if title:
        slide = deck.slides.add_slide(deck.slide_layouts[0])
        slide.shapes.title.text = title
        slide.placeholders[1].text = subtitle
    for chart in charts:
        slide = deck.slides.add_slide(deck.slide_layouts[5])  # title only
        slide.shapes.title.text = chart.title
        slide.shapes.title.text_frame.paragraphs[0].font.size = Pt(28)
        png = vlc.vegalite_to_png(chart.spec, scale=2)
        picture = slide.shapes.add_picture(io.BytesIO(png), Inches(0.6), Inches(1.5))
        # Fit inside the area under the title, keeping the aspect ratio.
        box_w, box_h = deck.slide_width - Inches(1.2), deck.slide_height - Inches(2.0)
        ratio = min(box_w / picture.width, box_h / picture.height)
        picture.width, picture.height = Emu(int(picture.width * ratio)), Emu(int(picture.height * ratio))
        picture.left = int((deck.slide_width - picture.width) / 2)
        if chart.notes:
            slide.notes_slide.notes_text_frame.text = chart.notes
    buffer = io.BytesIO()
    deck.save(buffer)
    return buffer.getvalue()


def _typst_text(text: str) -> str:
    """``text`` as Typst content that prints literally (markup characters escaped)."""
    return re.sub(r"([\\#*_`$<>@\[\]~/=+\-])", r"\\\1", str(text)).replace("\n", " \\\n")


def charts_to_pdf(charts: list[ExportChart], title: str = "", subtitle: str = "") -> bytes:
    """A PDF: a title page (when ``title``), then one chart per page as vector SVG with its title and notes."""
    import typst
    import vl_convert as vlc

    with tempfile.TemporaryDirectory(prefix="quant-export-") as tmp:
        folder = Path(tmp)
        parts = ['#set page(paper: "a4", flipped: true, margin: 1.6cm)',
                 '#set text(font: ("Liberation Sans", "DejaVu Sans"), size: 11pt)']
        if title:
            parts.append(f"#align(center + horizon)[#text(size: 26pt, weight: \"bold\")[{_typst_text(title)}]"
                         f"\\ #v(0.4em) #text(size: 14pt)[{_typst_text(subtitle)}]]")
        for i, chart in enumerate(charts):
            (folder / f"chart-{i}.svg").write_text(vlc.vegalite_to_svg(chart.spec), encoding="utf-8")
            if title or i:
                parts.append("#pagebreak()")
            notes = f"\n#v(0.6em)\n#text(size: 10pt)[{_typst_text(chart.notes)}]" if chart.notes else ""
            parts.append(f"#text(size: 18pt, weight: \"bold\")[{_typst_text(chart.title)}]\n#v(0.4em)\n"
                         f'#image("chart-{i}.svg", width: 100%, height: 80%, fit: "contain"){notes}')
        source = folder / "export.typ"
        source.write_text("\n".join(parts) + "\n", encoding="utf-8")
        return typst.compile(str(source))


def safe_title(text: str) -> str:
    """A file stem from a chart or dashboard title (letters, digits, dashes)."""
    return re.sub(r"[^A-Za-z0-9]+", "-", str(text)).strip("-").lower() or "export"
