"""The shipped mappings for field-service platforms' exports (Jobber, Housecall Pro, ServiceTitan):
files in the documented shapes land through `quant ingest --source`, what an export does not hold
is refused or rejected naming the field, and a company's copy of a mapping supplies what it decides."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from quantlib.cli import app
from quantlib.config import project_root
from quantlib.data.ingest import MappingError, ingest
from quantlib.data.ingest.mapping import load_mapping
from quantlib.data.lake import Lake

SHIPPED = project_root() / "parameters" / "mappings"


def _exports(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "exports"
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def _ingest(tmp_path: Path, folder: Path, *, source: str | None = None, mapping: Path | None = None):
    lake = tmp_path / "lake"
    args = ["ingest", str(folder), "--lake", str(lake)]
    args += ["--source", source] if source else ["--mapping", str(mapping)]
    return CliRunner().invoke(app, args), Lake(lake)


def _company_copy(tmp_path: Path, source: str, table: str, **rules: dict) -> Path:
    """The shipped mapping with a company's own ``defaults`` / ``values`` / ``columns`` added to ``table``."""
    doc = yaml.safe_load((SHIPPED / f"{source}.yaml").read_text())
    spec = doc["tables"][table]
    for key, entries in rules.items():
        merged = dict(spec.get(key) or {})
        for target, entry in entries.items():
            merged[target] = {**merged[target], **entry} if isinstance(entry, dict) and target in merged else entry
        spec[key] = merged
    path = tmp_path / f"{source}_company.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _missing_columns(output: str) -> set[str]:
    """The columns named by a file's 'missing required columns ...' problem line."""
    line = next(x for x in output.splitlines() if "missing required column" in x)
    return set(re.findall(r"'([^']+)'", line.split("(", 1)[0]))


def _rejects(lake: Lake) -> dict[int, set[str]]:
    rejects = pd.read_parquet(lake.rejects)
    return rejects.groupby("row")["field"].apply(set).to_dict()


# --------------------------------------------------------------------------- the strip rule


def test_strip_removes_text_before_the_checks(tmp_path):
    folder = _exports(tmp_path, {"inv.csv": (
        "Number,Job,Client,Issued,Due,Total,State\n"
        '="I1",J1,c1,2025-01-02,2025-01-30,"$1,234.50",open\n'
        '="I2",J2,c1,2025-01-02,2025-01-30,-$66.00,open\n'
        '="I3",J3,c1,2025-01-02,2025-01-30,(66.00),open\n')})
    mapping = tmp_path / "map.yaml"
    mapping.write_text("""
tables:
  invoices:
    files: [inv.csv]
    columns: {Number: invoice_id, Job: job_id, Client: customer_id, Issued: issued_date, Due: due_date,
              Total: amount, State: status}
    strip: {invoice_id: ["=", '"'], amount: ["$", ","]}
    defaults: {disputed: "false"}
""")
    lake = Lake(tmp_path / "lake")
    report = ingest(folder, lake, mapping)
    invoices = pd.read_parquet(lake.silver_table("invoices")).set_index("invoice_id")
    assert invoices["amount"].to_dict() == {"I1": 1234.5}
    rejects = pd.read_parquet(lake.rejects).set_index("row")
    assert rejects.loc[3, "field"] == "amount" and "-66.0" in rejects.loc[3, "reason"]  # a negative amount
    assert rejects.loc[4, "field"] == "amount" and "(66.00)" in rejects.loc[4, "reason"]  # parentheses stay
    assert json.loads(rejects.loc[3, "raw"])["Total"] == "-$66.00"  # the raw row is kept as read
    assert report.rows_accepted == 1 and report.rows_rejected == 2


def test_strip_lists_texts(tmp_path):
    path = tmp_path / "map.yaml"
    for rule in ('strip: {amount: "$"}', "strip: {amount: []}", 'strip: {amount: [""]}'):
        path.write_text(f"tables:\n  invoices:\n    files: [a.csv]\n    {rule}\n")
        with pytest.raises(MappingError, match="strip.amount must list the texts to remove"):
            load_mapping(path)
    path.write_text('tables:\n  invoices:\n    files: [a.csv]\n    strip: {colour: ["$"]}\n')
    with pytest.raises(MappingError, match="not a column of invoices"):
        load_mapping(path)

