"""What every browser test of an app needs: Debian's chromium, a free port, a folder with one app,
Voila serving it and a Chromium page."""

from __future__ import annotations

import os
import shutil
import socket
from contextlib import contextmanager

import pytest

from quantlib.cli.apps import apps_dir, start_voila

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

#: Skips a test where Debian's chromium is not installed.
needs_chromium = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium")


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


@contextmanager
def serve_app(notebook: str, lake, tmp_path, env: dict | None = None):
    """Voila serving only ``notebook`` (:func:`single_app_root`) for mixed_trades on ``lake``, the way
    ``quant apps`` serves it; stopped on the way out.

    Yields the server at once: the test may compute its expected figures while Voila heats its
    kernel (:func:`browser_page` waits for it).
    """
    root = single_app_root(notebook, tmp_path)
    server = start_voila(free_port(), company="mixed_trades", lake=lake.root, env=env, root=root)
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def browser_page(playwright_api, server, height: int = 1000, **options):
    """A new page (1440 pixels wide, ``height`` high; ``options`` go to ``new_page``) of a Chromium
    that starts while Voila heats its kernel, once ``server`` is ready: one wait instead of two.

    ``playwright_api`` is ``playwright.sync_api`` (the test imports it, or is skipped without it).
    """
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            server.wait_ready(timeout=120)
            yield browser.new_page(viewport={"width": 1440, "height": height}, **options)
        finally:
            browser.close()
