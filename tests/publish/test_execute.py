"""execute_notebook with a real kernel: the project's Python, safe injection, one-line errors."""

from __future__ import annotations

import json
import sys

import nbformat
import pytest

from quantlib.config import project_root
from quantlib.parameters import validate_parameters
from quantlib.publish.execute import ExecutionResult, NotebookExecutionError, NotebookTimeoutError, execute_notebook
from tests.publish.conftest import make_notebook

HOSTILE = "x'); import os; os.system('touch PWNED') #"
TRICKY = HOSTILE + ' "\\" \\n\n\ttab ünï'


def _stdout(nb_path, cell):
    nb = nbformat.read(nb_path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    return "".join(o.get("text", "") for o in code[cell].outputs if o.output_type == "stream")


def test_kernel_is_the_project_python_and_strings_arrive_verbatim(tmp_path, monkeypatch):
    monkeypatch.delenv("PYTENSOR_FLAGS", raising=False)
    nb = make_notebook(
        tmp_path / "probe.ipynb",
        "import json, os, sys\n"
        "print(json.dumps({'prefix': sys.prefix, 'label': label, 'n': n, 'cwd': os.getcwd(),"
        " 'pytensor': os.environ.get('PYTENSOR_FLAGS')}))",
        parameters='company = "mixed_trades"\nlabel = "plain"\nn = 1',
    )
    values = validate_parameters(nb, {"company": "mixed_trades", "label": TRICKY, "n": 3})
    result = execute_notebook(nb, tmp_path / "out" / "probe.ipynb", values, cwd=tmp_path)
    assert isinstance(result, ExecutionResult) and result.output.exists() and result.seconds > 0
    seen = json.loads(_stdout(result.output, 2).strip())  # cell 0 parameters, 1 injected, 2 probe
    assert seen["prefix"] == sys.prefix  # python3 resolves to this venv's interpreter
    assert seen["label"] == TRICKY and seen["n"] == 3
    assert seen["cwd"] == str(tmp_path)
    assert seen["pytensor"] == f"base_compiledir={project_root() / '.cache' / 'pytensor'}"
    assert not list(tmp_path.rglob("PWNED")) and not (project_root() / "PWNED").exists()


def test_failing_cell_is_one_clear_line_and_output_is_kept(tmp_path):
    nb = make_notebook(
        tmp_path / "monthly_business_review.ipynb",
        "import pandas as pd",
        "def load(frame, key):\n    return frame[key]",
        "frame = pd.DataFrame({'a': [1]})\n# the next line fails\nrevenue = load(frame, 'x')\nprint('never')",
        parameters='company = "mixed_trades"',
    )
    out = tmp_path / "run" / "notebook.ipynb"
    with pytest.raises(NotebookExecutionError) as err:
        execute_notebook(nb, out, {"company": "mixed_trades"})
    e = err.value
    assert str(e) == ("monthly_business_review.ipynb: cell 4, line 3 (revenue = load(frame, 'x')) "
                      "raised KeyError: 'x'")
    assert (e.cell_index, e.line_number, e.ename) == (3, 3, "KeyError")
    assert "\n" not in str(e) and "Traceback" not in str(e)
    assert e.output == out and out.exists()  # the evidence is written on failure too
    assert not isinstance(e, NotebookTimeoutError)


def test_syntax_error_points_at_the_cell(tmp_path):
    nb = make_notebook(tmp_path / "syn.ipynb", "x = 1\ny = (", parameters="n = 1")
    with pytest.raises(NotebookExecutionError) as err:
        execute_notebook(nb, tmp_path / "o.ipynb")
    assert str(err.value).startswith("syn.ipynb: cell 2")
    assert err.value.ename == "SyntaxError"


def test_execution_timeout_names_the_cell(tmp_path):
    nb = make_notebook(tmp_path / "slow.ipynb", "x = 1", "import time\ntime.sleep(60)", parameters="n = 1")
    with pytest.raises(NotebookTimeoutError) as err:
        execute_notebook(nb, tmp_path / "o.ipynb", execution_timeout=2)
    e = err.value
    assert (e.cell_index, e.line_number, e.source_line) == (2, 2, "time.sleep(60)")
    assert str(e) == "slow.ipynb: cell 3, line 2 (time.sleep(60)) timed out after 2 s"
    assert (tmp_path / "o.ipynb").exists()


def test_start_timeout(tmp_path, monkeypatch):
    # A real kernelspec whose "kernel" never answers: the start timeout must fire.
    spec = tmp_path / "jupyter" / "kernels" / "mute"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({"argv": ["sleep", "30"], "display_name": "mute",
                                                  "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    nb = make_notebook(tmp_path / "any.ipynb", "x = 1")
    with pytest.raises(NotebookTimeoutError) as err:
        execute_notebook(nb, tmp_path / "o.ipynb", start_timeout=2, kernel_name="mute")
    assert err.value.cell_index is None
    assert str(err.value).startswith("any.ipynb: kernel did not start within 2 s")


def test_dead_kernel_names_the_cell(tmp_path):
    nb = make_notebook(tmp_path / "crash.ipynb", "x = 1", "import os\nos._exit(1)")
    with pytest.raises(NotebookExecutionError) as err:
        execute_notebook(nb, tmp_path / "o.ipynb")
    assert err.value.cell_index == 1 and err.value.ename == "DeadKernelError"
    assert str(err.value).startswith("crash.ipynb: cell 2 (import os) raised DeadKernelError")


def test_kernel_output_cannot_be_read_by_another_local_user(tmp_path):
    """The kernel's output socket listens on 127.0.0.1, where any local user can connect: without
    the kernel's public key a subscriber reads nothing, with it the same subscriber reads every
    message (so the probe does see traffic when it may)."""
    import threading
    import time

    import zmq

    probe = tmp_path / "probe.json"
    nb = make_notebook(
        tmp_path / "chatty.ipynb",
        "import json\nfrom ipykernel import get_connection_info\ninfo = get_connection_info(unpack=True)\n"
        f"open({str(probe)!r}, 'w').write(json.dumps({{k: info.get(k) for k in "
        "('transport', 'ip', 'iopub_port', 'curve_publickey')}))",
        "import time\nfor i in range(60):\n    print('figure', i, flush=True)\n    time.sleep(0.1)",
    )
    failures = []
    run = threading.Thread(target=lambda: _record_failure(failures, execute_notebook, nb, tmp_path / "o.ipynb"))
    run.start()
    try:
        deadline = time.monotonic() + 90
        while not probe.exists() or not probe.read_text():
            assert time.monotonic() < deadline and run.is_alive(), failures
            time.sleep(0.02)
        info = json.loads(probe.read_text())
        assert info["transport"] == "tcp" and info["curve_publickey"]
        url = f"tcp://{info['ip']}:{info['iopub_port']}"
        context = zmq.Context()
        try:
            plain, keyed = context.socket(zmq.SUB), context.socket(zmq.SUB)
            keyed.curve_publickey, keyed.curve_secretkey = zmq.curve_keypair()
            keyed.curve_serverkey = info["curve_publickey"].encode()
            received = {plain: 0, keyed: 0}
            poller = zmq.Poller()
            for sock in received:
                sock.linger = 0
                sock.setsockopt(zmq.SUBSCRIBE, b"")
                sock.connect(url)
                poller.register(sock, zmq.POLLIN)
            until = time.monotonic() + 3
            while time.monotonic() < until:
                for sock, _ in poller.poll(100):
                    sock.recv_multipart()
                    received[sock] += 1
        finally:
            context.destroy(linger=0)
    finally:
        run.join(120)
    assert not failures
    assert received[keyed] > 0 and received[plain] == 0, received


def _record_failure(failures, function, *args):
    try:
        function(*args)
    except Exception as exc:  # the test thread reports it
        failures.append(exc)
