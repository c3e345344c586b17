"""What every notebook test does: validate, execute on a lake, render HTML and check it is clean."""

from __future__ import annotations

import re

import nbformat
import pytest

from quantlib.parameters import check_parameters_cell, validate_parameters
from quantlib.publish.execute import execute_notebook
from quantlib.publish.render import ReportMeta, render_html
from tests.conftest import ROOT
from tests.publish.pages import markup

NETWORK = re.compile(r"https?://|//cdn|<script[^>]+src=", re.IGNORECASE)


def notebook_path(stem: str):
    """``notebooks/<stem>.ipynb`` in the checkout."""
    return ROOT / "notebooks" / f"{stem}.ipynb"


def assert_parameters_checked(notebook, bad: dict, match: str, unknown: dict) -> None:
    """The notebook's parameters cell mirrors its model, which refuses ``bad`` values for mixed_trades
    (with an error matching ``match``) and ``unknown`` names."""
    check_parameters_cell(notebook)
    with pytest.raises(ValueError, match=match):
        validate_parameters(notebook, {"company": "mixed_trades", **bad})
    with pytest.raises(ValueError):
        validate_parameters(notebook, {"company": "mixed_trades", **unknown})


def assert_committed_without_outputs(notebook) -> None:
    """The notebook has code cells, none with outputs or an execution count."""
    nb = nbformat.read(notebook, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and not any(c.outputs or c.execution_count for c in code)


def run_notebook(stem: str, lake, tmp_path, **params):
    """Execute ``notebooks/<stem>.ipynb`` for mixed_trades on ``lake``; return (executed notebook, outputs).

    Asserts that no cell raised.
    """
    notebook = ROOT / "notebooks" / f"{stem}.ipynb"
    # The test picks the lake as a user on the command line does (it lives in pytest's tmp).
    values = validate_parameters(notebook, {"company": "mixed_trades", "lake": str(lake.root), **params},
                                 trusted_lake=True)
    result = execute_notebook(notebook, tmp_path / "run.ipynb", values, execution_timeout=240)
    executed = nbformat.read(result.output, as_version=4)
    outputs = [o for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    return executed, outputs


def render_clean_html(executed_path, stem: str, tmp_path) -> str:
    """Render the executed notebook to HTML; assert no network reference, no code, no traceback, and no
    Markdown left unrendered (a literal ``**``: two bare dollar signs in a paragraph make a formula)."""
    meta = ReportMeta(title=stem.replace("_", " ").capitalize(), company="Prairie Home Services",
                      period="test", run_date="2026-11-27")
    html = markup(render_html(executed_path, tmp_path / "report.html", meta).read_text())
    assert not NETWORK.search(html), NETWORK.search(html)
    assert "Traceback" not in html and "import " not in html
    shown = re.sub(r"<style.*?</style>|<svg.*?</svg>|<script.*?</script>", "", html, flags=re.DOTALL)
    assert "**" not in shown, shown[max(0, shown.find("**") - 200):shown.find("**") + 200]
    return html


def section_headings(executed) -> list[str]:
    """The notebook's second-level headings (its report sections)."""
    return [c.source.splitlines()[0].lstrip("# ") for c in executed.cells
            if c.cell_type == "markdown" and c.source.startswith("## ")]


def run_and_render(stem: str, lake, tmp_path, headings: set[str], **params) -> str:
    """:func:`run_notebook` with ``params``, then :func:`render_clean_html`; return the HTML.

    Asserts as well that no cell wrote to stderr (no warnings), that there is at least one SVG
    chart and that ``headings`` are among the report's sections.
    """
    executed, outputs = run_notebook(stem, lake, tmp_path, **params)
    assert not [o for o in outputs if o.output_type == "stream" and o.name == "stderr"]  # no warnings
    assert any("image/svg+xml" in o.get("data", {}) for o in outputs)
    html = render_clean_html(tmp_path / "run.ipynb", stem, tmp_path)
    assert headings <= set(section_headings(executed))
    return html
