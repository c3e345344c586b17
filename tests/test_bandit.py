"""bandit (``make test`` runs it after ruff) finds nothing outside the reviewed allow-list."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("bandit", path=str(Path(sys.executable).parent)) is None,
                    reason="bandit not installed (the test extra)")
def test_bandit_is_clean_on_quantlib():
    bandit = shutil.which("bandit", path=str(Path(sys.executable).parent))
    proc = subprocess.run([bandit, "-c", "pyproject.toml", "-r", "quantlib", "-q", "-f", "custom",
                           "--msg-template", "{relpath}:{line} {test_id} {msg}"],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
