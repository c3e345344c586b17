"""Data contracts: one pandera schema per core table, plus keys and foreign keys.

Every table a company loads, and every table the generator writes, is checked
against these contracts. A contract says

* the columns, their types, allowed values and ranges (pandera ``Column``),
* the primary key (unique, not null),
* cross-field rules inside a row (e.g. a job is completed after it is created),
* foreign keys to other tables, and cross-table rules (a payment is not made
  before its invoice is issued), checked by :func:`check_relations`.

Date columns are stored as timestamps at midnight; time columns keep their time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pandera.pandas as pa

from quantlib.errors import RejectReason

SERVICE_LINES = ("hvac", "plumbing", "electrical", "landscaping", "roofing")
JOB_TYPES = ("install", "repair", "maintenance", "inspection", "emergency")
URGENCIES = ("routine", "urgent", "emergency")
#: Job types a quote can be for; a quote without a job type is for an install.
QUOTED_JOB_TYPES = ("install", "repair")
DEFAULT_QUOTE_JOB_TYPE = "install"
JOB_STATUSES = ("completed", "cancelled", "scheduled")
CHANNELS = ("referral", "web", "phone", "advertising", "partner")
CONTACT_CHANNELS = ("phone", "email", "sms")
INTERACTION_CHANNELS = ("phone", "email", "sms", "survey", "web")
INTERACTION_KINDS = ("booking", "inquiry", "complaint", "survey", "follow_up", "marketing")
INVOICE_STATUSES = ("open", "paid", "disputed", "written_off")
PAYMENT_METHODS = ("card", "check", "ach", "cash")
EQUIPMENT_KINDS = ("van", "diagnostic", "heavy", "tool")
MAINTENANCE_KINDS = ("preventive", "corrective", "failure")
FAILURE_MODES = ("bearing", "electrical", "refrigerant_leak", "control_board")
OPERATING_STATES = ("idle", "normal", "heavy", "fault")
#: A day's hourly transition counts between operating states, ``<from>_to_<to>``, rows "from" in
#: the order of OPERATING_STATES (idle_to_idle, idle_to_normal, ..., fault_to_fault).
TRANSITION_COLUMNS = tuple(f"{a}_to_{b}" for a in OPERATING_STATES for b in OPERATING_STATES)
ROSTER_STATUSES = ("working", "day_off", "vacation", "sick", "holiday")

TIMESTAMP = "datetime64[ns]"

#: A month of economic indicators is published on this day of the following month when its
#: row carries no ``published_at`` (one date for the row: US CPI and housing starts come out
#: around mid-month, the unemployment rate a little earlier).
INDICATOR_PUBLICATION_DAY = 15


def default_published_at(month) -> pd.Series:
    """The default publication date of monthly indicators: day ``INDICATOR_PUBLICATION_DAY`` of the next month."""
    start = pd.to_datetime(pd.Series(month)).dt.to_period("M").dt.to_timestamp()
    return start + pd.offsets.MonthBegin(1) + pd.Timedelta(days=INDICATOR_PUBLICATION_DAY - 1)


def default_published_at_sql(month: str) -> str:
    """:func:`default_published_at` as a DuckDB expression of the column or expression ``month``."""
    return (f"(date_trunc('month', {month}) + INTERVAL 1 MONTH "
            f"+ INTERVAL {INDICATOR_PUBLICATION_DAY - 1} DAY)::TIMESTAMP")


def _id(nullable: bool = False) -> pa.Column:
    return pa.Column(str, pa.Check.str_length(min_value=1), nullable=nullable, coerce=True)


def _ts(nullable: bool = False) -> pa.Column:
    return pa.Column(TIMESTAMP, nullable=nullable, coerce=True)


def _money(nullable: bool = False, strictly_positive: bool = False) -> pa.Column:
    check = pa.Check.gt(0) if strictly_positive else pa.Check.ge(0)
    return pa.Column(float, check, nullable=nullable, coerce=True)


def _one_of(values: tuple[str, ...], nullable: bool = False) -> pa.Column:
    return pa.Column(str, pa.Check.isin(values), nullable=nullable, coerce=True)


def _range(lo: float, hi: float, nullable: bool = False, dtype=float) -> pa.Column:
    return pa.Column(dtype, pa.Check.in_range(lo, hi), nullable=nullable, coerce=True)


def _not_before(later: str, earlier: str) -> pa.Check:
    """Row check: ``later`` is missing or not before ``earlier``."""

    def check(df: pd.DataFrame) -> pd.Series:
        return df[later].isna() | df[earlier].isna() | (df[later] >= df[earlier])

    # The statistics let per-event validators (quantlib.stream.events) apply the same rule.
    return pa.Check(check, name=f"{later}_not_before_{earlier}", error=f"{later} is before {earlier}",
                    statistics={"rule": "not_before", "later": later, "earlier": earlier})


def _required_when(column: str, condition_column: str, value: str) -> pa.Check:
    """Row check: ``column`` is set whenever ``condition_column == value``."""

    def check(df: pd.DataFrame) -> pd.Series:
        return (df[condition_column] != value) | df[column].notna()

    return pa.Check(check, name=f"{column}_required_when_{value}",
                    error=f"{column} is missing although {condition_column} is {value!r}",
                    statistics={"rule": "required_when", "column": column, "condition_column": condition_column,
                                "value": value})


def _skills_valid(series: pd.Series) -> pd.Series:
    return series.astype(str).str.split(";").map(
        lambda parts: len(parts) > 0 and all(p in SERVICE_LINES for p in parts))


@dataclass(frozen=True)
class ForeignKey:
    """``table.column`` must name an existing ``ref_table.ref_column`` (nulls allowed)."""

    column: str
    ref_table: str
    ref_column: str


@dataclass(frozen=True)
class NotBeforeRelated:
    """``table.column`` must not be before ``ref_table.ref_date`` of the row ``via`` names."""

    column: str
    via: ForeignKey
    ref_date: str


@dataclass(frozen=True)
class TableContract:
    """The contract of one table: schema, key, relations to other tables."""

    name: str
    key: tuple[str, ...]
    schema: pa.DataFrameSchema
    foreign_keys: tuple[ForeignKey, ...] = ()
    date_rules: tuple[NotBeforeRelated, ...] = ()
    description: str = ""
    # Column whose later value marks the newer version of a row (else: the later load).
    version_column: str | None = None

    @property
    def columns(self) -> list[str]:
        return list(self.schema.columns)

    @property
    def required_columns(self) -> list[str]:
        return [name for name, col in self.schema.columns.items() if not col.nullable]

    def validate(self, df: pd.DataFrame, lazy: bool = True) -> pd.DataFrame:
        """Validate ``df`` against the schema and key; raise pandera's ``SchemaErrors``."""
        return self.schema.validate(df, lazy=lazy)


def _contract(name, key, columns, checks=(), foreign_keys=(), date_rules=(), description="",
              version_column=None) -> TableContract:
    schema = pa.DataFrameSchema(
        columns,
        checks=list(checks),
        unique=list(key),
        strict=False,
        name=name,
        report_duplicates="all",
    )
    return TableContract(name, tuple(key), schema, tuple(foreign_keys), tuple(date_rules),
                         description, version_column)


FK = ForeignKey

CONTRACTS: dict[str, TableContract] = {}


def _register(contract: TableContract) -> None:
    CONTRACTS[contract.name] = contract


_register(_contract(
    "customers", ["customer_id"],
    {
        "customer_id": _id(),
        "name": pa.Column(str, coerce=True),
        "customer_type": _one_of(("residential", "commercial")),
        "region": _id(),
        "zip": pa.Column(str, pa.Check.str_matches(r"^\d{5}$"), coerce=True),
        "lat": _range(-90, 90),
        "lon": _range(-180, 180),
        "acquisition_channel": _one_of(CHANNELS),
        "preferred_channel": _one_of(CONTACT_CHANNELS),
        "created_date": _ts(),
        "is_priority": pa.Column(bool, coerce=True),
    },
    description="Customers with their location (zip, lat, lon) and how they came to us.",
))

_register(_contract(
    "technicians", ["technician_id"],
    {
        "technician_id": _id(),
        "name": pa.Column(str, coerce=True),
        "region": _id(),
        "home_lat": _range(-90, 90),
        "home_lon": _range(-180, 180),
        "skills": pa.Column(str, pa.Check(_skills_valid, element_wise=False, name="skills_known",
                                          error="skills must be ';'-separated service lines"),
                            coerce=True),
        "certification_level": _range(1, 4, dtype=int),
        "hourly_rate": _money(strictly_positive=True),
        "weekly_hours": pa.Column(float, pa.Check.in_range(0, 80, include_min=False), coerce=True),
        "hire_date": _ts(),
        "termination_date": _ts(nullable=True),
    },
    checks=[_not_before("termination_date", "hire_date")],
    description="Technicians: skills, certification, rates, home base.",
))

_register(_contract(
    "roster", ["technician_id", "date"],
    {
        "technician_id": _id(),
        "date": _ts(),
        "status": _one_of(ROSTER_STATUSES),
        "on_call": pa.Column(bool, coerce=True),
    },
    foreign_keys=[FK("technician_id", "technicians", "technician_id")],
    description="The technicians' roster from the scheduling system: each technician-day worked or off "
                "(day off, vacation, sick, holiday) and who is on call. A day it does not list follows "
                "the company's working days.",
))

_register(_contract(
    "leads", ["lead_id"],
    {
        "lead_id": _id(),
        "customer_id": _id(),
        "created_at": _ts(),
        "channel": _one_of(CHANNELS),
        "service_line": _one_of(SERVICE_LINES),
        "status": _one_of(("open", "quoted", "unqualified")),
    },
    foreign_keys=[FK("customer_id", "customers", "customer_id")],
    description="Leads: the first step of the sales funnel.",
))

_register(_contract(
    "quotes", ["quote_id"],
    {
        "quote_id": _id(),
        "lead_id": _id(),
        "customer_id": _id(),
        "service_line": _one_of(SERVICE_LINES),
        "urgency": _one_of(URGENCIES),
        # The quoted job's type (optional: older files lack it, and a quote without one is for
        # an install, as all quotes were before repairs were quoted).
        "job_type": _one_of(QUOTED_JOB_TYPES, nullable=True),
        "created_at": _ts(),
        "amount": _money(strictly_positive=True),
        "list_amount": _money(strictly_positive=True),
        "status": _one_of(("open", "won", "lost")),
        "decided_at": _ts(nullable=True),
    },
    checks=[_not_before("decided_at", "created_at"),
            _required_when("decided_at", "status", "won"),
            _required_when("decided_at", "status", "lost")],
    foreign_keys=[FK("lead_id", "leads", "lead_id"), FK("customer_id", "customers", "customer_id")],
    date_rules=[NotBeforeRelated("created_at", FK("lead_id", "leads", "lead_id"), "created_at")],
    description="Quotes: priced offers for installs and major repairs (job_type); list_amount is the "
                "standard price, amount the offered one.",
))

_register(_contract(
    "contracts", ["contract_id"],
    {
        "contract_id": _id(),
        "customer_id": _id(),
        "service_line": _one_of(SERVICE_LINES),
        "start_date": _ts(),
        "end_date": _ts(nullable=True),
        "monthly_fee": _money(strictly_positive=True),
        "visits_per_year": _range(1, 12, dtype=int),
        "status": _one_of(("active", "cancelled", "expired")),
    },
    checks=[_not_before("end_date", "start_date")],
    foreign_keys=[FK("customer_id", "customers", "customer_id")],
    description="Maintenance contracts: recurring revenue.",
))

_register(_contract(
    "equipment", ["equipment_id"],
    {
        "equipment_id": _id(),
        "name": pa.Column(str, coerce=True),
        "kind": _one_of(EQUIPMENT_KINDS),
        "service_line": _one_of(SERVICE_LINES, nullable=True),
        "region": _id(),
        "purchase_date": _ts(),
        "purchase_cost": _money(strictly_positive=True),
        "hourly_cost": _money(),
        "available_hours_per_week": pa.Column(float, pa.Check.in_range(0, 168, include_min=False),
                                              coerce=True),
    },
    description="Vans and equipment: cost and available hours.",
))

_register(_contract(
    "jobs", ["job_id"],
    {
        "job_id": _id(),
        "customer_id": _id(),
        "technician_id": _id(nullable=True),
        "quote_id": _id(nullable=True),
        "contract_id": _id(nullable=True),
        "equipment_id": _id(nullable=True),
        "service_line": _one_of(SERVICE_LINES),
        "job_type": _one_of(JOB_TYPES),
        "urgency": _one_of(URGENCIES),
        "status": _one_of(JOB_STATUSES),
        "region": _id(),
        "created_at": _ts(),
        # The day the customer asked for (a contract visit: the day it fell due). A job is
        # booked then or, when the technicians are full, on a later day (scheduled_start).
        "requested_date": _ts(nullable=True),
        "scheduled_start": _ts(),
        "completed_at": _ts(nullable=True),
        "scheduled_hours": pa.Column(float, pa.Check.in_range(0, 24, include_min=False), coerce=True),
        "labor_hours": _range(0, 24),
        "travel_minutes": _range(0, 600),
        "travel_miles": _range(0, 500),
        "revenue": _money(),
        "labor_cost": _money(),
        "material_cost": _money(),
        "equipment_cost": _money(),
        "callback": pa.Column(bool, coerce=True),
        "rating": _range(0, 10, nullable=True),
        "safety_incident": pa.Column(bool, coerce=True),
    },
    checks=[_not_before("scheduled_start", "created_at"),
            _not_before("completed_at", "scheduled_start"),
            _required_when("completed_at", "status", "completed"),
            _required_when("technician_id", "status", "completed")],
    foreign_keys=[FK("customer_id", "customers", "customer_id"),
                  FK("technician_id", "technicians", "technician_id"),
                  FK("quote_id", "quotes", "quote_id"),
                  FK("contract_id", "contracts", "contract_id"),
                  FK("equipment_id", "equipment", "equipment_id")],
    date_rules=[NotBeforeRelated("created_at", FK("customer_id", "customers", "customer_id"),
                                 "created_date")],
    description="Jobs (work orders): what was done, when, by whom, for how much.",
))

_register(_contract(
    "invoices", ["invoice_id"],
    {
        "invoice_id": _id(),
        "job_id": _id(),
        "customer_id": _id(),
        "issued_date": _ts(),
        "due_date": _ts(),
        "amount": _money(),
        "status": _one_of(INVOICE_STATUSES),
        "disputed": pa.Column(bool, coerce=True),
        # The day a written-off invoice was written off (optional: older files lack it, and
        # their written-off invoices then count as written off from the day they were issued).
        "written_off_at": _ts(nullable=True),
    },
    checks=[_not_before("due_date", "issued_date"), _not_before("written_off_at", "issued_date")],
    foreign_keys=[FK("job_id", "jobs", "job_id"), FK("customer_id", "customers", "customer_id")],
    description="Invoices, one per completed job; a write-off is dated by written_off_at.",
))

_register(_contract(
    "payments", ["payment_id"],
    {
        "payment_id": _id(),
        "invoice_id": _id(),
        "customer_id": _id(),
        "paid_date": _ts(),
        "amount": _money(strictly_positive=True),
        "method": _one_of(PAYMENT_METHODS),
    },
    foreign_keys=[FK("invoice_id", "invoices", "invoice_id"),
                  FK("customer_id", "customers", "customer_id")],
    date_rules=[NotBeforeRelated("paid_date", FK("invoice_id", "invoices", "invoice_id"),
                                 "issued_date")],
    description="Payments against invoices (a payment is never before its invoice).",
))

_register(_contract(
    "interactions", ["interaction_id"],
    {
        "interaction_id": _id(),
        "customer_id": _id(),
        "job_id": _id(nullable=True),
        "ts": _ts(),
        "channel": _one_of(INTERACTION_CHANNELS),
        "kind": _one_of(INTERACTION_KINDS),
        "direction": _one_of(("inbound", "outbound")),
        "satisfaction": _range(0, 10, nullable=True),
    },
    foreign_keys=[FK("customer_id", "customers", "customer_id"), FK("job_id", "jobs", "job_id")],
    description="Calls, e-mails, surveys; satisfaction on a 0-10 scale.",
))

_register(_contract(
    "expenses", ["expense_id"],
    {
        "expense_id": _id(),
        "date": _ts(),
        "category": _id(),
        "kind": _one_of(("fixed", "variable")),
        "amount": _money(strictly_positive=True),
        "service_line": _one_of(SERVICE_LINES, nullable=True),
    },
    description="Overhead expenses (not the direct costs already on jobs).",
))

_register(_contract(
    "equipment_usage", ["usage_id"],
    {
        "usage_id": _id(),
        "equipment_id": _id(),
        "job_id": _id(),
        "date": _ts(),
        "hours": pa.Column(float, pa.Check.in_range(0, 24, include_min=False), coerce=True),
    },
    foreign_keys=[FK("equipment_id", "equipment", "equipment_id"), FK("job_id", "jobs", "job_id")],
    description="Hours each piece of equipment was used on a job.",
))

_register(_contract(
    "telemetry", ["equipment_id", "ts"],
    {
        "equipment_id": _id(),
        "ts": _ts(),
        "vibration": _range(0, 1000),
        "temperature": _range(-60, 250),
        "pressure": _range(0, 1000),
    },
    foreign_keys=[FK("equipment_id", "equipment", "equipment_id")],
    description="Equipment sensor readings: vibration (mm/s), temperature (C), pressure (psi).",
))

_register(_contract(
    "equipment_states", ["equipment_id", "date"],
    {
        "equipment_id": _id(),
        "date": _ts(),
        **{f"{state}_hours": _range(0, 24) for state in OPERATING_STATES},
        # The day's hourly transitions between states (optional: older files lack them).
        **{name: _range(0, 24, nullable=True, dtype="Int64") for name in TRANSITION_COLUMNS},
        # The unit's energy meter over the day, kWh (optional: older files lack it, and a unit
        # without a meter leaves it empty).
        "energy_kwh": pa.Column(float, pa.Check.ge(0), nullable=True, coerce=True),
    },
    foreign_keys=[FK("equipment_id", "equipment", "equipment_id")],
    description="Hours a day each unit spent in each operating state (idle, normal, heavy, fault; "
                "the generator's add up to 24) and, optionally, the day's hourly transitions between "
                "them (<from>_to_<to>) and its metered energy (kWh); no row for a day the unit was down.",
))

_register(_contract(
    "vibration_snapshots", ["equipment_id", "ts"],
    {
        "equipment_id": _id(),
        "ts": _ts(),
        "running_speed_hz": _range(0, 1000),
        "rms": _range(0, 1000),
        "amp_1x": _range(0, 1000),
        "amp_2x": _range(0, 1000),
        "amp_bpfo": _range(0, 1000),
        "amp_bpfi": _range(0, 1000),
    },
    foreign_keys=[FK("equipment_id", "equipment", "equipment_id")],
    description="A weekly high-rate vibration snapshot per unit, as its spectrum's peaks (mm/s): overall "
                "rms, running speed (1x, imbalance), 2x (misalignment), bearing outer and inner race "
                "defect frequencies (BPFO, BPFI).",
))

_register(_contract(
    "vibration_waveforms", ["equipment_id", "ts"],
    {
        "equipment_id": _id(),
        "ts": _ts(),
        "sample_rate_hz": _range(1, 1_000_000),
        "samples": _range(8, 1_000_000, dtype=int),
        "resolution_mm_s": pa.Column(float, pa.Check.gt(0), coerce=True),
        # base64 (groups of 4 characters, padded); that it holds ``samples`` values is checked when decoded
        "data": pa.Column(str, pa.Check.str_matches(
            r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2}==)$"), coerce=True),
    },
    foreign_keys=[FK("equipment_id", "equipment", "equipment_id")],
    description="Raw vibration waveforms, one row per recent high-rate snapshot of a unit (the snapshot "
                "at ts): samples values at sample_rate_hz, stored in data as base64 of little-endian "
                "int16 counts of resolution_mm_s (mm/s), kept raw for spectra, kurtosis and crest "
                "factor (optional: a company without it still builds).",
))

_register(_contract(
    "maintenance_events", ["event_id"],
    {
        "event_id": _id(),
        "equipment_id": _id(),
        "kind": _one_of(MAINTENANCE_KINDS),
        "scheduled_date": _ts(),
        "completed_date": _ts(nullable=True),
        "downtime_hours": _range(0, 24 * 90),
        "cost": _money(),
        # The failure mode the technician found (optional: older files lack it, and other
        # events than failures leave it empty).
        "failure_mode": _one_of(FAILURE_MODES, nullable=True),
    },
    checks=[_not_before("completed_date", "scheduled_date")],
    foreign_keys=[FK("equipment_id", "equipment", "equipment_id")],
    description="Preventive maintenance, corrective repairs and failures (a failure's mode as found).",
))

_register(_contract(
    "weather", ["date", "region"],
    {
        "date": _ts(),
        "region": _id(),
        "temp_c": _range(-60, 60),
        "precip_mm": _range(0, 1000),
        "storm": pa.Column(bool, coerce=True),
    },
    description="Daily weather per region; storm days drive roofing demand.",
))

_register(_contract(
    "economic_indicators", ["month"],
    {
        "month": _ts(),
        "unemployment_rate": _range(0, 100),
        "housing_starts": _range(0, 10_000),
        "consumer_confidence": _range(0, 300),
        # The day the month's figures were published (optional: when missing, the warehouse
        # assumes the default publication lag, the 15th of the following month).
        "published_at": _ts(nullable=True),
    },
    checks=[_not_before("published_at", "month")],
    description="Monthly economic indicators: unemployment (%), housing starts (thousands, "
                "annual rate), consumer confidence (index), and the day each month was published.",
))

# Load order: a table comes after every table its foreign keys name.
TABLE_ORDER: tuple[str, ...] = (
    "customers", "technicians", "roster", "equipment", "leads", "quotes", "contracts", "jobs",
    "invoices", "payments", "interactions", "expenses", "equipment_usage", "telemetry",
    "equipment_states", "vibration_snapshots", "vibration_waveforms", "maintenance_events", "weather",
    "economic_indicators",
)
if set(TABLE_ORDER) != set(CONTRACTS):  # an explicit check: asserts vanish under python -O
    raise RuntimeError("TABLE_ORDER and CONTRACTS name different tables")


def get_contract(name: str) -> TableContract:
    """Return the contract of table ``name``; ``KeyError`` names the known tables."""
    try:
        return CONTRACTS[name]
    except KeyError:
        raise KeyError(f"unknown table {name!r}; known tables: {', '.join(TABLE_ORDER)}") from None


def _isin(values: pd.Series, reference: pd.Series) -> pd.Series:
    """``values.isin(reference)`` through Arrow's hash kernel.

    pandas 3 answers ``isin`` on Arrow-backed strings with a Python loop, which takes
    a minute for a million foreign keys; ``pyarrow.compute.is_in`` takes milliseconds.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    left = pa.array(values.astype(object).where(values.notna(), None).to_numpy(), type=pa.string()) \
        if values.dtype == object else pa.array(values, from_pandas=True)
    right = pa.array(reference.dropna(), from_pandas=True)
    if left.type != right.type:
        left, right = left.cast(pa.string()), right.cast(pa.string())
    found = pc.is_in(left, value_set=right.unique()).to_numpy(zero_copy_only=False)
    return pd.Series(found, index=values.index)


def check_relations(table: str, df: pd.DataFrame, tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Check ``df`` (rows of ``table``) against the tables it refers to.

    Parameters
    ----------
    table : str
        Name of the table ``df`` holds.
    df : DataFrame
        The rows to check (already schema-valid).
    tables : dict of str to DataFrame
        The referenced tables, by name. A referenced table that is absent is not
        checked (the relation cannot be judged).

    Returns
    -------
    DataFrame
        One row per violation: ``index`` (of ``df``), ``field``, ``reason`` and
        ``reason_code`` (:attr:`~quantlib.errors.RejectReason.UNKNOWN_REFERENCE` for a
        foreign key, :attr:`~quantlib.errors.RejectReason.DATE_ORDER` for a date rule).
    """
    contract = get_contract(table)
    found: list[pd.DataFrame] = []
    for fk in contract.foreign_keys:
        ref = tables.get(fk.ref_table)
        if ref is None or fk.column not in df:
            continue
        values = df[fk.column]
        bad = values.notna() & ~_isin(values, ref[fk.ref_column])
        if bad.any():
            found.append(pd.DataFrame({
                "index": df.index[bad],
                "field": fk.column,
                "reason": [f"{fk.column} {v!r} not found in {fk.ref_table}.{fk.ref_column}"
                           for v in values[bad]],
                "reason_code": RejectReason.UNKNOWN_REFERENCE.value,
            }))
    for rule in contract.date_rules:
        ref = tables.get(rule.via.ref_table)
        if ref is None:
            continue
        lookup = ref.drop_duplicates(rule.via.ref_column).set_index(rule.via.ref_column)[rule.ref_date]
        ref_dates = df[rule.via.column].map(lookup)
        # Compare at day resolution: a date column is midnight of that day.
        bad = ref_dates.notna() & (df[rule.column].dt.normalize() < ref_dates.dt.normalize())
        if bad.any():
            found.append(pd.DataFrame({
                "index": df.index[bad],
                "field": rule.column,
                "reason": [f"{rule.column} {d.date()} is before {rule.via.ref_table}.{rule.ref_date} "
                           f"{r.date()}" for d, r in zip(df.loc[bad, rule.column], ref_dates[bad])],
                "reason_code": RejectReason.DATE_ORDER.value,
            }))
    if not found:
        return pd.DataFrame({"index": pd.Series(dtype=object), "field": pd.Series(dtype=str),
                             "reason": pd.Series(dtype=str), "reason_code": pd.Series(dtype=str)})
    return pd.concat(found, ignore_index=True)


def _row_rule_fields(contract: TableContract) -> dict[str, tuple[str, ...]]:
    """Map a row rule's error text to the columns it compares (the first is its field)."""
    fields = {}
    for check in contract.schema.checks:
        name = check.name or ""
        if "_not_before_" in name:
            later, earlier = name.split("_not_before_", 1)
            fields[check.error or name] = (later, earlier)
        else:
            fields[check.error or name] = (name.split("_required_when_")[0],)
    return fields


_DTYPE_WORDS = {"float64": "a number", "int64": "a whole number", "Int64": "a whole number", "datetime64[ns]": "a date",
                "bool": "true/false", "str": "text"}


def _fmt(value) -> str:
    """A value as a reason shows it: dates without a midnight time, text quoted."""
    if isinstance(value, pd.Timestamp):
        return str(value.date()) if value == value.normalize() else str(value)
    return repr(value.item() if hasattr(value, "item") else value)


def _column_reason(column: pa.Column | None, check: str, value) -> tuple[str, RejectReason]:
    """Plain-words reason and its code for a failed column check (``check`` is pandera's check text)."""
    found = None
    if column is not None:
        found = next((c for c in column.checks if (c.error or c.name) == check), None)
    if found is None:
        return f"value {_fmt(value)} fails {check}", RejectReason.RULE_VIOLATION
    stats = found.statistics or {}
    name = found.name
    if name == "str_length":
        lo, hi = stats.get("min_value"), stats.get("max_value")
        if lo == 1 and hi is None:
            return "must not be empty", RejectReason.BAD_FORMAT
        return f"length of {_fmt(value)} must be between {lo} and {hi}", RejectReason.BAD_FORMAT
    if name == "isin":
        return (f"{_fmt(value)} is not one of {', '.join(map(str, stats['allowed_values']))}",
                RejectReason.NOT_ALLOWED)
    if name == "str_matches":
        return f"{_fmt(value)} does not match the pattern {stats['pattern']}", RejectReason.BAD_FORMAT
    if name == "in_range":
        lo, hi = stats["min_value"], stats["max_value"]
        lo_op = ">=" if stats.get("include_min", True) else ">"
        hi_op = "<=" if stats.get("include_max", True) else "<"
        if lo_op == ">=" and hi_op == "<=":
            return f"must be between {lo} and {hi} (got {_fmt(value)})", RejectReason.OUT_OF_RANGE
        return f"must be {lo_op} {lo} and {hi_op} {hi} (got {_fmt(value)})", RejectReason.OUT_OF_RANGE
    if name == "greater_than":
        return f"must be > {stats['min_value']} (got {_fmt(value)})", RejectReason.OUT_OF_RANGE
    if name == "greater_than_or_equal_to":
        return f"must be >= {stats['min_value']} (got {_fmt(value)})", RejectReason.OUT_OF_RANGE
    return f"{found.error or name} (got {_fmt(value)})", RejectReason.RULE_VIOLATION


def schema_failures(table: str, error) -> pd.DataFrame:
    """Turn pandera's lazy ``SchemaErrors`` into one row per (row index, field, reason).

    Reasons are plain words with the offending value: ``must be between 0 and 24
    (got 30.0)``, ``'pool' is not one of hvac, ...``, ``cannot read 'abc' as a number``,
    ``missing value``, ``duplicate key job_id='J1'``, ``completed_at 2024-01-01 is
    before scheduled_start 2024-01-02``.

    Row rules (checks over several columns) are reported once per row, against the
    field they are about, rather than once per column as pandera lists them. A
    value pandera could not coerce is reported once (not again as a wrong dtype),
    and checks that could not run on such a column are not reported.
    Failures that concern the whole frame (a missing column) have ``index`` NaN.

    Parameters
    ----------
    table : str
        The table the validated frame holds.
    error : pandera.errors.SchemaErrors
        The error of ``contract.validate(df, lazy=True)``.

    Returns
    -------
    DataFrame
        Columns ``index`` (label in the validated frame, NaN for frame-level
        failures), ``field``, ``reason`` and ``reason_code`` (a
        :class:`~quantlib.errors.RejectReason` value); one row per distinct failure.
    """
    contract = get_contract(table)
    rule_fields = _row_rule_fields(contract)
    data = getattr(error, "data", None)
    cases = error.failure_cases
    is_rule = cases["check"].astype(str).isin(list(rule_fields))
    is_key = cases["check"].astype(str) == "multiple_fields_uniqueness"
    # Pandera lists a failed row rule or composite key once per column: keep one per row.
    cases = pd.concat([cases[~is_rule & ~is_key],
                       cases[is_rule | is_key].drop_duplicates(["index", "check"])])
    coerce_failed = {
        (case.index, case.column) for case in cases.itertuples(index=False)
        if str(case.check).startswith("coerce_dtype")
    }
    failed_columns = {col for _, col in coerce_failed}
    rows = []
    seen = set()
    for case in cases.itertuples(index=False):
        check = str(case.check)
        value = case.failure_case
        index = case.index if case.index is not None and case.index == case.index else None
        if isinstance(index, float) and index.is_integer():
            index = int(index)  # pandera's failure cases turn labels to float next to NaN
        column = case.column if isinstance(case.column, str) else ""
        if check in rule_fields:
            cols = rule_fields[check]
            if index is None and failed_columns & set(cols):
                continue  # the rule could not run because one of its columns could not be coerced
            field = cols[0]
            reason = check
            # Two columns: "later not before earlier"; one: "required when <status>".
            code = RejectReason.DATE_ORDER if len(cols) == 2 else RejectReason.MISSING_REQUIRED
            if len(cols) == 2 and data is not None and index is not None and index in data.index:
                later, earlier = data.at[index, cols[0]], data.at[index, cols[1]]
                if isinstance(later, pd.Timestamp) and isinstance(earlier, pd.Timestamp):
                    reason = f"{cols[0]} {_fmt(later)} is before {cols[1]} {_fmt(earlier)}"
        elif check == "multiple_fields_uniqueness":
            field = ",".join(contract.key)
            if data is not None and index is not None and index in data.index:
                shown = ", ".join(f"{k}={_fmt(data.at[index, k])}" for k in contract.key)
            else:
                shown = f"{field}={_fmt(value)}"
            reason = f"duplicate key {shown}"
            code = RejectReason.DUPLICATE_KEY
        elif check.startswith("coerce_dtype"):
            field = column
            dtype = check.split("(", 1)[-1].rstrip(")").strip("'\"")
            reason = f"cannot read {_fmt(value)} as {_DTYPE_WORDS.get(dtype, dtype)}"
            code = RejectReason.BAD_DATE if dtype.startswith("datetime") else RejectReason.BAD_TYPE
        elif check.startswith("dtype("):
            if (case.index, case.column) in coerce_failed:
                continue  # already reported as unreadable
            field = column
            dtype = check.split("(", 1)[-1].rstrip(")").strip("'\"")
            reason = f"wrong type: {_fmt(value)} is not {_DTYPE_WORDS.get(dtype, dtype)}"
            code = RejectReason.BAD_DATE if dtype.startswith("datetime") else RejectReason.BAD_TYPE
        elif check == "not_nullable":
            field = column
            reason = "missing value"
            code = RejectReason.MISSING_REQUIRED
        elif check == "column_in_dataframe":
            field = str(value)
            reason = f"missing required column {value!r}"
            code = RejectReason.MISSING_COLUMN
        elif index is None and column in failed_columns:
            continue  # the check could not run because the column could not be coerced
        else:
            field = column
            reason, code = _column_reason(contract.schema.columns.get(column), check, value)
        key = (index, field, reason)
        if key in seen:
            continue
        seen.add(key)
        rows.append({"index": index if index is not None else np.nan, "field": field, "reason": reason,
                     "reason_code": code.value})
    out = pd.DataFrame(rows, columns=["index", "field", "reason", "reason_code"])
    out["index"] = out["index"].astype(object)
    return out
