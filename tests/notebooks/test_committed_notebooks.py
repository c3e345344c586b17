"""Every committed notebook (reports and apps) as a file: valid nbformat 4.5 with cell ids, no outputs."""

import json

import nbformat
import pytest

from tests.notebooks.helpers import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").rglob("*.ipynb"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT / "notebooks")))
def test_committed_notebook_has_cell_ids_and_no_outputs(notebook):
    raw = json.loads(notebook.read_text(encoding="utf-8"))
    # Without ids nbformat warns on every read and will refuse such files in a future version.
    assert all("id" in cell for cell in raw["cells"]), "run nbformat's normalize() on it"
    nbformat.validate(nbformat.reads(json.dumps(raw), as_version=4))
    code = [c for c in raw["cells"] if c["cell_type"] == "code"]
    assert not any(c.get("outputs") or c.get("execution_count") for c in code)
