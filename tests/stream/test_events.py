"""Per-event validation compiled from the data contracts: same rules, ingest's words, microseconds."""

import json

import pandas as pd
import pytest

from quantlib.stream.events import EventValidator, encode_event


@pytest.fixture(scope="module")
def jobs(mixed_company):
    return mixed_company.tables["jobs"]


@pytest.fixture(scope="module")
def validator():
    return EventValidator(["jobs", "telemetry", "payments", "invoices", "interactions"])


def _event(jobs, **changes):
    row = jobs.iloc[0].to_dict()
    event = json.loads(encode_event("jobs", row, row["created_at"]))
    event["data"].update(changes)
    return event


def test_every_generated_row_passes(mixed_company, validator):
    for table in ("jobs", "telemetry", "payments", "invoices", "interactions"):
        rows = mixed_company.tables[table].head(300).to_dict("records")
        checked = [validator.check(encode_event(table, row, pd.Timestamp("2024-01-01"))) for row in rows]
        assert [c.problems for c in checked if not c.ok] == []
        assert checked[0].event_time == pd.Timestamp("2024-01-01")


def test_column_failures_name_the_field_in_ingests_words(jobs, validator):
    event = _event(jobs, labor_hours=30, service_line="pool", revenue="abc")
    del event["data"]["region"]
    problems = {p.field: (p.reason, p.code) for p in validator.check(json.dumps(event)).problems}
    assert problems == {
        "labor_hours": ("must be between 0 and 24 (got 30)", "out_of_range"),
        "service_line": ("'pool' is not one of hvac, plumbing, electrical, landscaping, roofing", "not_allowed"),
        "revenue": ("cannot read 'abc' as a number", "bad_type"),
        "region": ("missing value", "missing_required"),
    }


def test_row_rules_of_the_contract_apply_per_event(jobs, validator):
    event = _event(jobs, completed_at="2001-01-01T00:00:00")
    [problem] = validator.check(event).problems
    assert (problem.field, problem.code) == ("completed_at", "date_order")
    assert "is before scheduled_start" in problem.reason
    event = _event(jobs, status="completed", completed_at=None)
    [problem] = validator.check(event).problems
    assert (problem.field, problem.code) == ("completed_at", "missing_required")


def test_envelope_failures(validator):
    assert validator.check(b"{not json").problems[0].code == "bad_format"
    assert validator.check(b"[1, 2]").problems[0].reason == "an event is a JSON object"
    [problem] = validator.check({"table": "customers", "data": {}}).problems
    assert problem.field == "table" and "'customers' is not one of" in problem.reason
    checked = validator.check({"table": "telemetry", "event_time": "yesterday", "data": {
        "equipment_id": "E1", "ts": "2024-01-01", "vibration": 1.0, "temperature": 20.0, "pressure": 30.0}})
    assert [(p.field, p.code) for p in checked.problems] == [("event_time", "bad_date")]
