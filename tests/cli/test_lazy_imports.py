"""``quant --help`` and argument errors import no engine (pandas, pandera, duckdb, ...).

Measured by the modules a fresh interpreter imports (``-X importtime``), not by wall time,
which depends on the machine.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from quantlib.config import project_root

HEAVY = {"pandas", "pandera", "duckdb", "sklearn", "numpy", "pyarrow", "altair", "scipy", "pymc",
         "papermill", "nbconvert", "nbformat", "jsonschema", "jupyter_client"}


def imported_modules(*args: str) -> tuple[set[str], subprocess.CompletedProcess]:
    """Top-level packages a fresh ``python -m quantlib.cli ARGS`` imports, and the process."""
    env = dict(os.environ, PYTHONPATH=str(project_root()), COLUMNS="100")
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "quantlib.cli", *args],
                          capture_output=True, text=True, env=env, timeout=60)
    names = {line.rsplit("|", 1)[1].strip().split(".")[0]
             for line in done.stderr.splitlines() if line.startswith("import time:") and "|" in line}
    return names, done


@pytest.mark.parametrize("args", [
    ("--help",),
    ("schedule", "--help"),
    ("kpi", "--help"),
    ("alerts", "check", "--help"),
    ("warehouse", "build", "--help"),
    ("ingest", "--help"),
    ("kpi", "--no-such-option"),
    ("run",),                       # missing argument
])
def test_help_and_usage_errors_import_no_engine(args):
    names, done = imported_modules(*args)
    assert "quantlib" in names, done.stderr[-2000:]
    assert done.returncode in (0, 2), done.stderr[-2000:]
    assert not names & HEAVY, f"quant {' '.join(args)} imported {sorted(names & HEAVY)}"


def test_importing_the_cli_package_stays_light():
    code = (f"import sys, quantlib.cli; heavy = {sorted(HEAVY)!r}; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, PYTHONPATH=str(project_root())))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
