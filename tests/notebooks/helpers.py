"""What every notebook test does: validate, execute on a lake, render HTML and check it is clean."""

from __future__ import annotations

import re

import nbformat

from quantlib.parameters import validate_parameters
from quantlib.publish.execute import execute_notebook
from quantlib.publish.render import ReportMeta, render_html
from tests.conftest import ROOT

NETWORK = re.compile(r"https?://|//cdn|<script[^>]+src=", re.IGNORECASE)


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
    html = render_html(executed_path, tmp_path / "report.html", meta).read_text()
    assert not NETWORK.search(html), NETWORK.search(html)
    assert "Traceback" not in html and "import " not in html
    shown = re.sub(r"<style.*?</style>|<svg.*?</svg>|<script.*?</script>", "", html, flags=re.DOTALL)
    assert "**" not in shown, shown[max(0, shown.find("**") - 200):shown.find("**") + 200]
    return html


def section_headings(executed) -> list[str]:
    """The notebook's second-level headings (its report sections)."""
    return [c.source.splitlines()[0].lstrip("# ") for c in executed.cells
            if c.cell_type == "markdown" and c.source.startswith("## ")]
