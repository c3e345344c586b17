"""A tiny hand-made company, written as silver Parquet, and its gold build.

Small enough to compute every KPI by hand (the tests do, in comments). The
latest event is job J8's completion on 2024-06-30, so the gold ``as_of`` is
2024-06-30. Tables weather, telemetry and economic_indicators are left out on
purpose: the build must create them empty.

Jobs (times on the scheduled / completed day; h = hours; costs labour/material/equipment)::

    job cust tech line       status    scheduled         completed        sch lab rev  costs      cb rating safety equip
    J11 C4   T1   hvac       completed 2022-12-01 08:00  2022-12-01 10:00 2   2   250  50/50/0    .  7      .      -
    J1  C1   T1   hvac       completed 2023-03-10 09:00  2023-03-10 12:00 3   3   500  150/100/0  .  9      .      -
    J2  C2   T1   plumbing   completed 2023-05-05 08:00  2023-05-05 10:00 2   2   300  100/50/0   .  8      .      -
    J12 C2   T1   plumbing   completed 2023-12-15 08:00  2023-12-15 10:00 2   2   400  100/50/0   .  8      .      -
    J10 C1   T1   hvac       completed 2024-06-10 08:00  2024-06-10 09:30 2   1.5 300  80/20/0    .  10     .      -
    J3  C1   T1   hvac       completed 2024-06-25 08:00  2024-06-25 12:00 4   4   1000 200/300/50 .  9      .      E1
    J7  C3   T1   hvac       scheduled 2024-06-26 08:00  -                2   0   0    0          .  -      .      -
    J6  C3   T1   plumbing   cancelled 2024-06-27 08:00  -                2   0   0    0          .  -      .      -
    J4  C1   T2   hvac       completed 2024-06-28 08:00  2024-06-28 11:00 2   3   400  90/60/10   Y  6      Y      E1
    J5  C3   T2   electrical completed 2024-06-29 09:00  2024-06-29 11:00 2   2   600  100/100/0  .  -      .      -
    J8  C1   T1   plumbing   completed 2024-06-30 08:00  2024-06-30 10:00 2   2   200  60/20/0    .  4      .      -
    J9  C3   T2   electrical scheduled 2024-07-05 09:00  -                2   0   0    0          .  -      .      -
"""

from __future__ import annotations

import pandas as pd
import pytest

from quantlib.data.contracts import CONTRACTS
from quantlib.data.lake import Lake
from quantlib.data.warehouse import build_warehouse

TS = pd.Timestamp
AS_OF = "2024-06-30"
TARGETS = {"monthly_revenue": 9000, "monthly_revenue_hvac": 5000}


def _job(job_id, cust, tech, line, status, created, sched, done, sch_h, lab_h, rev, costs,
         callback=False, rating=None, safety=False, equip=None, quote=None):
    return {
        "job_id": job_id, "customer_id": cust, "technician_id": tech, "quote_id": quote,
        "contract_id": None, "equipment_id": equip, "service_line": line, "job_type": "repair",
        "urgency": "routine", "status": status, "region": "south" if cust == "C3" else "north",
        "created_at": TS(created), "scheduled_start": TS(sched),
        "completed_at": TS(done) if done else pd.NaT,
        "scheduled_hours": sch_h, "labor_hours": lab_h, "travel_minutes": 20.0, "travel_miles": 8.0,
        "revenue": rev, "labor_cost": costs[0], "material_cost": costs[1], "equipment_cost": costs[2],
        "callback": callback, "rating": rating, "safety_incident": safety,
    }


JOBS = [
    _job("J11", "C4", "T1", "hvac", "completed", "2022-11-25", "2022-12-01 08:00", "2022-12-01 10:00",
         2, 2, 250, (50, 50, 0), rating=7),
    _job("J1", "C1", "T1", "hvac", "completed", "2023-03-01", "2023-03-10 09:00", "2023-03-10 12:00",
         3, 3, 500, (150, 100, 0), rating=9),
    _job("J2", "C2", "T1", "plumbing", "completed", "2023-05-01", "2023-05-05 08:00", "2023-05-05 10:00",
         2, 2, 300, (100, 50, 0), rating=8),
    _job("J12", "C2", "T1", "plumbing", "completed", "2023-12-10", "2023-12-15 08:00", "2023-12-15 10:00",
         2, 2, 400, (100, 50, 0), rating=8),
    _job("J10", "C1", "T1", "hvac", "completed", "2024-06-05", "2024-06-10 08:00", "2024-06-10 09:30",
         2, 1.5, 300, (80, 20, 0), rating=10),
    _job("J3", "C1", "T1", "hvac", "completed", "2024-06-20", "2024-06-25 08:00", "2024-06-25 12:00",
         4, 4, 1000, (200, 300, 50), rating=9, equip="E1", quote="Q1"),
    _job("J7", "C3", "T1", "hvac", "scheduled", "2024-06-20", "2024-06-26 08:00", None,
         2, 0, 0, (0, 0, 0)),
    _job("J6", "C3", "T1", "plumbing", "cancelled", "2024-06-21", "2024-06-27 08:00", None,
         2, 0, 0, (0, 0, 0)),
    _job("J4", "C1", "T2", "hvac", "completed", "2024-06-22", "2024-06-28 08:00", "2024-06-28 11:00",
         2, 3, 400, (90, 60, 10), callback=True, rating=6, safety=True, equip="E1", quote="Q4"),
    _job("J5", "C3", "T2", "electrical", "completed", "2024-06-23", "2024-06-29 09:00", "2024-06-29 11:00",
         2, 2, 600, (100, 100, 0), quote="Q2"),
    _job("J8", "C1", "T1", "plumbing", "completed", "2024-06-25", "2024-06-30 08:00", "2024-06-30 10:00",
         2, 2, 200, (60, 20, 0), rating=4),
    _job("J9", "C3", "T2", "electrical", "scheduled", "2024-06-29", "2024-07-05 09:00", None,
         2, 0, 0, (0, 0, 0)),
]


def _customer(cid, created, region):
    return {"customer_id": cid, "name": f"Customer {cid}", "customer_type": "residential",
            "region": region, "zip": "12345", "lat": 40.0, "lon": -75.0,
            "acquisition_channel": "web", "preferred_channel": "phone",
            "created_date": TS(created), "is_priority": False}


def _invoice(iid, job, cust, issued, due, amount, status, disputed=False):
    return {"invoice_id": iid, "job_id": job, "customer_id": cust, "issued_date": TS(issued),
            "due_date": TS(due), "amount": amount, "status": status, "disputed": disputed}


def _payment(pid, iid, cust, date, amount):
    return {"payment_id": pid, "invoice_id": iid, "customer_id": cust, "paid_date": TS(date),
            "amount": amount, "method": "card"}


def _event(eid, equip, kind, scheduled, completed, downtime, cost):
    return {"event_id": eid, "equipment_id": equip, "kind": kind, "scheduled_date": TS(scheduled),
            "completed_date": TS(completed) if completed else pd.NaT,
            "downtime_hours": downtime, "cost": cost}


TABLES = {
    "customers": [
        _customer("C1", "2022-01-01", "north"),
        _customer("C2", "2023-01-01", "north"),
        _customer("C3", "2024-06-01", "south"),
        _customer("C4", "2022-06-01", "north"),
    ],
    "technicians": [
        {"technician_id": "T1", "name": "Tess", "region": "north", "home_lat": 40.0, "home_lon": -75.0,
         "skills": "hvac;plumbing", "certification_level": 3, "hourly_rate": 40.0, "weekly_hours": 40.0,
         "hire_date": TS("2020-01-01"), "termination_date": pd.NaT},
        {"technician_id": "T2", "name": "Tom", "region": "south", "home_lat": 40.0, "home_lon": -75.0,
         "skills": "hvac;electrical", "certification_level": 2, "hourly_rate": 35.0, "weekly_hours": 35.0,
         "hire_date": TS("2024-06-16"), "termination_date": pd.NaT},
    ],
    "equipment": [
        {"equipment_id": "E1", "name": "Van 1", "kind": "van", "service_line": "hvac", "region": "north",
         "purchase_date": TS("2024-01-01"), "purchase_cost": 10000.0, "hourly_cost": 10.0,
         "available_hours_per_week": 40.0},
        {"equipment_id": "E2", "name": "Meter", "kind": "diagnostic", "service_line": "electrical",
         "region": "south", "purchase_date": TS("2024-06-01"), "purchase_cost": 5000.0,
         "hourly_cost": 5.0, "available_hours_per_week": 20.0},
    ],
    "leads": [
        {"lead_id": "L4", "customer_id": "C1", "created_at": TS("2024-05-20"), "channel": "web",
         "service_line": "hvac", "status": "quoted"},
        {"lead_id": "L1", "customer_id": "C1", "created_at": TS("2024-06-01"), "channel": "web",
         "service_line": "hvac", "status": "quoted"},
        {"lead_id": "L2", "customer_id": "C3", "created_at": TS("2024-06-05"), "channel": "phone",
         "service_line": "electrical", "status": "quoted"},
        {"lead_id": "L3", "customer_id": "C2", "created_at": TS("2024-06-10"), "channel": "referral",
         "service_line": "plumbing", "status": "unqualified"},
    ],
    "quotes": [
        {"quote_id": "Q4", "lead_id": "L4", "customer_id": "C1", "service_line": "hvac",
         "urgency": "routine", "created_at": TS("2024-05-21"), "amount": 400.0, "list_amount": 450.0,
         "status": "won", "decided_at": TS("2024-05-25")},
        {"quote_id": "Q1", "lead_id": "L1", "customer_id": "C1", "service_line": "hvac",
         "urgency": "routine", "created_at": TS("2024-06-02"), "amount": 1000.0, "list_amount": 1100.0,
         "status": "won", "decided_at": TS("2024-06-05")},
        {"quote_id": "Q3", "lead_id": "L1", "customer_id": "C1", "service_line": "hvac",
         "urgency": "routine", "created_at": TS("2024-06-03"), "amount": 1200.0, "list_amount": 1200.0,
         "status": "lost", "decided_at": TS("2024-06-05")},
        {"quote_id": "Q2", "lead_id": "L2", "customer_id": "C3", "service_line": "electrical",
         "urgency": "urgent", "created_at": TS("2024-06-06"), "amount": 600.0, "list_amount": 600.0,
         "status": "won", "decided_at": TS("2024-06-08")},
    ],
    "contracts": [
        {"contract_id": "K1", "customer_id": "C1", "service_line": "hvac", "start_date": TS("2024-01-01"),
         "end_date": pd.NaT, "monthly_fee": 30.0, "visits_per_year": 2, "status": "active"},
        {"contract_id": "K2", "customer_id": "C2", "service_line": "plumbing",
         "start_date": TS("2023-01-01"), "end_date": TS("2023-12-31"), "monthly_fee": 20.0,
         "visits_per_year": 1, "status": "expired"},
    ],
    "jobs": JOBS,
    "invoices": [
        _invoice("I11", "J11", "C4", "2022-12-01", "2022-12-31", 250.0, "written_off"),
        _invoice("I1", "J1", "C1", "2023-03-10", "2023-04-09", 500.0, "paid"),
        _invoice("I2", "J2", "C2", "2023-05-05", "2023-06-04", 300.0, "paid", disputed=True),
        _invoice("I12", "J12", "C2", "2023-12-15", "2024-01-14", 400.0, "open"),
        _invoice("I10", "J10", "C1", "2024-06-10", "2024-06-10", 300.0, "open"),
        _invoice("I3", "J3", "C1", "2024-06-25", "2024-07-25", 1000.0, "open"),
        _invoice("I4", "J4", "C1", "2024-06-28", "2024-07-28", 400.0, "paid"),
        _invoice("I5", "J5", "C3", "2024-06-29", "2024-07-29", 600.0, "open"),
        _invoice("I8", "J8", "C1", "2024-06-30", "2024-07-30", 200.0, "open"),
    ],
    "payments": [
        _payment("P1", "I1", "C1", "2023-03-30", 500.0),
        _payment("P2", "I2", "C2", "2023-07-10", 300.0),
        _payment("P10", "I10", "C1", "2024-06-15", 100.0),
        _payment("P4", "I4", "C1", "2024-06-29", 400.0),
    ],
    "interactions": [
        {"interaction_id": "N1", "customer_id": "C1", "job_id": None, "ts": TS("2024-06-01 10:00"),
         "channel": "phone", "kind": "inquiry", "direction": "inbound", "satisfaction": None},
        {"interaction_id": "N2", "customer_id": "C2", "job_id": "J2", "ts": TS("2023-11-01 10:00"),
         "channel": "survey", "kind": "survey", "direction": "inbound", "satisfaction": 9.0},
        {"interaction_id": "N3", "customer_id": "C4", "job_id": None, "ts": TS("2023-01-15 10:00"),
         "channel": "email", "kind": "marketing", "direction": "outbound", "satisfaction": None},
    ],
    "expenses": [
        {"expense_id": "X3", "date": TS("2024-05-15"), "category": "rent", "kind": "fixed",
         "amount": 1000.0, "service_line": None},
        {"expense_id": "X1", "date": TS("2024-06-15"), "category": "rent", "kind": "fixed",
         "amount": 500.0, "service_line": None},
        {"expense_id": "X2", "date": TS("2024-06-20"), "category": "supplies", "kind": "variable",
         "amount": 200.0, "service_line": "hvac"},
    ],
    "equipment_usage": [
        {"usage_id": "U2", "equipment_id": "E1", "job_id": "J10", "date": TS("2024-06-10"), "hours": 2.0},
        {"usage_id": "U1", "equipment_id": "E1", "job_id": "J3", "date": TS("2024-06-25"), "hours": 4.0},
        {"usage_id": "U3", "equipment_id": "E2", "job_id": "J5", "date": TS("2024-06-29"), "hours": 2.0},
    ],
    "maintenance_events": [
        _event("M4", "E1", "preventive", "2024-03-01", "2024-03-02", 2.0, 150.0),
        _event("M1", "E1", "preventive", "2024-06-05", "2024-06-06", 4.0, 200.0),
        _event("M2", "E1", "failure", "2024-06-20", "2024-06-21", 10.0, 800.0),
        _event("M3", "E2", "preventive", "2024-06-28", None, 0.0, 0.0),
    ],
}


def write_silver(lake: Lake, tables: dict[str, list[dict]] = TABLES) -> None:
    """Write ``tables`` as silver Parquet, coerced and validated by their contracts."""
    lake.silver.mkdir(parents=True, exist_ok=True)
    for name, rows in tables.items():
        contract = CONTRACTS[name]
        frame = contract.validate(pd.DataFrame(rows, columns=contract.columns))
        frame.to_parquet(lake.silver_table(name), index=False)


@pytest.fixture(scope="session")
def fixture_lake(tmp_path_factory) -> Lake:
    lake = Lake(tmp_path_factory.mktemp("lake"))
    write_silver(lake)
    return lake


@pytest.fixture(scope="session")
def gold(fixture_lake):
    """Path of the fixture's gold database (built once per session)."""
    return build_warehouse(fixture_lake, targets=TARGETS, company="Fixture Co")


@pytest.fixture
def con(gold):
    import duckdb

    connection = duckdb.connect(str(gold), read_only=True)
    yield connection
    connection.close()
