"""Fixtures for the scheduler: a throw-away project (notebooks, parameters, specs, reports)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

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


# TEMPORARY stand-in until quantlib.publish.render / quantlib.publish.index land; remove then.
def _install_publish_standin() -> None:
    import importlib
    import json
    import sys
    import types
    from dataclasses import dataclass

    def missing(name: str) -> bool:
        try:
            importlib.import_module(name)
            return False
        except ImportError:
            return True

    @dataclass(frozen=True)
    class ReportMeta:
        title: str
        company: str
        period: str
        run_date: object

    def render_html(executed, out, meta):
        Path(out).write_text(f"<html><h1>{meta.title}</h1>{Path(executed).read_text()[:100]}</html>")
        return Path(out)

    def render_pdf(executed, out, meta):
        Path(out).write_bytes(b"%PDF-1.7\n" + meta.title.encode() + b"\n%%EOF\n")
        return Path(out)

    def write_run_record(run_dir, record):
        (Path(run_dir) / "run.json").write_text(json.dumps(record, default=str))

    def write_index(reports_dir):
        runs = sorted(Path(reports_dir).glob("*/*/*/run.json"))
        out = Path(reports_dir) / "index.html"
        out.write_text("".join(f"<li>{p.parent}</li>" for p in runs))
        return out

    render = types.ModuleType("quantlib.publish.render")
    render.ReportMeta, render.render_html, render.render_pdf = ReportMeta, render_html, render_pdf
    index = types.ModuleType("quantlib.publish.index")
    index.write_run_record, index.write_index = write_run_record, write_index
    if missing("quantlib.publish.render"):
        sys.modules["quantlib.publish.render"] = render
    if missing("quantlib.publish.index"):
        sys.modules["quantlib.publish.index"] = index


_install_publish_standin()
