"""Background processes that outlive the command that started them, remembered in a state file.

``quant stream up`` starts the local broker and the processors this way (each in its own
session, so its pid is its process group) and ``quant stream down`` stops them: the state file
(JSON, its ``pid`` and whatever the starter records) is the only link between the two commands.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path


def alive(pid: int) -> bool:
    """Whether a process with this pid exists (a zombie counts until reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running(path: Path) -> dict | None:
    """The state recorded at ``path`` if its process still runs (a stale file is removed)."""
    if not path.is_file():
        return None
    state = json.loads(path.read_text(encoding="utf-8"))
    if not alive(int(state["pid"])):
        path.unlink(missing_ok=True)
        return None
    return state


def remember(path: Path, pid: int, **info) -> dict:
    """Record a started process: its pid, when, and ``info``."""
    state = {"pid": pid, **info, "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(state, indent=1), encoding="utf-8")
    return state


def stop(path: Path, timeout: float) -> dict | None:
    """SIGTERM the process recorded at ``path``, SIGKILL its group after ``timeout``; None when none runs."""
    state = running(path)
    if state is None:
        return None
    pid = int(state["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
        try:
            os.waitpid(pid, os.WNOHANG)  # reap it when this process started it (tests)
        except ChildProcessError:
            pass
    if alive(pid):
        os.killpg(pid, signal.SIGKILL)
    path.unlink(missing_ok=True)
    return state
