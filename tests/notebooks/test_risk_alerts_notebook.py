"""The daily risks-and-alerts report: register, level history and the alerts of a real store, read-only."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import nbformat
import pytest

from quantlib.parameters import check_parameters_cell
from quantlib.risk import risk_register
from tests.alerts.helpers import VALUES, FakeClock, check, engine, rule
from tests.conftest import ROOT
from tests.notebooks.helpers import render_clean_html, run_notebook, section_headings

STEM = "risk_alerts"


def test_parameters_cell_mirrors_its_model_and_is_committed_without_outputs():
    path = ROOT / "notebooks" / f"{STEM}.ipynb"
    check_parameters_cell(path)
    code = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    assert code and not any(c.outputs or c.execution_count for c in code)


@pytest.fixture
def store_with_alerts(tmp_path, monkeypatch):
    """A tmp operational store (QUANT_OPS_DB) with one critical open alert and one resolved."""
    # Two hours ago: the report's 30-day window ends at the wall clock.
    clock = FakeClock(datetime.now(timezone.utc) - timedelta(hours=2))
    rules = [rule("nb_cash", category="financial", comparison={"kind": "threshold", "op": "<", "value": 10,
                                                                "level": "critical"}),
             rule("nb_gone", category="customer", comparison={"kind": "threshold", "op": ">", "value": 1,
                                                               "level": "warning"})]
    VALUES.update({"nb_cash": [("company", 3.0)], "nb_gone": [("customer C9", 4.0)]})
    eng = engine(tmp_path, rules, clock)
    check(eng)
    VALUES["nb_gone"] = []
    check(eng)
    monkeypatch.setenv("QUANT_OPS_DB", str(eng.store.path))
    yield eng
    VALUES.pop("nb_cash", None)
    VALUES.pop("nb_gone", None)


def test_report_shows_register_and_open_alerts_without_changing_them(store_with_alerts, demo_lake, tmp_path):
    path = store_with_alerts.store.path
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    executed, outputs = run_notebook(STEM, demo_lake, tmp_path, months=3, history_days=30)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    html = render_clean_html(tmp_path / "run.ipynb", STEM, tmp_path)
    for heading in section_headings(executed):
        assert heading in html
    assert section_headings(executed) == ["Open alerts", "Risk register", "Risk trend", "Alert history"]
    assert "1 open alert: 1 critical." in html
    assert store_with_alerts.alerts(open_only=True)[0]["message"].startswith("CRITICAL Rule nb_cash: company 300.0%")
    assert "Rule nb_cash: company 300.0%" in html and "CRITICAL Rule" not in html   # the level is its own column
    assert "customer C9" not in html.split("Alert history")[0].split("Open alerts")[-1]   # resolved
    register = risk_register(demo_lake, include_expensive=True)
    for label in register["label"]:
        assert label in html
    assert "Risk levels by month" in html and "Alerts in the last 30 days" in html and "Open now" in html


def test_report_without_a_store_says_no_open_alerts(demo_lake, tmp_path, monkeypatch):
    store = tmp_path / "no" / "ops.sqlite"
    monkeypatch.setenv("QUANT_OPS_DB", str(store))
    _, outputs = run_notebook(STEM, demo_lake, tmp_path, months=2)
    texts = [o["data"].get("text/markdown", "") for o in outputs if "data" in o]
    assert "No open alerts." in texts
    assert any("No alert activity in the last 30 days." in t for t in texts)
    assert not store.exists()
