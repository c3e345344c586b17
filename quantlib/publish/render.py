"""Render an executed notebook as an executive reads it: HTML and PDF, no code, no network.

Both formats start from the same cleaned notebook (:func:`clean_notebook`): code inputs,
stderr (warnings), errors, scripts and widget state removed, Vega-Lite charts turned into
SVG. HTML goes through nbconvert with the project template; PDF through Quarto when it is
installed, otherwise pandoc → Typst → ``typst.compile`` with the house template.
"""

from __future__ import annotations

import base64
import copy
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Protocol

import nbformat

from quantlib.errors import QuantError
from quantlib.publish.sanitize import sanitize_report

__all__ = [
    "PDF_ENGINES", "PdfEngine", "QuartoEngine", "RenderError", "ReportMeta", "TypstEngine",
    "clean_notebook", "render_html", "render_pdf", "report_meta_for", "select_pdf_engine",
]

TEMPLATES = Path(__file__).parent / "templates"
HTML_TEMPLATE = "quant_report"
HOUSE_TYP = TEMPLATES / "typst" / "house.typ"

#: Cells never published: papermill's own additions and the author's explicit opt-out.
REMOVE_TAGS = {"injected-parameters", "papermill-error-cell-tag", "remove_cell", "remove-cell", "hide"}
VEGALITE = re.compile(r"application/vnd\.vegalite\.v\d+\+json")
#: Output types that need a browser runtime or the network; they carry no printable content.
DROP_MIMETYPES = {"application/javascript", "application/vnd.jupyter.widget-view+json",
                  "application/vnd.jupyter.widget-state+json"}
_XMLNS = re.compile(r'\s+xmlns(:\w+)?="[^"]*"')
_LEADING_H1 = re.compile(r"\A\s*#\s+[^\n]*\n?")


class RenderError(QuantError, RuntimeError):
    """A report could not be rendered (tool missing or failing); the message says which."""


@dataclass(frozen=True)
class ReportMeta:
    """What the header and cover show.

    Attributes
    ----------
    title : str
        Report name, e.g. "Monthly business review".
    company : str
        Company display name.
    period : str
        Period covered, e.g. "December 2024".
    run_date : date or str
        When the report was produced.
    """

    title: str
    company: str
    period: str
    run_date: date | datetime | str

    def as_dict(self) -> dict[str, str]:
        run = self.run_date.isoformat() if isinstance(self.run_date, (date, datetime)) else str(self.run_date)
        return {"title": self.title, "company": self.company, "period": self.period, "run_date": run[:10]}


def report_meta_for(notebook: Path, parameters: dict, run_date: date | datetime | None = None,
                    title: str | None = None) -> ReportMeta:
    """Header and cover texts for a run of ``notebook`` with ``parameters``.

    Parameters
    ----------
    notebook : Path
        The notebook; its ``# Title`` is the title (else its name) unless ``title`` is given.
    parameters : dict
        The run's validated parameters (``company``, ``lake``, ``as_of``, optionally ``period``).
    run_date : date or datetime, optional
        When the report is produced (default today); shown as "Published ...".
    title : str, optional
        The job's title, which wins over the notebook's.

    Returns
    -------
    ReportMeta
        ``company`` is the company's name: gold's ``build_info.company`` of the run's lake,
        else the profile's ``name``, else the slug. ``period`` is what the report covers:
        the ``period`` parameter, else the month of ``as_of`` (the parameter, else the
        warehouse's as-of date), e.g. "December 2024"; never the publication date.
    """
    if title is None:
        nb = _read(notebook)
        title = next((m.group(1).strip() for c in nb.cells if c.cell_type == "markdown"
                      for m in [re.match(r"\s*#\s+([^\n]+)", c.source)] if m), None)
        title = title or Path(notebook).stem.replace("_", " ").capitalize()
    slug = str(parameters.get("company", ""))
    built_name, built_as_of = _gold_name_and_date(slug, parameters.get("lake"))
    company = built_name or _profile_name(slug) or slug
    as_of = parameters.get("as_of") or built_as_of
    if parameters.get("period"):
        period = str(parameters["period"])
    elif as_of:
        period = f"{date.fromisoformat(str(as_of)[:10]):%B %Y}"
    else:
        period = "Latest data"
    return ReportMeta(title=title, company=company, period=period, run_date=run_date or date.today())


def _profile_name(slug: str) -> str | None:
    """The ``name`` of ``parameters/companies/<slug>.yaml``, if there is one."""
    import yaml

    from quantlib.config import project_root

    profile = project_root() / "parameters" / "companies" / f"{slug}.yaml"
    if not slug or not profile.is_file():
        return None
    return (yaml.safe_load(profile.read_text(encoding="utf-8")) or {}).get("name")


def _gold_name_and_date(slug: str, lake) -> tuple[str | None, date | None]:
    """The company name and as-of date recorded in the run's gold, or ``(None, None)``.

    ``lake`` is the run's lake parameter (relative paths under the project root); without
    one, the company's demo lake (:func:`quantlib.config.resolve_lake`).
    """
    import duckdb

    from quantlib.config import project_root, resolve_lake

    root = Path(lake) if lake else resolve_lake(company=slug or None, environ={})
    root = root if root.is_absolute() else project_root() / root
    gold = root / "gold.duckdb"
    if not gold.is_file():
        return None, None
    try:
        with duckdb.connect(str(gold), read_only=True) as con:
            name = con.execute("SELECT company FROM build_info WHERE company IS NOT NULL LIMIT 1").fetchone()
            as_of = con.execute("SELECT as_of FROM build_params").fetchone()
    except duckdb.Error:
        return None, None  # an unreadable or older warehouse: the header falls back to the profile
    return (name[0] if name else None), (as_of[0] if as_of else None)


# --------------------------------------------------------------------------- cleaning

def _vegalite_to_svg(spec: dict) -> str:
    import vl_convert as vlc

    return vlc.vegalite_to_svg(spec)


def _clean_bundle(data: dict, keep_spec: bool = False) -> dict:
    data = {k: v for k, v in data.items() if k not in DROP_MIMETYPES}
    vl = next((k for k in data if VEGALITE.fullmatch(k)), None)
    if vl is not None:
        # A chart shown with Altair's default renderer: convert it here so the report
        # still has it, as SVG, without the Vega JavaScript the HTML bundle would load.
        # The HTML renderer keeps the spec to draw the chart interactive over that SVG.
        if "image/svg+xml" not in data:
            data["image/svg+xml"] = _vegalite_to_svg(data[vl])
        data = {k: v for k, v in data.items() if k in {"image/svg+xml", "text/plain"} or (keep_spec and k == vl)}
    html = data.get("text/html")
    if isinstance(html, list):
        html = "".join(html)
    if html is not None and re.search(r"<script|<iframe|<link\b", html, re.IGNORECASE):
        data.pop("text/html")
    return data


def clean_notebook(nb: nbformat.NotebookNode, keep_specs: bool = False) -> nbformat.NotebookNode:
    """A copy of ``nb`` fit for publishing.

    Removes cells tagged ``remove_cell``/``hide`` and papermill's additions, code inputs
    (cleared), stderr streams, error outputs, scripts and widget outputs; converts Vega-Lite
    outputs to SVG (keeping their specs too with ``keep_specs``, for interactive HTML); drops
    the notebook's leading ``# Title`` (the header/cover shows the title).
    """
    nb = copy.deepcopy(nb)
    cells = []
    for cell in nb.cells:
        if REMOVE_TAGS & set(cell.get("metadata", {}).get("tags", [])):
            continue
        if cell.cell_type == "code":
            outputs = []
            for out in cell.get("outputs", []):
                if out.output_type == "error" or (out.output_type == "stream" and out.get("name") == "stderr"):
                    continue
                if out.output_type in {"display_data", "execute_result"}:
                    out["data"] = _clean_bundle(dict(out.get("data", {})), keep_specs)
                    if not set(out["data"]) - {"text/plain"} and out.output_type == "display_data":
                        continue
                outputs.append(out)
            cell.outputs = outputs
            cell.source = ""
            if not outputs:
                continue
        cells.append(cell)
    for cell in cells:
        if cell.cell_type == "markdown":
            cell.source = _LEADING_H1.sub("", cell.source, count=1)
            break
    nb.cells = [c for c in cells if c.cell_type != "markdown" or c.source.strip()]
    return nb


def _read(executed: Path) -> nbformat.NotebookNode:
    return nbformat.read(Path(executed), as_version=4)


def _atomic_write_bytes(out: Path, data: bytes) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(out)
    return out


# --------------------------------------------------------------------------- HTML

def render_html(executed: Path, out: Path, meta: ReportMeta, interactive: bool = True) -> Path:
    """Render the executed notebook to one self-contained HTML file.

    No code, no prompts, no warnings or errors; charts inline as SVG; CSS inline; nothing
    loaded from anywhere. The cells' HTML is sanitised
    (:func:`quantlib.publish.sanitize.sanitize_report`: no script, event handler or
    ``javascript:`` link survives) and a Content-Security-Policy forbids any network load.

    With ``interactive`` (the default), charts whose output carries its Vega-Lite spec (the
    ``quant`` renderer of :func:`quantlib.views.use_svg`) are drawn live over their static SVG
    with tooltips, zoom and legend filtering, by scripts embedded in the page and allowed by
    their hashes only (:mod:`quantlib.publish.interactive`); without it the policy forbids
    every script.

    Returns
    -------
    Path
        ``out``.
    """
    from nbconvert import HTMLExporter

    from quantlib.publish.interactive import chart_placeholder, embed_charts

    nb = clean_notebook(_read(executed), keep_specs=interactive)
    specs: list[dict] = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            vl = next((k for k in data if VEGALITE.fullmatch(k)), None)
            if vl is not None:
                svg = _XMLNS.sub("", "".join(data["image/svg+xml"]) if isinstance(data["image/svg+xml"], list)
                                 else data["image/svg+xml"])
                output["data"] = {"text/html": chart_placeholder(len(specs), svg),
                                  "text/plain": data.get("text/plain", "")}
                specs.append(dict(data[vl]))
                continue
            html = output.get("data", {}).get("text/html")
            if html:
                text = "".join(html) if isinstance(html, list) else html
                output["data"]["text/html"] = _TABLE.sub(_align_table, text)
            svg = output.get("data", {}).get("image/svg+xml")
            if svg:
                # Inline <svg> in HTML5 needs no namespace declarations, and they are the
                # only http:// strings a chart carries.
                output["data"]["image/svg+xml"] = _XMLNS.sub("", "".join(svg) if isinstance(svg, list) else svg)
    exporter = HTMLExporter(
        template_name=HTML_TEMPLATE, extra_template_basedirs=[str(TEMPLATES / "html")],
        exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True,
    )
    body, _ = exporter.from_notebook_node(nb, resources={"report": meta.as_dict()})
    # Outputs and markdown can hold any HTML (an event handler in a customer name, a pasted
    # snippet): the cells pass an allow-list sanitiser and the page forbids scripts (CSP).
    body = embed_charts(sanitize_report(body), specs)
    return _atomic_write_bytes(Path(out), body.encode("utf-8"))


# --------------------------------------------------------------------------- PDF

class PdfEngine(Protocol):
    """A way to make the PDF; the registry picks the first available one."""

    name: str

    def available(self) -> bool: ...

    def render(self, executed: Path, out: Path, meta: ReportMeta) -> Path: ...


def _notebook_html_for_pandoc(nb: nbformat.NotebookNode, figures: Path) -> str:
    """One HTML document of the cleaned notebook, charts written as files into ``figures``.

    pandoc's HTML reader turns ``<table>`` into real tables (its Markdown reader would keep
    raw HTML), so pandas DataFrames become Typst tables.
    """
    from html import escape

    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    parts: list[str] = []
    n = 0
    figures.mkdir(parents=True, exist_ok=True)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            parts.append(markdown2html_mistune(cell.source))
            continue
        if cell.cell_type != "code":
            continue
        for out in cell.outputs:
            if out.output_type == "stream":
                parts.append(f"<pre>{escape(out.text.rstrip())}</pre>")
                continue
            data = out.get("data", {})
            if "image/svg+xml" in data:
                n += 1
                name = f"fig-{n}.svg"
                svg = data["image/svg+xml"]
                (figures / name).write_text("".join(svg) if isinstance(svg, list) else svg, encoding="utf-8")
                parts.append(f'<p><img src="{figures.name}/{name}" style="width:100%" /></p>')
            elif "image/png" in data:
                n += 1
                name = f"fig-{n}.png"
                (figures / name).write_bytes(base64.b64decode(data["image/png"]))
                parts.append(f'<p><img src="{figures.name}/{name}" style="width:100%" /></p>')
            elif "text/html" in data:
                html = data["text/html"]
                parts.append("".join(html) if isinstance(html, list) else html)
            elif "text/markdown" in data:
                parts.append(markdown2html_mistune(data["text/markdown"]))
            elif "text/plain" in data:
                parts.append(f"<pre>{escape(data['text/plain'])}</pre>")
    html = _ANCHOR.sub("", "\n".join(parts))
    html = _TABLE.sub(_align_table, html)
    return "<html><body>\n" + html + "\n</body></html>"


_TABLE = re.compile(r"<table\b.*?</table>", re.DOTALL | re.IGNORECASE)
_ROW = re.compile(r"(<tr\b[^>]*>)(.*?)(</tr>)", re.DOTALL | re.IGNORECASE)
_CELL = re.compile(r"<(t[hd])\b([^>]*)>(.*?)</\1>", re.DOTALL | re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")
_ANCHOR = re.compile(r'<a class="anchor-link"[^>]*>.*?</a>', re.DOTALL)
_NUMBER = re.compile(r"^[-+(]?[$€£]?\s*[-+]?[\d,]*\.?\d+(e[-+]?\d+)?\s*[%)kKmM]?$")


def _is_number(text: str) -> bool:
    text = text.strip()
    return text in {"", "-", "–", "nan", "NaN", "None", "<NA>", "NaT"} or bool(_NUMBER.match(text))


def _align_table(match: re.Match) -> str:
    """Right-align the numeric columns of one HTML table, left-align the rest.

    pandoc takes a column's alignment from its cells' ``text-align``; without it Typst
    would centre everything. Tables with spanning cells are left as they are.
    """
    table = match.group(0)
    if re.search(r"(col|row)span", table, re.IGNORECASE):
        return table
    body = table.split("<tbody", 1)[-1]
    columns: dict[int, bool] = {}
    for row in _ROW.finditer(body):
        for i, cell in enumerate(_CELL.finditer(row.group(2))):
            columns[i] = columns.get(i, True) and _is_number(_TAG.sub("", cell.group(3)))

    def align_row(row: re.Match) -> str:
        cells = iter(range(10_000))

        def align_cell(cell: re.Match) -> str:
            i = next(cells)
            side = "right" if columns.get(i, False) else "left"
            return f'<{cell.group(1)}{cell.group(2)} style="text-align: {side}">{cell.group(3)}</{cell.group(1)}>'

        return row.group(1) + _CELL.sub(align_cell, row.group(2)) + row.group(3)

    return _ROW.sub(align_row, table)


def _heading_shift(html: str) -> int:
    levels = [int(m) for m in re.findall(r"<h([1-6])[\s>]", html)]
    return 1 - min(levels) if levels else 0


class TypstEngine:
    """pandoc (``pypandoc-binary``) → Typst markup → ``typst.compile``, with the house template."""

    name = "typst"

    def available(self) -> bool:
        try:
            import pypandoc  # noqa: F401
            import typst  # noqa: F401
        except ImportError:
            return False
        return True

    def render(self, executed: Path, out: Path, meta: ReportMeta) -> Path:
        import pypandoc
        import typst

        nb = clean_notebook(_read(executed))
        with tempfile.TemporaryDirectory(prefix="quant-pdf-") as tmp:
            build = Path(tmp)
            html = _notebook_html_for_pandoc(nb, build / "figures")
            # Sections start at level 1 whatever level the notebook used (## under a title).
            body = pypandoc.convert_text(
                html, "typst", format="html",
                extra_args=[f"--shift-heading-level-by={_heading_shift(html)}", "--wrap=none"],
            )
            shutil.copy(HOUSE_TYP, build / "house.typ")
            main = build / "main.typ"
            main.write_text(
                '#import "house.typ": *\n'
                "#show: report.with(title: sys.inputs.title, company: sys.inputs.company,\n"
                "  period: sys.inputs.period, date: sys.inputs.run_date)\n\n" + body,
                encoding="utf-8",
            )
            try:
                # Texts go in as sys.inputs, never spliced into markup: nothing to escape.
                pdf = typst.compile(str(main), root=str(build), sys_inputs=meta.as_dict())
            except Exception as exc:  # typst raises its own error types with the diagnostics
                raise RenderError(f"typst could not compile the report: {exc}") from exc
        return _atomic_write_bytes(Path(out), pdf)


class QuartoEngine:
    """The Quarto CLI (``quarto render --to typst``), for users of environment.yml."""

    name = "quarto"

    def available(self) -> bool:
        return shutil.which("quarto") is not None

    def render(self, executed: Path, out: Path, meta: ReportMeta) -> Path:
        nb = clean_notebook(_read(executed))
        with tempfile.TemporaryDirectory(prefix="quant-quarto-") as tmp:
            src = Path(tmp) / "report.ipynb"
            nbformat.write(nb, src)
            m = meta.as_dict()
            cmd = ["quarto", "render", str(src), "--to", "typst", "--no-execute",
                   "-M", f"title:{m['title']}", "-M", f"subtitle:{m['company']} · {m['period']}",
                   "-M", f"date:{m['run_date']}", "-M", "toc:true", "-M", "number-sections:true",
                   "-M", "echo:false", "-M", "warning:false", "-M", "error:false"]
            # An argument list (no shell); the metadata are single arguments, never parsed by a shell.
            proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True)  # nosec B603
            pdf = src.with_suffix(".pdf")
            if proc.returncode != 0 or not pdf.exists():
                last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
                raise RenderError(f"quarto render failed ({proc.returncode}): {last}")
            return _atomic_write_bytes(Path(out), pdf.read_bytes())


#: PDF engines in order of preference; the first whose ``available()`` is true is used.
PDF_ENGINES: dict[str, PdfEngine] = {"quarto": QuartoEngine(), "typst": TypstEngine()}


def select_pdf_engine(preferred: str | None = None, engines: dict[str, PdfEngine] | None = None) -> PdfEngine:
    """The engine to use: ``preferred`` if given (it must be available), else the first available.

    Raises
    ------
    RenderError
        ``preferred`` is unknown or unavailable, or no engine is available.
    """
    engines = PDF_ENGINES if engines is None else engines
    if preferred is not None:
        if preferred not in engines:
            raise RenderError(f"unknown PDF engine '{preferred}'; known: {', '.join(engines)}")
        if not engines[preferred].available():
            raise RenderError(f"PDF engine '{preferred}' is not available")
        return engines[preferred]
    for engine in engines.values():
        if engine.available():
            return engine
    raise RenderError(f"no PDF engine available (tried {', '.join(engines)})")


def render_pdf(executed: Path, out: Path, meta: ReportMeta, *, engine: str | None = None) -> Path:
    """Render the executed notebook to PDF: cover, contents, numbered sections, page numbers.

    Parameters
    ----------
    executed : Path
        The executed notebook (papermill output).
    out : Path
        Where the PDF goes (written atomically).
    meta : ReportMeta
        Title, company, period and date for the cover and footer.
    engine : str, optional
        Force ``"quarto"`` or ``"typst"``; default: Quarto if on PATH, else Typst.
    """
    return select_pdf_engine(engine).render(Path(executed), Path(out), meta)
