"""Mapping rules for vendors' exports (join, values, defaults) and the shipped Salesforce mapping: a
data export's Account.csv lands as customers, what does not fit is rejected naming the field."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from quantlib.data.ingest import MappingError, ingest
from quantlib.data.ingest.mapping import load_mapping
from quantlib.data.lake import Lake


def _mapping(tmp_path, body: str):
    path = tmp_path / "map.yaml"
    path.write_text(body)
    return path


def test_join_values_and_defaults(tmp_path):
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "clients.csv").write_text(
        "Client ID,First name,Last name,Kind,ZIP,Lat,Lon,Area,Since,Channel\n"
        "c1,Ana,Lopez,Home,62701,39.80,-89.64,springfield,2024-01-15,\n"
        "c2,, Acme Roofing ,Business,62521,39.84,-88.95,decatur,2024-02-01,web\n"
        "c3,Bo,Li,Castle,62702,39.81,-89.65,springfield,2024-03-01,\n")
    mapping = _mapping(tmp_path, """
tables:
  customers:
    files: ["clients.csv"]
    columns: {Client ID: customer_id, Kind: customer_type, ZIP: zip, Lat: lat, Lon: lon, Area: region,
              Since: created_date, Channel: acquisition_channel}
    join: {name: ["First name", "Last name"]}
    values: {customer_type: {home: residential, " BUSINESS ": commercial}}
    defaults: {acquisition_channel: referral, preferred_channel: phone, is_priority: "false"}
""")
    lake = Lake(tmp_path / "lake")
    report = ingest(exports, lake, mapping)
    assert report.rows_accepted == 2 and report.rows_rejected == 1
    customers = pd.read_parquet(lake.silver_table("customers")).set_index("customer_id")
    assert customers.loc["c1", "name"] == "Ana Lopez" and customers.loc["c2", "name"] == "Acme Roofing"
    assert customers["customer_type"].to_dict() == {"c1": "residential", "c2": "commercial"}
    assert customers["acquisition_channel"].to_dict() == {"c1": "referral", "c2": "web"}
    assert (customers["preferred_channel"] == "phone").all() and not customers["is_priority"].any()
    rejects = pd.read_parquet(lake.rejects)
    [castle] = rejects.itertuples()
    assert castle.field == "customer_type" and castle.row == 4 and "Castle" in castle.raw  # the raw row is kept
    notes = " ".join(report.files[0].notes)
    assert "First name" not in notes  # read by the join, not "ignored"


def test_rules_name_real_columns(tmp_path):
    for rule in ("join: {nom: [First]}", "values: {kind: {a: b}}", "defaults: {colour: red}"):
        with pytest.raises(MappingError, match="not a column of customers"):
            load_mapping(_mapping(tmp_path, f"tables:\n  customers:\n    files: [a.csv]\n    {rule}\n"))
    with pytest.raises(MappingError, match="must list source columns"):
        load_mapping(_mapping(tmp_path, "tables:\n  customers:\n    files: [a.csv]\n    join: {name: First}\n"))


def test_a_salesforce_data_export(tmp_path):
    from quantlib.cli import app

    exports = tmp_path / "export"
    exports.mkdir()
    # Salesforce's data export: API field names, ISO timestamps with milliseconds and Z.
    (exports / "Account.csv").write_text(
        "Id,Name,IsPersonAccount,Type,BillingStreet,BillingCity,BillingState,BillingPostalCode,BillingCountry,"
        "BillingLatitude,BillingLongitude,Phone,AccountSource,Rating,CreatedDate\n"
        "001A,Maria Gomez,true,,1 Elm St,Springfield,IL,62701,US,39.7990,-89.6440,555-0100,Web,Hot,"
        "2024-01-15T10:30:00.000Z\n"
        "001B,Prairie Offices,false,Customer - Direct,9 Main St,Decatur,IL,62521,US,39.8403,-88.9548,555-0101,"
        "Phone Inquiry,Warm,2023-06-01T08:00:00.000Z\n"
        "001C,Lake Apartments,false,Customer - Direct,3 Oak Ave,Springfield,IL,62702-1234,US,39.81,-89.65,,"
        "Other,,2023-02-01T08:00:00.000Z\n"
        "001D,No Geocode LLC,false,Prospect,,Decatur,IL,62522,US,,,,,Cold,2024-03-01T08:00:00.000Z\n")
    lake = tmp_path / "lake"
    done = CliRunner().invoke(app, ["ingest", str(exports), "--source", "salesforce", "--lake", str(lake)])
    assert done.exit_code == 0, done.output  # rejected rows alone do not fail
    customers = pd.read_parquet(Lake(lake).silver_table("customers")).set_index("customer_id")
    assert sorted(customers.index) == ["001A", "001B"]
    maria, offices = customers.loc["001A"], customers.loc["001B"]
    assert (maria["customer_type"], maria["acquisition_channel"], bool(maria["is_priority"])) == (
        "residential", "web", True)
    assert (offices["customer_type"], offices["acquisition_channel"], bool(offices["is_priority"])) == (
        "commercial", "phone", False)
    assert maria["region"] == "Springfield" and maria["preferred_channel"] == "phone"
    assert maria["created_date"] == pd.Timestamp("2024-01-15")  # a date in silver
    rejects = pd.read_parquet(Lake(lake).rejects)
    by_row = rejects.groupby("row")["field"].apply(set).to_dict()
    assert by_row == {4: {"zip"}, 5: {"lat", "lon"}}  # ZIP+4; no geocodes
    unknown = CliRunner().invoke(app, ["ingest", str(exports), "--source", "nope", "--lake", str(lake)])
    assert unknown.exit_code == 2 and "shipped:" in unknown.output
    shipped = set(unknown.output.split("shipped:")[1].replace(",", " ").split())
    assert {"hubspot", "quickbooks", "salesforce", "xero"} <= shipped  # every vendor mapping in parameters/mappings
