"""What every browser test of an app needs: Debian's chromium, a free port, a folder with one app."""

from __future__ import annotations

import shutil
import socket

from quantlib.cli.apps import apps_dir

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def single_app_root(notebook: str, tmp_path):
    """A folder holding only ``notebooks/apps/<notebook>``, for ``start_voila(root=...)``.

    Voila preheats a kernel for every notebook it serves; the other apps' kernels would only
    compete for the CPU in a test of one app.
    """
    root = tmp_path / "apps"
    root.mkdir()
    shutil.copy(apps_dir() / notebook, root / notebook)
    return root
