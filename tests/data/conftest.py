"""Shared fixtures for the data-layer tests: a small, valid company in every contract table.

The malformed corpus in ``tests/data/malformed/`` refers to these ids (customers
C1-C3, technicians T1-T2, equipment E1-E2, quotes Q1, contracts K1, jobs J1-J3,
invoices I1-I2), so keep them in step.
"""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quantlib.data.contracts import CONTRACTS, TABLE_ORDER, TRANSITION_COLUMNS

MALFORMED = Path(__file__).parent / "malformed"

def _ts(*values):
    return pd.to_datetime(pd.Series(values, dtype=object)).astype("datetime64[ns]")


def sample_tables() -> dict[str, pd.DataFrame]:
    """One small, valid, consistent frame per table (contract columns and dtypes)."""
    t = {}
    t["customers"] = pd.DataFrame({
        "customer_id": ["C1", "C2", "C3"],
        "name": ["Ada Lovelace", "Acme Corp", "Bob Smith"],
        "customer_type": ["residential", "commercial", "residential"],
        "region": ["north", "north", "south"],
        "zip": ["02134", "02135", "30301"],
        "lat": [42.35, 42.36, 33.75],
        "lon": [-71.13, -71.14, -84.39],
        "acquisition_channel": ["web", "referral", "phone"],
        "preferred_channel": ["email", "phone", "sms"],
        "created_date": _ts("2023-01-01", "2023-01-10", "2023-06-01"),
        "is_priority": [False, True, False],
    })
    t["technicians"] = pd.DataFrame({
        "technician_id": ["T1", "T2"],
        "name": ["Tess Tech", "Tom Wrench"],
        "region": ["north", "south"],
        "home_lat": [42.3, 33.7],
        "home_lon": [-71.1, -84.4],
        "skills": ["hvac;plumbing", "electrical"],
        "certification_level": [2, 3],
        "hourly_rate": [35.0, 42.5],
        "weekly_hours": [40.0, 32.0],
        "hire_date": _ts("2020-01-01", "2021-05-01"),
        "termination_date": _ts(None, "2024-06-30"),
    })
    t["roster"] = pd.DataFrame({
        "technician_id": ["T1", "T1", "T2"],
        "date": _ts("2024-06-03", "2024-06-04", "2024-06-03"),
        "status": ["working", "vacation", "sick"],
        "on_call": [True, False, False],
    })
    t["equipment"] = pd.DataFrame({
        "equipment_id": ["E1", "E2"],
        "name": ["Van 1", "Scope"],
        "kind": ["van", "diagnostic"],
        "service_line": [None, "hvac"],
        "region": ["north", "north"],
        "purchase_date": _ts("2021-01-01", "2022-03-01"),
        "purchase_cost": [30000.0, 2500.0],
        "hourly_cost": [12.0, 0.0],
        "available_hours_per_week": [50.0, 40.0],
    })
    t["leads"] = pd.DataFrame({
        "lead_id": ["L1", "L2"],
        "customer_id": ["C1", "C2"],
        "created_at": _ts("2023-02-01 09:30", "2023-03-01 14:00"),
        "channel": ["web", "phone"],
        "service_line": ["hvac", "plumbing"],
        "status": ["quoted", "open"],
    })
    t["quotes"] = pd.DataFrame({
        "quote_id": ["Q1"],
        "lead_id": ["L1"],
        "customer_id": ["C1"],
        "service_line": ["hvac"],
        "urgency": ["routine"],
        "job_type": ["install"],
        "created_at": _ts("2023-02-05 10:00"),
        "amount": [900.0],
        "list_amount": [1000.0],
        "status": ["won"],
        "decided_at": _ts("2023-02-10 12:00"),
    })
    t["contracts"] = pd.DataFrame({
        "contract_id": ["K1"],
        "customer_id": ["C2"],
        "service_line": ["hvac"],
        "start_date": _ts("2023-01-15"),
        "end_date": _ts(None),
        "monthly_fee": [30.0],
        "visits_per_year": [2],
        "status": ["active"],
    })
    t["jobs"] = pd.DataFrame({
        "job_id": ["J1", "J2", "J3"],
        "customer_id": ["C1", "C2", "C3"],
        "technician_id": ["T1", "T2", None],
        "quote_id": ["Q1", None, None],
        "contract_id": [None, "K1", None],
        "equipment_id": ["E1", None, None],
        "service_line": ["hvac", "hvac", "roofing"],
        "job_type": ["install", "maintenance", "inspection"],
        "urgency": ["routine", "routine", "urgent"],
        "status": ["completed", "completed", "scheduled"],
        "region": ["north", "north", "south"],
        "created_at": _ts("2023-02-11 08:00", "2023-03-01 08:00", "2023-07-01 08:00"),
        "requested_date": _ts("2023-02-15", "2023-03-03", "2023-07-08"),
        "scheduled_start": _ts("2023-02-15 09:00", "2023-03-05 09:00", "2023-07-10 09:00"),
        "completed_at": _ts("2023-02-15 13:00", "2023-03-05 11:00", None),
        "scheduled_hours": [4.0, 2.0, 3.0],
        "labor_hours": [4.5, 2.0, 0.0],
        "travel_minutes": [30.0, 15.0, 0.0],
        "travel_miles": [12.0, 6.5, 0.0],
        "revenue": [900.0, 150.0, 0.0],
        "labor_cost": [160.0, 85.0, 0.0],
        "material_cost": [300.0, 10.0, 0.0],
        "equipment_cost": [20.0, 0.0, 0.0],
        "callback": [False, True, False],
        "rating": [9.0, 7.5, np.nan],
        "safety_incident": [False, False, False],
    })
    t["invoices"] = pd.DataFrame({
        "invoice_id": ["I1", "I2"],
        "job_id": ["J1", "J2"],
        "customer_id": ["C1", "C2"],
        "issued_date": _ts("2023-02-16", "2023-03-06"),
        "due_date": _ts("2023-03-18", "2023-04-05"),
        "amount": [900.0, 150.0],
        "status": ["paid", "open"],
        "disputed": [False, False],
        "written_off_at": pd.to_datetime([None, None]).astype("datetime64[ns]"),
    })
    t["payments"] = pd.DataFrame({
        "payment_id": ["P1"],
        "invoice_id": ["I1"],
        "customer_id": ["C1"],
        "paid_date": _ts("2023-03-01"),
        "amount": [900.0],
        "method": ["card"],
    })
    t["interactions"] = pd.DataFrame({
        "interaction_id": ["X1", "X2"],
        "customer_id": ["C1", "C2"],
        "job_id": ["J1", None],
        "ts": _ts("2023-02-16 10:00", "2023-03-02 11:30"),
        "channel": ["survey", "phone"],
        "kind": ["survey", "inquiry"],
        "direction": ["inbound", "inbound"],
        "satisfaction": [9.0, np.nan],
    })
    t["expenses"] = pd.DataFrame({
        "expense_id": ["EX1", "EX2"],
        "date": _ts("2023-01-31", "2023-02-28"),
        "category": ["rent", "fuel"],
        "kind": ["fixed", "variable"],
        "amount": [2000.0, 300.0],
        "service_line": [None, "hvac"],
    })
    t["equipment_usage"] = pd.DataFrame({
        "usage_id": ["U1"],
        "equipment_id": ["E1"],
        "job_id": ["J1"],
        "date": _ts("2023-02-15"),
        "hours": [4.0],
    })
    t["telemetry"] = pd.DataFrame({
        "equipment_id": ["E1", "E1"],
        "ts": _ts("2023-02-15 00:00", "2023-02-15 01:00"),
        "vibration": [2.5, 2.7],
        "temperature": [40.0, 41.0],
        "pressure": [100.0, 101.0],
    })
    t["equipment_states"] = pd.DataFrame({
        "equipment_id": ["E1", "E2"],
        "date": _ts("2023-02-15", "2023-02-15"),
        "idle_hours": [14.0, 20.0],
        "normal_hours": [8.0, 4.0],
        "heavy_hours": [2.0, 0.0],
        "fault_hours": [0.0, 0.0],
        # the day's 24 transitions: the arrivals in a state are its hours
        **{c: [0, 0] for c in TRANSITION_COLUMNS},
        "idle_to_idle": [12, 18], "idle_to_normal": [2, 2], "normal_to_idle": [2, 2],
        "normal_to_normal": [5, 2], "normal_to_heavy": [1, 0], "heavy_to_normal": [1, 0], "heavy_to_heavy": [1, 0],
        "energy_kwh": [41.5, 18.25],
    }).astype({c: "Int64" for c in TRANSITION_COLUMNS})  # the contract's nullable counts
    t["vibration_snapshots"] = pd.DataFrame({
        "equipment_id": ["E1"],
        "ts": _ts("2023-02-15 10:00"),
        "running_speed_hz": [24.5],
        "rms": [0.81],
        "amp_1x": [0.95],
        "amp_2x": [0.29],
        "amp_bpfo": [0.06],
        "amp_bpfi": [0.05],
    })
    t["vibration_waveforms"] = pd.DataFrame({
        "equipment_id": ["E1"],
        "ts": _ts("2023-02-15 10:00"),
        "sample_rate_hz": [2048.0],
        "samples": [8],
        "resolution_mm_s": [0.001],
        # eight int16 counts, little-endian, base64
        "data": [base64.b64encode(np.array([0, 700, 990, 700, 0, -700, -990, -700], dtype="<i2").tobytes()).decode()],
    })
    t["maintenance_events"] = pd.DataFrame({
        "event_id": ["M1"],
        "equipment_id": ["E1"],
        "kind": ["preventive"],
        "scheduled_date": _ts("2023-03-01"),
        "completed_date": _ts("2023-03-02"),
        "downtime_hours": [4.0],
        "cost": [150.0],
        "failure_mode": pd.Series([None], dtype=object),
    })
    t["weather"] = pd.DataFrame({
        "date": _ts("2023-02-15", "2023-02-15"),
        "region": ["north", "south"],
        "temp_c": [-2.5, 12.0],
        "precip_mm": [0.0, 5.0],
        "storm": [False, True],
    })
    t["economic_indicators"] = pd.DataFrame({
        "month": _ts("2023-01-01", "2023-02-01"),
        "unemployment_rate": [3.5, 3.6],
        "housing_starts": [1400.0, 1380.0],
        "consumer_confidence": [110.0, 108.5],
        "published_at": _ts("2023-02-15", "2023-03-15"),
    })
    assert set(t) == set(TABLE_ORDER)
    return {name: t[name][CONTRACTS[name].columns] for name in TABLE_ORDER}


def write_exports(tables: dict[str, pd.DataFrame], directory: Path, fmt: str = "csv") -> Path:
    """Write ``tables`` as ``<table>.csv`` / ``<table>.parquet`` under ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        if fmt == "csv":
            df.to_csv(directory / f"{name}.csv", index=False)
        else:
            df.to_parquet(directory / f"{name}.parquet", index=False)
    return directory


@pytest.fixture
def tables() -> dict[str, pd.DataFrame]:
    return sample_tables()


@pytest.fixture(scope="session")
def base_lake_template(tmp_path_factory) -> Path:
    """A lake holding the sample company, built once and copied by :func:`base_lake`."""
    from quantlib.data.ingest import ingest

    root = tmp_path_factory.mktemp("base")
    src = write_exports(sample_tables(), root / "src")
    report = ingest(src, root / "lake")
    assert report.ok and report.rows_rejected == 0, [str(p) for p in report.problems]
    return root / "lake"


@pytest.fixture
def base_lake(base_lake_template, tmp_path) -> Path:
    """A fresh copy of the sample company's lake (root directory)."""
    target = tmp_path / "lake"
    shutil.copytree(base_lake_template, target)
    return target
