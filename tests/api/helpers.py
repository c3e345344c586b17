"""A read API on a real uvicorn server (127.0.0.1, a free port), stopped on the way out."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

from tests.apps.helpers import free_port


@contextmanager
def serving(app):
    """Serve ``app``; yield its base URL."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
