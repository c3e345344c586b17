"""Job specs: the product's schedules, cron rules, and what a spec may not say."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from quantlib.schedule.specs import JobSpec, Retries, SpecError, load_spec, load_specs

ROOT = Path(__file__).resolve().parents[2]

BASE = {
    "name": "x",
    "title": "X",
    "notebook": "notebooks/x.ipynb",
    "parameters": "parameters/reports/mixed_trades.yaml",
    "cron": "0 8 * * 1",
}


def spec(**kw) -> JobSpec:
    return JobSpec.model_validate(BASE | kw)


def test_product_schedules():
    specs = load_specs(ROOT / "scheduled")
    assert set(specs) == {"monthly_business_review", "weekly_operations", "operations_efficiency",
                          "sales_performance", "financial_summary", "revenue_forecast", "cashflow_forecast",
                          "demand_forecast", "churn_risk", "customer_segments", "customer_value",
                          "dispatch_plan", "workforce_plan", "risk_alerts", "capital_allocation",
                          "profitability", "pricing", "maintenance"}
    for s in specs.values():
        assert (ROOT / "notebooks").name == s.notebook.parts[0]
        assert s.notebook.name == f"{s.name}.ipynb"
        for p in s.parameters:
            assert (ROOT / p).is_file(), p
            assert yaml.safe_load((ROOT / p).read_text())["company"] == p.stem
    after = datetime(2026, 11, 27, 12, 0)  # a Friday
    mbr = specs["monthly_business_review"]
    assert mbr.next_runs(after, 2) == [datetime(2026, 12, 7, 7, tzinfo=ZoneInfo("UTC")),
                                       datetime(2027, 1, 4, 7, tzinfo=ZoneInfo("UTC"))]
    assert all(d.weekday() == 0 for d in mbr.next_runs(after, 24))
    assert all(d.day <= 7 for d in mbr.next_runs(after, 24))
    assert specs["weekly_operations"].next_run(after) == datetime(2026, 11, 30, 8, tzinfo=ZoneInfo("UTC"))
    # Dispatch plans every working day but Sunday, before the vans leave.
    assert specs["dispatch_plan"].next_runs(after, 2) == [datetime(2026, 11, 28, 5, 30, tzinfo=ZoneInfo("UTC")),
                                                          datetime(2026, 11, 30, 5, 30, tzinfo=ZoneInfo("UTC"))]
    assert specs["operations_efficiency"].next_run(after) == datetime(2026, 11, 28, 6, tzinfo=ZoneInfo("UTC"))
    for name in ("sales_performance", "financial_summary"):
        assert specs[name].next_run(after).weekday() == 0
    # Risks and alerts every day, weekends included.
    assert specs["risk_alerts"].next_runs(after, 2) == [datetime(2026, 11, 28, 6, 30, tzinfo=ZoneInfo("UTC")),
                                                        datetime(2026, 11, 29, 6, 30, tzinfo=ZoneInfo("UTC"))]


def test_day_of_month_and_weekday_must_say_and_or_or():
    with pytest.raises(ValueError, match="EITHER"):
        spec(cron="0 7 1-7 * 1")
    first_monday = spec(cron="0 7 1-7 * 1", day_match="and")
    assert first_monday.next_runs(datetime(2026, 11, 27), 2) == spec(cron="0 7 * * 1#1").next_runs(
        datetime(2026, 11, 27), 2)
    # "or" keeps cron's own reading: days 1-7 and every Monday.
    either = spec(cron="0 7 1-7 * 1", day_match="or").next_runs(datetime(2026, 11, 27), 3)
    assert [d.day for d in either] == [30, 1, 2]


def test_previous_run_includes_now_and_timezone():
    s = spec(cron="0 6 * * *", timezone="America/Chicago")
    now = datetime(2026, 11, 27, 6, 0, tzinfo=ZoneInfo("America/Chicago"))
    assert s.previous_run(now) == now
    # 11:59 UTC is 05:59 in Chicago: the slot is still yesterday's.
    assert s.previous_run(datetime(2026, 11, 27, 11, 59, tzinfo=ZoneInfo("UTC"))).day == 26


@pytest.mark.parametrize("change, message", [
    ({"cron": "61 * * * *"}, "not a valid"),
    ({"cron": "0 7 * *"}, "not a valid"),
    ({"notebook": "elsewhere/x.ipynb"}, "under notebooks/"),
    ({"notebook": "notebooks/x.py"}, ".ipynb"),
    ({"outputs": ["html", "docx"]}, "outputs"),
    ({"outputs": []}, "at least one output"),
    ({"recipients": {"slack_webhook_env": "https://hooks.slack.com/services/T/B/X"}}, "NAME of an environment"),
    ({"recipients": {"emails": ["not-an-address"]}}, "not an e-mail"),
    ({"retries": {"count": -1}}, "retries.count"),
    ({"timeout": 0}, "timeout"),
    ({"timezone": "Mars/Olympus"}, "unknown time zone"),
    ({"name": "Has Spaces"}, "lower-case"),
    ({"parameters": []}, "at least one parameter"),
    ({"surprise": 1}, "unknown key"),
])
def test_invalid_specs(tmp_path, change, message):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(BASE | change))
    with pytest.raises(SpecError, match=message) as info:
        load_spec(path)
    assert str(path) in str(info.value)


def test_parameters_one_or_many_and_defaults():
    one = spec()
    assert one.parameters == [Path("parameters/reports/mixed_trades.yaml")]
    assert one.outputs == ["html", "pdf"] and one.retries == Retries() and one.recipients.emails == []
    many = spec(parameters=["parameters/reports/a.yaml", "parameters/reports/b.yaml"])
    assert many.companies == ["a", "b"]


def test_retry_backoff():
    assert [Retries(count=3, backoff=10, jitter=0).delay(a) for a in (1, 2, 3)] == [10, 20, 40]
    assert [Retries(count=3, backoff=10, exponential=False, jitter=0).delay(a) for a in (1, 2, 3)] == [10, 10, 10]


def test_load_specs_reports_every_problem_and_duplicates(tmp_path):
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(BASE))
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(BASE))
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(BASE | {"name": "c", "cron": "nope"}))
    (tmp_path / "d.yaml").write_text("- just a list\n")
    with pytest.raises(SpecError) as info:
        load_specs(tmp_path)
    text = str(info.value)
    assert "b.yaml: job name 'x'" in text and "c.yaml" in text and "d.yaml: a job spec is a YAML mapping" in text


def test_product_parameter_files_validate_against_their_notebooks():
    """Every scheduled job's parameter files pass its notebook's model (no kernel started)."""
    from quantlib.parameters import load_parameter_file, validate_parameters

    checked = 0
    for s in load_specs(ROOT / "scheduled").values():
        notebook = ROOT / s.notebook
        if not notebook.is_file():  # the notebooks are written separately; check those present
            continue
        for p in s.parameters:
            values = validate_parameters(notebook, load_parameter_file(ROOT / p))
            assert values["company"] == p.stem
            checked += 1
    if checked == 0:
        pytest.skip("no product notebooks yet")
