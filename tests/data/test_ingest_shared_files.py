"""One export feeding two tables (a mapping's also_from) and rows chosen by value (where): a CRM's
opportunities are leads, and the priced ones quotes too; rows left out are counted, never rejected."""

from __future__ import annotations

import pandas as pd
import pytest

from quantlib.data.ingest import MappingError, ingest
from quantlib.data.ingest.mapping import load_mapping
from quantlib.data.lake import Lake

MAPPING = """
tables:
  customers:
    files: ["people.csv"]
    columns: {Id: customer_id}
    where: {Parent: blank}
    defaults: {customer_type: residential, region: north, acquisition_channel: web, preferred_channel: phone,
               is_priority: "false"}
  leads:
    files: ["deals.csv"]
    columns: {Id: lead_id, Customer: customer_id, Created: created_at, Stage: status}
    values: {status: {new: open, proposal: quoted, won: quoted}}
    defaults: {channel: web, service_line: hvac}
  quotes:
    also_from: ["deals.csv"]
    where: {Stage: [Proposal, Won], Amount: nonblank}
    columns: {Id: quote_id, Customer: customer_id, Created: created_at, Amount: amount, Stage: status,
              Closed: decided_at}
    values: {status: {proposal: open, won: won}}
    join: {lead_id: [Id]}
    defaults: {service_line: hvac, urgency: routine}
"""


def _write(folder, name, text):
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text)


def test_one_file_feeds_two_tables_and_where_picks_the_rows(tmp_path):
    mapping = tmp_path / "map.yaml"
    mapping.write_text(MAPPING)
    exports = tmp_path / "exports"
    _write(exports, "people.csv", "Id,name,zip,lat,lon,created_date,Parent\n"
                                  "c1,Ana,62701,39.8,-89.6,2024-01-01,\n"
                                  "c2,Bo,62702,39.8,-89.6,2024-01-01,c1\n")
    _write(exports, "deals.csv", "Id,Customer,Created,Stage,Amount,list_amount,Closed\n"
                                 "d1,c1,2024-02-01,New,,,\n"
                                 "d2,c1,2024-02-02,Proposal,900,1000,\n"
                                 "d3,c1,2024-02-03,Won,1200,1200,2024-02-10\n"
                                 "d4,c1,2024-02-04,Won,,,2024-02-11\n"
                                 "d5,c1,2024-02-05,Proposal,-5,1000,\n"
                                 "d6,c1,2024-02-06,New,1,2\n")  # ragged: one field short
    lake = Lake(tmp_path / "lake")
    report = ingest(exports, lake, mapping)
    by_table = {f.table: f for f in report.files}
    assert [f.table for f in report.files if f.file == "deals.csv"] == ["leads", "quotes"]
    # people: the contact under a parent is not a customer row (a note, not a reject)
    assert pd.read_parquet(lake.silver_table("customers"))["customer_id"].tolist() == ["c1"]
    assert by_table["customers"].rows_read == 1 and any("1 row not customers" in n for n in by_table["customers"].notes)
    leads = pd.read_parquet(lake.silver_table("leads")).set_index("lead_id")
    assert sorted(leads.index) == ["d1", "d2", "d3", "d4", "d5"]
    quotes = pd.read_parquet(lake.silver_table("quotes")).set_index("quote_id")
    assert sorted(quotes.index) == ["d2", "d3"] and quotes.loc["d3", "status"] == "won"
    assert quotes.loc["d2", "lead_id"] == "d2"
    # quotes read the priced proposal-or-won rows only: d1 (new) and d4 (no amount) are not quotes
    quoted = by_table["quotes"]
    assert (quoted.rows_read, quoted.rows_accepted, quoted.rows_rejected) == (3, 2, 1)
    assert any("2 rows not quotes" in n for n in quoted.notes)
    # the ragged line is rejected once, by the file's own table; the bad amount by quotes (line 6)
    rejects = pd.read_parquet(lake.rejects).sort_values("table")
    assert rejects[["table", "row", "field"]].values.tolist() == [["leads", 7, ""], ["quotes", 6, "amount"]]
    # both tables keep the raw file in bronze; a second ingest lands nothing again
    manifest = pd.read_parquet(lake.manifest)
    assert sorted(manifest.loc[manifest["file"] == "deals.csv", "table"]) == ["leads", "quotes"]
    again = ingest(exports, lake, mapping)
    assert {f.status for f in again.files} == {"already ingested"} and len(again.files) == 3


def test_where_and_also_from_are_checked(tmp_path):
    path = tmp_path / "m.yaml"
    for rule, message in (("where: {Stage: 3}", "must list values"), ("also_from: {a: b}", "must list file globs")):
        path.write_text(f"tables:\n  quotes:\n    files: [q.csv]\n    {rule}\n")
        with pytest.raises(MappingError, match=message):
            load_mapping(path)
    mapping = tmp_path / "map.yaml"
    mapping.write_text(MAPPING)
    exports = tmp_path / "exports"
    _write(exports, "deals.csv", "Id,Customer,Created,Amount\nd1,c1,2024-02-01,5\n")
    report = ingest(exports, tmp_path / "lake", mapping)
    quotes = next(f for f in report.files if f.table == "quotes")
    assert quotes.status == "unusable" and "column 'Stage' (which rows are quotes) is not in the file" in \
        quotes.problems[0].message
