"""The one_row_per mapping rule: an export that repeats a record on each of its lines (an invoice per
invoice line) is read one row per record, the other lines counted in a note, not rejected."""

from __future__ import annotations

import pandas as pd
import pytest

from quantlib.data.ingest import MappingError, ingest
from quantlib.data.ingest.mapping import load_mapping
from quantlib.data.lake import Lake

MAPPING = """
tables:
  invoices:
    files: ["lines.csv"]
    columns: {Number: invoice_id, Job: job_id, Client: customer_id, Issued: issued_date, Due: due_date, Total: amount,
              State: status}
    defaults: {disputed: "false"}
    where: {Kind: [sale]}
    one_row_per: [Number]
"""


def test_one_row_per_record(tmp_path):
    (tmp_path / "map.yaml").write_text(MAPPING)
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "lines.csv").write_text(
        "Number,Job,Client,Issued,Due,Total,State,Kind,Line\n"
        "I-1,J-1,c1,2024-05-01,2024-05-31,300,open,sale,Labour\n"
        "I-1,J-1,c1,2024-05-01,2024-05-31,300,open,sale,Parts\n"
        "I-2,J-2,c1,2024-05-02,2024-06-01,80,paid,bill,Fuel\n"      # not this table: where leaves it out
        "I-2,J-2,c1,2024-05-02,2024-06-01,80,paid,sale,Callout\n"   # so this is I-2's first sale row
        ",J-3,c1,2024-05-03,2024-06-02,10,open,sale,A\n"
        ",J-4,c1,2024-05-03,2024-06-02,10,open,sale,B\n")           # no number: each row read, rejected
    lake = Lake(tmp_path / "lake")
    report = ingest(exports, lake, tmp_path / "map.yaml")
    invoices = pd.read_parquet(lake.silver_table("invoices")).set_index("invoice_id")
    assert invoices["amount"].to_dict() == {"I-1": 300.0, "I-2": 80.0}
    [file] = report.files
    assert (file.rows_read, file.rows_accepted, file.rows_rejected) == (4, 2, 2)
    assert "1 further line of a record read from its first row (one row per Number)" in " ".join(file.notes)
    assert set(pd.read_parquet(lake.rejects)["row"]) == {6, 7}  # lines as in the file


def test_one_row_per_names_source_columns(tmp_path):
    path = tmp_path / "map.yaml"
    path.write_text(MAPPING.replace("one_row_per: [Number]", "one_row_per: {Number: 1}"))
    with pytest.raises(MappingError, match="one_row_per must list source columns"):
        load_mapping(path)
