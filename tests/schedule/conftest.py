"""Fixtures for the scheduler: a throw-away project (notebooks, parameters, specs, reports)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from quantlib.schedule.history import PostgresRunHistory, RunHistory
from quantlib.schedule.runner import Workspace
from quantlib.schedule.specs import load_spec

HERE = Path(__file__).resolve().parent
COMPANIES = ("alpha", "beta", "gamma")


@pytest.fixture
def project(tmp_path, monkeypatch) -> Workspace:
    """A project root with the test notebook, three companies and an empty reports folder.

    ``QUANT_HOME`` points at it so parameter validation finds its company profiles (worker
    processes started later inherit it).
    """
    root = tmp_path / "project"
    (root / "notebooks").mkdir(parents=True)
    shutil.copy(HERE / "notebooks" / "report.ipynb", root / "notebooks" / "report.ipynb")
    for company in COMPANIES:
        profile = root / "parameters" / "companies" / f"{company}.yaml"
        profile.parent.mkdir(parents=True, exist_ok=True)
        profile.write_text(f"name: {company.title()} Services\nslug: {company}\n")
        params = root / "parameters" / "reports" / f"{company}.yaml"
        params.parent.mkdir(parents=True, exist_ok=True)
        params.write_text(f"company: {company}\n")
    (root / "scheduled").mkdir()
    monkeypatch.setenv("QUANT_HOME", str(root))
    for name in ("QUANT_SMTP_HOST", "QUANT_SMTP_PASSWORD", "QUANT_REPORTS_URL"):
        monkeypatch.delenv(name, raising=False)
    return Workspace.at(root)


def write_params(ws: Workspace, name: str, **values) -> Path:
    """A parameter file under parameters/reports/ (returned relative to the root)."""
    path = Path("parameters") / "reports" / f"{name}.yaml"
    (ws.root / path).write_text(yaml.safe_dump(values))
    return path


def write_spec(ws: Workspace, name: str = "test_report", **overrides):
    """A job spec under scheduled/, loaded back through the real loader."""
    spec = {
        "name": name,
        "title": "Test report",
        "notebook": "notebooks/report.ipynb",
        "parameters": ["parameters/reports/alpha.yaml"],
        "cron": "0 6 * * *",
        "outputs": ["html", "pdf", "ipynb"],
        "retries": {"count": 0, "backoff": 0},
        "timeout": 120,
    }
    spec.update(overrides)
    path = ws.specs / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return load_spec(path)



@pytest.fixture(params=["sqlite", "postgresql"])
def new_history(request, tmp_path):
    """Opens the run history at one fresh place, on each backend: ``new_history()``.

    Every call opens the same SQLite file or PostgreSQL database (on the session's real
    server, ``postgres_dsn`` in tests/conftest.py) again.
    """
    if request.param == "sqlite":
        path = tmp_path / "h.sqlite"
        return lambda: RunHistory(path)
    dsn = request.getfixturevalue("postgres_dsn")
    return lambda: PostgresRunHistory(dsn)


def write_sql(history: RunHistory, sql: str, *params) -> None:
    """Run one statement in the history's own dialect (``?`` placeholders) and commit: for tests
    that age a heartbeat or plant a dead process id, as a crash would leave them."""
    with history._writing() as con:
        con.execute(sql, params)
