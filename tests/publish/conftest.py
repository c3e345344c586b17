"""Publishing fixtures: a small report notebook, its model, and one executed copy per session."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from quantlib.parameters import NotebookParameters, register_parameters

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_NB = FIXTURES / "fixture_report.ipynb"


@register_parameters("fixture_report")
class FixtureReportParameters(NotebookParameters):
    """Parameters of tests/publish/fixtures/fixture_report.ipynb."""

    months: int = 6
    region: str = "North"


def make_notebook(path: Path, *sources: str, parameters: str | None = None) -> Path:
    """Write a notebook of code cells; ``parameters`` becomes the tagged cell (first)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    cells = []
    if parameters is not None:
        cell = nbformat.v4.new_code_cell(parameters)
        cell.metadata["tags"] = ["parameters"]
        cells.append(cell)
    cells += [nbformat.v4.new_code_cell(s) for s in sources]
    nb.cells = cells
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="session")
def executed_fixture(tmp_path_factory) -> Path:
    """The fixture report executed once with papermill (a real kernel)."""
    from quantlib.parameters import validate_parameters
    from quantlib.publish.execute import execute_notebook

    out = tmp_path_factory.mktemp("executed") / "notebook.ipynb"
    params = validate_parameters(FIXTURE_NB, {"company": "mixed_trades", "months": 8, "region": "Lakeside"})
    execute_notebook(FIXTURE_NB, out, params)
    return out
