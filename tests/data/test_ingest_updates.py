"""A mapping's ``updates``: a file that sets columns of rows another file landed (a CRM's contacts deciding
their account's preferred channel through ``choose`` rules), rejecting rows whose key is unknown or whose
value the contract refuses, the latest row per key winning, every other column kept."""

from __future__ import annotations

import pandas as pd
import pytest

from quantlib.data.ingest import MappingError, ingest, load_mapping
from quantlib.data.lake import Lake

MAPPING = """
tables:
  customers:
    files: ["customers.csv"]
updates:
  channels:
    table: customers
    files: ["people*.csv"]
    where: {Account: nonblank}
    columns: {Account: customer_id}
    latest_by: Modified
    choose:
      preferred_channel:
        - value: phone
          when: {NoCalls: ["false", ""], Phone: nonblank}
        - value: email
          when: {NoEmail: ["false", ""], Email: nonblank}
        - value: fax
          when: {Fax: nonblank}
"""
CUSTOMERS = ("customer_id,name,customer_type,region,zip,lat,lon,acquisition_channel,preferred_channel,created_date,"
             "is_priority\n"
             "C-1,Ann,residential,north,62701,39.8,-89.6,web,sms,2024-01-01,false\n"
             "C-2,Bob,commercial,north,62702,39.8,-89.6,web,sms,2024-01-01,true\n"
             "C-3,Cy,commercial,north,62703,39.8,-89.6,web,sms,2024-01-01,false\n")
PEOPLE = ("Account,NoCalls,Phone,NoEmail,Email,Fax,Modified\n"
          "C-1,true,555-0100,false,ann@example.com,,2024-05-02\n"  # may not be called: e-mail
          "C-2,false,555-0101,false,bob@example.com,,2024-05-03\n"  # newest of C-2's: phone
          "C-2,true,,true,,,2024-05-01\n"  # C-2 again, older, and decides nothing
          "C-2,true,,false,bob@old.example.com,,2024-04-01\n"  # older: loses to the newest
          "C-3,true,,true,,,2024-05-01\n"  # may be neither called nor e-mailed: C-3 keeps sms
          "C-9,false,555-0199,false,,,2024-05-01\n"  # no such customer
          ",false,555-0198,false,,,2024-05-01\n"  # a private contact: not this table's
          "C-3,true,,true,,555-0177,2024-05-04\n")  # a channel the contract does not know


def test_an_update_file_sets_columns_of_rows_landed_by_key(tmp_path):
    (tmp_path / "map.yaml").write_text(MAPPING)
    src = tmp_path / "src"
    src.mkdir()
    (src / "customers.csv").write_text(CUSTOMERS)
    (src / "people.csv").write_text(PEOPLE)
    lake = Lake(tmp_path / "lake")
    report = ingest(src, lake, mapping=tmp_path / "map.yaml")
    customers = pd.read_parquet(lake.silver_table("customers")).set_index("customer_id")
    assert customers["preferred_channel"].to_dict() == {"C-1": "email", "C-2": "phone", "C-3": "sms"}
    assert customers["is_priority"].to_dict() == {"C-1": False, "C-2": True, "C-3": False}  # the rest kept
    [people] = [f for f in report.files if f.file == "people.csv"]
    assert (people.table, people.rows_read, people.rows_accepted, people.rows_rejected) == ("customers", 7, 5, 2)
    assert "1 row not customers (taken when Account set)" in people.notes[1]
    assert "sets preferred_channel of 2 customers rows" in people.notes
    assert any("2 rows set no value of preferred_channel" in n for n in people.notes)
    assert any("1 row for a customer_id another row also sets (the latest Modified wins)" in n for n in people.notes)
    rejects = pd.read_parquet(lake.rejects)
    assert rejects[["file", "row", "field", "reason_code"]].values.tolist() == [
        ["people.csv", 7, "customer_id", "unknown_reference"], ["people.csv", 9, "preferred_channel", "not_allowed"]]
    assert lake.manifest.exists() and any(p.name.endswith("__people.csv")
                                          for p in (lake.bronze / "customers").iterdir())

    # A later file of contacts alone updates the customers silver already holds; the same file again is skipped.
    more = tmp_path / "more"
    more.mkdir()
    (more / "people_2.csv").write_text("Account,NoCalls,Phone,NoEmail,Email,Fax,Modified\n"
                                       "C-3,false,555-0103,false,,,2024-06-01\n")
    again = ingest(more, lake, mapping=tmp_path / "map.yaml")
    assert again.files[0].rows_accepted == 1
    assert pd.read_parquet(lake.silver_table("customers")).set_index("customer_id")["preferred_channel"]["C-3"] \
        == "phone"
    assert ingest(more, lake, mapping=tmp_path / "map.yaml").files[0].status == "already ingested"


def test_an_update_must_name_the_key_and_a_column(tmp_path):
    path = tmp_path / "map.yaml"
    path.write_text("tables: {}\nupdates:\n  u: {table: customers, files: [x.csv], columns: {Name: name}}\n")
    with pytest.raises(MappingError, match="updates.u.columns must map a source column to customers's key"):
        load_mapping(path)
    path.write_text("tables: {}\nupdates:\n  u: {table: customers, files: [x.csv], columns: {Id: customer_id},"
                    " choose: {preferred_channel: [{when: {A: nonblank}}]}}\n")
    with pytest.raises(MappingError, match="updates.u.choose.preferred_channel must list rules with a value"):
        load_mapping(path)
