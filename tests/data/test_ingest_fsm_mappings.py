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


# --------------------------------------------------------------------------- Jobber

# The standard columns of Jobber's report exports, as in a real export (see jobber.yaml's header).
JOBBER_INVOICES = (
    "Invoice #,Client name,Lead source,Client email,Client phone,Sent to,Billing street,Billing city,"
    "Billing province,Billing ZIP,Service property name,Service street,Service city,Service province,Service ZIP,"
    "Subject,Created date,Issued date,Due date,Late by,Salesperson,Marked paid date,Days to paid,Last contacted,"
    "Visits assigned to,Job #s,Status,Line items,Pre-tax total ($),Total ($),Tip ($),Balance ($),Tax (%),"
    "Deposit $,Discount ($),Tax amount ($),Viewed in client hub\n")
JOBBER_JOBS = (
    "Job #,Client name,Lead source,Client email,Client phone,Billing street,Billing city,Billing province,"
    "Billing ZIP,Service property name,Service street,Service city,Service province,Service ZIP,Title,"
    "Created date,Scheduled start date,Closed date,Salesperson,Line items,Visits assigned to,Invoice #s,Quote #,"
    "Online booking,Expenses total ($),Time tracked,Labour cost total ($),Line item cost total ($),"
    "Total costs ($),Quote discount ($),Total revenue ($),Profit ($),Profit %\n")
JOBBER_CLIENTS = (
    "J-ID,First Name,Last Name,Display Name,Company Name,Is Company?,E-mails,Main Phone #s,"
    "Service Property Name,Service Street 1,Service Street 2,Service City,Service State,Service Zip,Archived,"
    "Lead Source,Billing Street 1,Billing City,Billing State,Billing Zip\n")


def _jobber_invoice(number, client, issued, due, job, status, total):
    return (f'{number},{client},Web,a@example.com,(217) 555-0100,a@example.com,1 Elm St,Springfield,Illinois,'
            f'62701,,1 Elm St,Springfield,Illinois,62701,For Services Rendered,"Jan 15, 2026",{issued},{due},-,'
            f'Sam Reed,-,,-,Sam Reed,{job},{status},"Tune-up (1, ${total})",{total},{total},0.0,{total},'
            f'NO Taxes (0.0%),0.0,0.0,0.0,-\n')


def test_jobber_invoices_report(tmp_path):
    folder = _exports(tmp_path, {"Invoices_Report_1_of_1_2026-01-15.csv": JOBBER_INVOICES + "".join([
        _jobber_invoice(5601, "Ana Lopez", '"Jan 15, 2026"', '"Feb 14, 2026"', 14469, "Paid", 3040.0),
        _jobber_invoice(5602, "Prairie Offices", '"Jan 14, 2026"', '"Jan 14, 2026"', 14555, "Past Due", 4530.0),
        _jobber_invoice(5603, "Ruby Martin", "-", "-", 14399, "Draft", 1664.48),         # not issued yet
        _jobber_invoice(5604, "Jim Keener", '"Jan 20, 2026"', '"Jan 05, 2026"', 14544, "Bad Debt", 5521.5),
        _jobber_invoice(5605, "Ed Thompson", '"Jan 16, 2026"', '"Jan 30, 2026"', 14523, "Bad Debt", 0.0),
    ])})
    done, lake = _ingest(tmp_path, folder, source="jobber")
    assert done.exit_code == 0, done.output
    invoices = pd.read_parquet(lake.silver_table("invoices")).set_index("invoice_id")
    assert sorted(invoices.index) == ["5601", "5602", "5605"]
    paid, due, bad = invoices.loc["5601"], invoices.loc["5602"], invoices.loc["5605"]
    assert (paid["status"], paid["amount"], paid["job_id"], paid["customer_id"]) == ("paid", 3040.0, "14469",
                                                                                     "Ana Lopez")
    assert (paid["issued_date"], paid["due_date"]) == (pd.Timestamp("2026-01-15"), pd.Timestamp("2026-02-14"))
    assert due["status"] == "open" and bad["status"] == "written_off"  # Past Due is still open
    assert not invoices["disputed"].any()  # Jobber has no disputed state
    assert _rejects(lake) == {4: {"issued_date", "due_date"}, 5: {"due_date"}}  # a draft; due before issued
    assert "Invoices_Report_1_of_1_2026-01-15.csv: line 5, field due_date: due_date 2026-01-05 is before " \
           "issued_date 2026-01-20" in done.output


def _jobber_job(number, client, city, created, start, closed, crew, hours, labour, items, revenue):
    return (f'{number},{client},Phone,a@example.com,(217) 555-0100,1 Elm St,{city},Illinois,62701,,1 Elm St,{city},'
            f'Illinois,62701,{client},{created},{start},{closed},Sam Reed,Tune-up,{crew},5601,,No,0.0,{hours},'
            f'{labour},{items},{labour + items},0.0,{revenue},{revenue - labour - items},50.0\n')


def test_jobber_one_off_jobs_report(tmp_path):
    closed_jobs = JOBBER_JOBS + "".join([
        _jobber_job(14469, "Ana Lopez", "Springfield", '"Jan 06, 2026"', '"Jan 12, 2026"', '"Jan 13, 2026"',
                    "Sam Reed", 1.77, 62.0, 410.5, 3040.0),
        _jobber_job(14533, "Prairie Offices", "Decatur", '"Jan 08, 2026"', '"Jan 12, 2026"', '"Jan 13, 2026"',
                    "Sam Reed and Jo Park", 0.28, 10.0, 0.0, 500.0),
        _jobber_job(14540, "Lake Apartments", "Decatur", '"Jan 08, 2026"', '"Jan 15, 2026"', "-",
                    "Jo Park", 0.0, 0.0, 0.0, 900.0),          # not closed: no completion date
    ])
    folder = _exports(tmp_path, {"One-off jobs_Report_1_of_1_2026-01-15.csv": closed_jobs})
    refused, _ = _ingest(tmp_path, folder, source="jobber")
    assert refused.exit_code == 1  # the report lacks what the jobs contract requires, named in jobber.yaml
    assert _missing_columns(refused.output) == {
        "service_line", "job_type", "urgency", "status", "scheduled_hours", "travel_minutes", "travel_miles",
        "equipment_cost", "callback", "safety_incident"}

    # A company's copy: its one trade, and what it decided for what Jobber does not record, for a
    # report filtered to closed jobs.
    copy = _company_copy(tmp_path, "jobber", "jobs", defaults={
        "status": "completed", "service_line": "hvac", "job_type": "maintenance", "urgency": "routine",
        "scheduled_hours": "2", "travel_minutes": "30", "travel_miles": "10", "equipment_cost": "0",
        "callback": "false", "safety_incident": "false"})
    technicians = "technician_id,name,region,home_lat,home_lon,skills,certification_level,hourly_rate," \
                  "weekly_hours,hire_date\nSam Reed,Sam Reed,springfield,39.8,-89.6,hvac,2,38,40,2020-01-06\n"
    (folder / "technicians.csv").write_text(technicians)  # not a Jobber file: skipped by this mapping
    done, lake = _ingest(tmp_path, folder, mapping=copy)
    assert done.exit_code == 0, done.output
    jobs = pd.read_parquet(lake.silver_table("jobs")).set_index("job_id")
    assert list(jobs.index) == ["14469", "14533"]
    job = jobs.loc["14469"]
    assert (job["customer_id"], job["region"], job["technician_id"]) == ("Ana Lopez", "Springfield", "Sam Reed")
    assert (job["created_at"], job["scheduled_start"], job["completed_at"]) == (
        pd.Timestamp("2026-01-06"), pd.Timestamp("2026-01-12"), pd.Timestamp("2026-01-13"))
    assert (job["labor_hours"], job["labor_cost"], job["material_cost"], job["revenue"]) == (1.77, 62.0, 410.5,
                                                                                            3040.0)
    assert jobs.loc["14533", "technician_id"] == "Sam Reed and Jo Park"  # a crew, while no technicians are loaded
    assert _rejects(lake) == {4: {"completed_at"}}  # an open job in a report the copy calls closed
    assert "technicians.csv: matches no table of the mapping; skipped" in done.output


def _jobber_client(jid, display, company, city, zip_code, lead, extra):
    first, _, last = display.partition(" ")
    return (f"{jid},{first},{last},{display},{display if company == 'true' else ''},{company},a@example.com,"
            f"2175550100,Home,1 Elm St,,{city},Illinois,{zip_code},false,{lead},1 Elm St,{city},Illinois,"
            f"{zip_code},{extra}\n")


def test_jobber_client_export(tmp_path):
    rows = [
        _jobber_client("100_1", "Ana Lopez", "false", "Springfield", "62701", "Web", "39.80,-89.64,2024-01-15"),
        _jobber_client("200_1", "Prairie Offices", "true", "Decatur", "62521", "", "39.84,-88.95,2023-06-01"),
        _jobber_client("300_1", "Bo Li", "false", "Springfield", "62702 (Lakeside)", "Phone",
                       "39.81,-89.65,2024-02-01"),
        _jobber_client("400_1", "Pat Lee", "false", "Decatur", "62522", "Home Depot", "39.83,-88.96,2024-03-01"),
        _jobber_client("500_1", "Joe Ng", "false", "Decatur", "62523", "Referral", "39.82,-88.97,2024-03-02"),
        _jobber_client("500_2", "Joe Ng", "false", "Decatur", "62523", "Referral", "39.85,-88.91,2024-03-02"),
    ]
    as_exported = JOBBER_CLIENTS.rstrip("\n") + "\n" + "".join(r.rsplit(",", 3)[0] + "\n" for r in rows)
    folder = _exports(tmp_path, {"Clients_2026-01-15.csv": as_exported})
    refused, _ = _ingest(tmp_path, folder, source="jobber")
    assert refused.exit_code == 1
    assert _missing_columns(refused.output) == {"lat", "lon", "created_date"}  # as jobber.yaml says

    # The same export with the columns the company added (contract names are taken as they are).
    header = JOBBER_CLIENTS.rstrip("\n") + ",lat,lon,created_date\n"
    geocoded = _exports(tmp_path / "geocoded", {"Clients_2026-01-15.csv": header + "".join(rows)})
    done, lake = _ingest(tmp_path / "geocoded", geocoded, source="jobber")
    assert done.exit_code == 0, done.output
    customers = pd.read_parquet(lake.silver_table("customers")).set_index("customer_id")
    assert sorted(customers.index) == ["Ana Lopez", "Prairie Offices"]
    ana, offices = customers.loc["Ana Lopez"], customers.loc["Prairie Offices"]
    assert (ana["name"], ana["customer_type"], ana["region"], ana["zip"], ana["acquisition_channel"]) == (
        "Ana Lopez", "residential", "Springfield", "62701", "web")
    assert (offices["customer_type"], offices["acquisition_channel"]) == ("commercial", "referral")  # no lead source
    assert (ana["preferred_channel"], bool(ana["is_priority"])) == ("phone", False)
    assert _rejects(lake) == {4: {"zip"}, 5: {"acquisition_channel"}, 6: {"customer_id"}, 7: {"customer_id"}}
    rejects = pd.read_parquet(lake.rejects).set_index("row")
    assert "'Home Depot' is not one of" in rejects.loc[5, "reason"]  # the company's own lead source, unmapped
    assert "duplicate key customer_id='Joe Ng' in this file (line 6, line 7)" == rejects.loc[6, "reason"]


# --------------------------------------------------------------------------- ServiceTitan

# A Jobs report exported grouped by business unit, as in a real export (see servicetitan.yaml's header),
# with the columns a company adds for what the report does not hold (contract names, taken as they are).
ST_HEADER = (",Scheduled Date,Business Unit,Sold By,Primary Technician,Job Type,Customer Name,Job #,Jobs Subtotal,"
             "Labor Pay,Payroll Adjustments,Materials + Equip. + PO/Bill Costs,Returns,Jobs Total Costs,"
             "Jobs Gross Margin %,Status")
ST_ROWS = [
    "Business Unit: Springfield-Service,,,,,,,,,,,,,,,",
    ',10/20/2025,Springfield-Service,Kim Cho,Sam Reed,Production-RES-EXT,Ana Lopez,389324885,"$2,139.46",$0.00,'
    "$200.00,$611.33,-$66.00,$745.33,65.16%,Completed",
    ",10/22/2025,Springfield-Service,,Sam Reed,Warranty,Laura Mont,389438781,$0.00,$0.00,$100.00,$49.97,$0.00,"
    "$149.97,0.00%,Completed",
    ",10/23/2025,Springfield-Service,Kim Cho,*Jo Park,Production-RES-INT,Bo Li,389209474,$2820.00,$0.00,$1012.00,"
    "$593.41,$0.00,$1605.41,43.07%,In Progress",
    ",10/20/2025,Springfield-Service,Kim Cho,,Production-RES-INT,Paul Beatty,389133384,$0.00,$0.00,$0.00,$0.00,"
    "$0.00,$0.00,0.00%,Canceled",
    ",10/20/2025,Springfield-Service,,Jo Park,Production-RES-EXT,Kevin Barber,387052938,$5200.00,$0.00,$0.00,"
    "$0.00,$0.00,$0.00,100.00%,Hold",
    ",,5,,,,,,$10159.46,$0.00,$1312.00,$1254.71,,$2500.71,75.39%,",
]
# The company's added columns, per row above: created_at, completed_at, labor_hours, labor_cost.
ST_ADDED = [",,,", "2025-10-01,2025-10-20,1.5,200", "2025-10-02,2025-10-22,1,100", "2025-10-03,,0,0",
            "2025-10-04,,0,0", "2025-10-05,,0,0", ",,,"]


def test_servicetitan_jobs_report(tmp_path):
    folder = _exports(tmp_path, {"Jobs_costing_2025-10.csv": "\n".join([ST_HEADER, *ST_ROWS]) + "\n"})
    refused, _ = _ingest(tmp_path, folder, source="servicetitan")
    assert refused.exit_code == 1
    assert _missing_columns(refused.output) == {  # as servicetitan.yaml says
        "service_line", "urgency", "created_at", "scheduled_hours", "labor_hours", "travel_minutes",
        "travel_miles", "labor_cost", "callback", "safety_incident"}

    lines = [f"{row},{extra}" for row, extra in zip([ST_HEADER, *ST_ROWS],
                                                    ["created_at,completed_at,labor_hours,labor_cost", *ST_ADDED])]
    with_added = _exports(tmp_path / "added", {"Jobs_costing_2025-10.csv": "\n".join(lines) + "\n"})
    copy = _company_copy(tmp_path, "servicetitan", "jobs",
                         values={"job_type": {"Production-RES-EXT": "install", "Production-RES-INT": "install"}},
                         defaults={"service_line": "hvac", "urgency": "routine", "scheduled_hours": "4",
                                   "travel_minutes": "25", "travel_miles": "8", "callback": "false",
                                   "safety_incident": "false"})
    done, lake = _ingest(tmp_path / "added", with_added, mapping=copy)
    assert done.exit_code == 0, done.output
    jobs = pd.read_parquet(lake.silver_table("jobs")).set_index("job_id")
    assert sorted(jobs.index) == ["389133384", "389209474", "389324885"]
    done_job = jobs.loc["389324885"]
    assert (done_job["status"], done_job["job_type"], done_job["customer_id"], done_job["technician_id"],
            done_job["region"]) == ("completed", "install", "Ana Lopez", "Sam Reed", "Springfield-Service")
    assert (done_job["revenue"], done_job["material_cost"], done_job["equipment_cost"], done_job["labor_cost"]) == (
        2139.46, 611.33, 0.0, 200.0)  # "$2,139.46"; equipment is inside the material figure
    assert done_job["scheduled_start"] == pd.Timestamp("2025-10-20")
    assert jobs.loc["389209474", "status"] == "scheduled"  # In Progress: booked, not done
    assert jobs.loc["389133384", "status"] == "cancelled"
    assert _rejects(lake) == {4: {"job_type"}, 7: {"status"}}  # a job type the copy did not map; Hold
    assert "Jobs_costing_2025-10.csv: 2 rows not jobs (taken when Job # set)" in done.output  # heading, subtotal


# --------------------------------------------------------------------------- Housecall Pro

# The jobs list export, as a published importer reads it (see housecall.yaml's header), with the
# columns a company adds for what the export does not hold (contract names, taken as they are).
HCP_HEADER = ("Job #,Job description,Job status,Customer name,Address,Job created date,Job scheduled start date,"
              "Assigned employees,Job amount,Due amount")
HCP_ROWS = [
    '="679",Plumbing Service,Scheduled,Jane Smith,456 Oak Ave,2025-10-15,2025-10-17 14:00:00,Alice Jones,'
    '"$1,850.00",$850.00',
    '="680",AC tune-up,In Progress,Ana Lopez,1 Elm St,2025-10-15,2025-10-16 08:30:00,Bob Smith,$150.00,$150.00',
    '="681",Drain,Pro canceled,Bo Li,9 Main St,2025-10-14,2025-10-15 10:00:00,,$0.00,$0.00',
    '="678",HVAC Repair,Completed,John Doe,123 Main St,2025-10-15,2025-10-16 09:00:00,Bob Smith,$1234.56,$0.00',
    '="682",Estimate,Unscheduled,Pat Lee,3 Oak Ave,2025-10-15,,,$0.00,$0.00',
]


def test_housecall_jobs_export(tmp_path):
    folder = _exports(tmp_path, {"Jobs_2025-10-16.csv": "\n".join([HCP_HEADER, *HCP_ROWS]) + "\n"})
    refused, _ = _ingest(tmp_path, folder, source="housecall")
    assert refused.exit_code == 1
    assert _missing_columns(refused.output) == {  # as housecall.yaml says
        "region", "service_line", "job_type", "urgency", "scheduled_hours", "labor_hours", "travel_minutes",
        "travel_miles", "labor_cost", "material_cost", "equipment_cost", "callback", "safety_incident"}

    added = ["labor_cost,material_cost", "0,0", "60,35.5", "0,0", "120,300", "0,0"]
    lines = [f"{row},{extra}" for row, extra in zip([HCP_HEADER, *HCP_ROWS], added)]
    with_added = _exports(tmp_path / "added", {"Jobs_2025-10-16.csv": "\n".join(lines) + "\n"})
    copy = _company_copy(tmp_path, "housecall", "jobs", defaults={
        "region": "springfield", "service_line": "plumbing", "job_type": "repair", "urgency": "routine",
        "scheduled_hours": "2", "labor_hours": "0", "travel_minutes": "20", "travel_miles": "6",
        "equipment_cost": "0", "callback": "false", "safety_incident": "false"})
    done, lake = _ingest(tmp_path / "added", with_added, mapping=copy)
    assert done.exit_code == 0, done.output
    jobs = pd.read_parquet(lake.silver_table("jobs")).set_index("job_id")
    assert sorted(jobs.index) == ["679", "680", "681"]  # ="679" read as 679
    job = jobs.loc["679"]
    assert (job["status"], job["customer_id"], job["technician_id"], job["revenue"]) == (
        "scheduled", "Jane Smith", "Alice Jones", 1850.0)
    assert (job["created_at"], job["scheduled_start"]) == (pd.Timestamp("2025-10-15"),
                                                          pd.Timestamp("2025-10-17 14:00:00"))
    assert jobs.loc["680", "status"] == "scheduled" and jobs.loc["681", "status"] == "cancelled"
    assert jobs.loc["680", "material_cost"] == 35.5
    # A completed job has no completion date in this export; a job not yet scheduled has no start.
    assert _rejects(lake) == {5: {"completed_at"}, 6: {"scheduled_start"}}
    rejects = pd.read_parquet(lake.rejects).set_index("row")
    assert rejects.loc[5, "reason"] == "completed_at is missing although status is 'completed'"
    assert json.loads(rejects.loc[5, "raw"])["Job #"] == '="678"'  # the raw row is kept as exported


def test_fsm_sources_are_shipped(tmp_path):
    unknown = CliRunner().invoke(app, ["ingest", str(tmp_path), "--source", "nope", "--lake", str(tmp_path / "l")])
    assert unknown.exit_code == 2
    shipped = set(unknown.output.split("shipped:")[1].replace(",", " ").split())
    assert {"housecall", "jobber", "servicetitan"} <= shipped
