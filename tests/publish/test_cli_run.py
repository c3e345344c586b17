"""``quant run`` and ``quant lab`` end to end (real kernels, real renderers, a real server)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

import quantlib.cli.run as run_module  # noqa: F401  (registers the commands)
from quantlib.cli.app import app
from quantlib.cli.run import KERNEL_DISPLAY_NAME, KERNEL_NAME, register_kernel
from quantlib.config import project_root
from quantlib.publish.execute import execute_notebook
from tests.publish.conftest import FIXTURE_NB, make_notebook

runner = CliRunner()


def test_invalid_parameters_exit_2_before_any_kernel(tmp_path):
    out = tmp_path / "run" / "notebook.ipynb"
    t0 = time.perf_counter()
    result = runner.invoke(app, ["run", str(FIXTURE_NB), "-p", "company=acme", "-p", "months=many",
                                 "-p", "colour=red", "--out", str(out)])
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.output.splitlines() if ln.startswith("error: ")]
    assert len(lines) == 3, result.output
    assert "error: company: unknown company 'acme'; known: mixed_trades, seasonal_outdoor" in lines
    assert "error: colour: unknown parameter" in lines
    assert any(ln.startswith("error: months: Input should be a valid integer") for ln in lines)
    assert not out.parent.exists()  # nothing executed, nothing written
    assert time.perf_counter() - t0 < 3  # a kernel start alone takes longer than this


def test_missing_notebook_exit_2(tmp_path):
    result = runner.invoke(app, ["run", str(tmp_path / "nope.ipynb")])
    assert result.exit_code == 2 and "no such notebook" in result.output


def test_run_with_files_and_pairs_renders_html_and_pdf(tmp_path):
    params = tmp_path / "p.yaml"
    params.write_text("company: seasonal_outdoor\nmonths: 4\nregion: South\n")
    out = tmp_path / "run1" / "notebook.ipynb"
    result = runner.invoke(app, ["run", str(FIXTURE_NB), "-f", str(params), "-p", "region=2024",
                                 "-p", "as_of=2024-12-31", "--out", str(out), "--html", "--pdf"])
    assert result.exit_code == 0, result.output
    run_dir = out.parent
    assert {p.name for p in run_dir.iterdir()} >= {"notebook.ipynb", "report.html", "report.pdf", "run.json"}
    record = json.loads((run_dir / "run.json").read_text())
    # -p wins over -f; a string field stays a string; a date is typed then stored as ISO.
    assert record["parameters"] == {"company": "seasonal_outdoor", "lake": "data/demo/seasonal_outdoor/lake",
                                    "as_of": "2024-12-31", "months": 4, "region": "2024"}
    assert record["status"] == "success" and record["outputs"]["pdf"] == "report.pdf"
    html = (run_dir / "report.html").read_text()
    assert '<span class="period">December 2024</span>' in html and "Fixture review" in html  # the month covered
    assert "Report for seasonal_outdoor, 4 months, region 2024." in html


def test_failing_cell_exits_1_with_one_line(tmp_path):
    nb = make_notebook(tmp_path / "broken.ipynb", "x = 1", "y = {}['k']", parameters='company = "mixed_trades"')
    out = tmp_path / "run2" / "notebook.ipynb"
    result = runner.invoke(app, ["run", str(nb), "-p", "company=mixed_trades", "--out", str(out), "--html"])
    assert result.exit_code == 1
    assert "broken.ipynb: cell 3, line 1 (y = {}['k']) raised KeyError: 'k'" in result.output
    assert "Traceback" not in result.output
    record = json.loads((out.parent / "run.json").read_text())
    assert record["status"] == "failed" and out.exists() and not (out.parent / "report.html").exists()


def test_quant_kernel_points_at_the_venv_python(tmp_path, monkeypatch):
    spec_dir = register_kernel(prefix=tmp_path)
    spec = json.loads((spec_dir / "kernel.json").read_text())
    assert spec_dir.name == KERNEL_NAME and spec["display_name"] == KERNEL_DISPLAY_NAME
    assert spec["argv"][0] == sys.executable and Path(sys.executable).is_relative_to(sys.prefix)
    assert "PYTENSOR_FLAGS" in spec["env"]
    # And a notebook run on that kernel really runs in this environment.
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "share" / "jupyter"))
    nb = make_notebook(tmp_path / "probe.ipynb", "import sys; print(sys.prefix)")
    result = execute_notebook(nb, tmp_path / "o.ipynb", kernel_name=KERNEL_NAME)
    import nbformat
    printed = nbformat.read(result.output, as_version=4).cells[0].outputs[0].text.strip()
    assert printed == sys.prefix


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_quant_lab_starts_and_answers(tmp_path):
    port, token = _free_port(), "quant-test-token"
    env = {**os.environ, "JUPYTER_TOKEN": token, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "JUPYTER_CONFIG_DIR": str(tmp_path / "config")}
    cmd = [sys.executable, "-c", "import quantlib.cli.run; from quantlib.cli.app import app; app()",
           "lab", "--port", str(port), "--no-browser"]
    proc = subprocess.Popen(cmd, cwd=project_root(), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline, status = time.monotonic() + 60, None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2) as r:
                    status = json.loads(r.read())
                    break
            except OSError:
                time.sleep(0.5)
        assert status is not None, proc.stdout.read1().decode() if proc.poll() is not None else "no answer"
        assert "started" in status
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/kernelspecs?token={token}", timeout=5) as r:
            specs = json.loads(r.read())
        assert KERNEL_NAME in specs["kernelspecs"] and specs["default"] == KERNEL_NAME
    finally:
        proc.terminate()  # the process we started (lab exec'd into it), by its handle
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_run_refuses_a_company_that_is_not_a_slug(tmp_path):
    result = runner.invoke(app, ["run", str(FIXTURE_NB), "-p", "company=../reports/x"])
    assert result.exit_code == 2, result.output
    assert "error: company: '../reports/x' is not a company slug" in result.output
    assert not (project_root() / "reports" / "x").exists()


def test_run_checks_a_lake_from_a_file_but_not_one_typed_by_the_user(tmp_path, monkeypatch):
    monkeypatch.delenv("QUANT_DATA_ROOTS", raising=False)
    params = tmp_path / "p.yaml"
    params.write_text(f"company: mixed_trades\nlake: {tmp_path}\n")
    result = runner.invoke(app, ["run", str(FIXTURE_NB), "-f", str(params)])
    assert result.exit_code == 2, result.output
    errors = [ln for ln in result.output.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1 and errors[0].startswith("error: lake: ") and "QUANT_DATA_ROOTS" in errors[0]
    # The same folder typed on the command line is the user's own data: only the bad month fails.
    result = runner.invoke(app, ["run", str(FIXTURE_NB), "-f", str(params), "-p", f"lake={tmp_path}",
                                 "-p", "months=many"])
    assert result.exit_code == 2
    errors = [ln for ln in result.output.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1 and errors[0].startswith("error: months:"), result.output
