"""Run a notebook with papermill and turn failures into one readable line.

The executed notebook is always written, also when a cell fails or times out: it is the
run's evidence. Errors carry where it broke (cell, line, the line's source) and what was
raised, so a scheduler's alert or a CLI user reads one line instead of a traceback.
"""

from __future__ import annotations

import math
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from quantlib.config import project_root
from quantlib.errors import QuantError
from quantlib.publish.secrets import KERNEL_TRANSPORT_CONFIG, without_secrets

__all__ = ["ExecutionResult", "NotebookExecutionError", "NotebookTimeoutError", "execute_notebook"]

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_ARROW = re.compile(r"^-+>\s*(\d+)", re.MULTILINE)
_CELL_LINE = re.compile(r"^Cell In\s*\[\d*\],\s*line (\d+)", re.MULTILINE)
#: Cells papermill adds: not part of the notebook the author wrote and counts cells in.
_ADDED_TAGS = {"injected-parameters", "papermill-error-cell-tag"}


@dataclass(frozen=True)
class ExecutionResult:
    """A successful run: where from, where to, with what, how long."""

    notebook: Path
    output: Path
    parameters: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


class NotebookExecutionError(QuantError, RuntimeError):
    """A cell raised. ``str()`` is one line: ``nb.ipynb: cell 7, line 3 (src) raised KeyError: 'x'``.

    Attributes
    ----------
    notebook, output : Path
        The source notebook and the executed (partial) notebook kept as evidence.
    cell_index : int or None
        0-based index of the failing cell in the *source* notebook (the message counts
        from 1, as a reader does).
    line_number : int or None
        1-based line in that cell, from the IPython traceback's ``---->`` marker.
    source_line : str
        That line's code, stripped.
    ename, evalue : str
        Exception class name and message.
    """

    def __init__(self, notebook: Path, output: Path, cell_index: int | None, line_number: int | None,
                 source_line: str, ename: str, evalue: str):
        self.notebook, self.output = Path(notebook), Path(output)
        self.cell_index, self.line_number, self.source_line = cell_index, line_number, source_line
        self.ename, self.evalue = ename, evalue
        super().__init__(self._message())

    def _message(self) -> str:
        where = [] if self.cell_index is None else [f"cell {self.cell_index + 1}"]
        if self.line_number is not None:
            where.append(f"line {self.line_number}")
        loc = ", ".join(where) or "unknown cell"
        src = f" ({self.source_line})" if self.source_line else ""
        # Keep it to one line whatever the exception message holds.
        evalue = " ".join(str(self.evalue).split())
        return f"{self.notebook.name}: {loc}{src} raised {self.ename}" + (f": {evalue}" if evalue else "")

    def __reduce__(self):  # picklable across process pools (the scheduler may use Dask)
        return (type(self), (self.notebook, self.output, self.cell_index, self.line_number,
                             self.source_line, self.ename, self.evalue))


class NotebookTimeoutError(NotebookExecutionError, TimeoutError):
    """The kernel did not start in time, or a cell ran past the execution timeout."""

    def __init__(self, notebook: Path, output: Path, cell_index: int | None, line_number: int | None,
                 source_line: str, ename: str, evalue: str):
        super().__init__(notebook, output, cell_index, line_number, source_line, ename, evalue)

    def _message(self) -> str:
        if self.cell_index is None:
            return f"{self.notebook.name}: {self.evalue}"
        line = f", line {self.line_number}" if self.line_number is not None else ""
        src = f" ({self.source_line})" if self.source_line else ""
        return f"{self.notebook.name}: cell {self.cell_index + 1}{line}{src} {self.evalue}"


def _source_index(cells: list, index: int) -> int:
    """Map an index among executed cells to the index in the author's notebook."""
    return sum(1 for c in cells[:index] if not _ADDED_TAGS & set(c.get("metadata", {}).get("tags", [])))


def _executed_cells(output: Path) -> list:
    try:
        nb = nbformat.read(output, as_version=4)
    except (OSError, ValueError):
        return []
    # papermill prepends an error banner and an anchor cell on failure; drop them so
    # papermill's cell_index (computed before it inserted them) lines up again.
    return [c for c in nb.cells if "papermill-error-cell-tag" not in c.get("metadata", {}).get("tags", [])]


def _line_of(traceback: list[str], exec_count: int | None) -> int | None:
    text = _ANSI.sub("", "\n".join(traceback or []))
    # With chained exceptions ("During handling ...", "direct cause ...") the last section
    # is the one that reached the cell; in it, the frame headed "Cell In[<count>], line N"
    # is the failing cell itself (other "Cell In" frames are functions from earlier cells).
    section = text.rsplit("Traceback (most recent call last)", 1)[-1]
    if exec_count is not None:
        own = re.findall(rf"^Cell In\s*\[{exec_count}\],\s*line (\d+)", section, re.MULTILINE)
        if own:
            return int(own[0])
    match = _CELL_LINE.search(section) or _ARROW.search(section)
    return int(match.group(1)) if match else None


def _first_code_line(source: str) -> str:
    lines = [ln.strip() for ln in source.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    return lines[0] if lines else ""


def _execution_error(exc, notebook: Path, output: Path) -> NotebookExecutionError:
    cells = _executed_cells(output)
    line = _line_of(exc.traceback, exc.exec_count)
    lines = (exc.source or "").splitlines()
    source_line = lines[line - 1].strip() if line and 0 < line <= len(lines) else ""
    index = _source_index(cells, exc.cell_index) if cells else exc.cell_index
    return NotebookExecutionError(notebook, output, index, line, source_line, exc.ename, exc.evalue)


def _running_cell(output: Path) -> tuple[int | None, int | None, str]:
    """(source index, line, source line) of the cell that was running when execution stopped."""
    cells = _executed_cells(output)
    # The last cell papermill started (later ones stay "pending"); nbclient interrupts a
    # timed-out cell, so its KeyboardInterrupt traceback tells the line too.
    started = [i for i, c in enumerate(cells)
               if c.get("metadata", {}).get("papermill", {}).get("status", "pending") != "pending"]
    if not started:
        return None, None, ""
    i = started[-1]
    cell = cells[i]
    errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    line = _line_of(errors[0].get("traceback", []), cell.get("execution_count")) if errors else None
    lines = cell.source.splitlines()
    source_line = lines[line - 1].strip() if line and 0 < line <= len(lines) else _first_code_line(cell.source)
    return _source_index(cells, i), line, source_line


def _timeout_error(exc: BaseException, notebook: Path, output: Path, started: bool,
                   timeout: float) -> NotebookTimeoutError:
    if not started:
        return NotebookTimeoutError(notebook, output, None, None, "", type(exc).__name__,
                                    f"kernel did not start within {timeout:g} s ({exc})")
    index, line, source_line = _running_cell(output)
    return NotebookTimeoutError(notebook, output, index, line, source_line, type(exc).__name__,
                                f"timed out after {timeout:g} s")


def execute_notebook(notebook: Path, output: Path, parameters: dict | None = None, *,
                     start_timeout: float = 60, execution_timeout: float = 900,
                     cwd: Path | None = None, kernel_name: str = "python3",
                     deadline: float | None = None) -> ExecutionResult:
    """Execute ``notebook`` into ``output`` with papermill.

    Parameters
    ----------
    notebook, output : Path
        Source notebook and where the executed copy goes (parents are created). The
        output is written whatever happens.
    parameters : dict, optional
        Injected after the ``parameters`` cell; validate them first
        (:func:`quantlib.parameters.validate_parameters`).
    start_timeout : float
        Seconds for the kernel to start and answer.
    execution_timeout : float
        Seconds allowed per cell.
    cwd : Path, optional
        Working directory of the kernel (default: the current one).
    kernel_name : str
        Kernel spec; ``python3`` resolves to the interpreter running this function, i.e.
        the project's environment, whatever kernel the notebook was saved with.
    deadline : float, optional
        A :func:`time.monotonic` time by which the whole notebook must be done: each cell
        gets at most the time left (and at most ``execution_timeout``).

    Returns
    -------
    ExecutionResult

    Raises
    ------
    NotebookExecutionError
        A cell raised (one-line message; the output notebook holds the traceback).
    NotebookTimeoutError
        The kernel did not start in time or a cell exceeded ``execution_timeout``.

    Notes
    -----
    The kernel starts without the secret environment variables
    (:func:`quantlib.publish.secrets.is_secret_name`) and talks to papermill over encrypted
    sockets where it supports them (:data:`quantlib.publish.secrets.KERNEL_TRANSPORT_CONFIG`).
    """
    import papermill
    from nbclient.exceptions import DeadKernelError
    from papermill.exceptions import PapermillExecutionError
    from traitlets.config import Config

    notebook, output = Path(notebook), Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    # PyMC compiles C on first use; keep its cache in the project, not in ~/.pytensor.
    os.environ.setdefault("PYTENSOR_FLAGS", f"base_compiledir={project_root() / '.cache' / 'pytensor'}")
    params = dict(parameters or {})
    extra = {}
    if deadline is not None:
        # nbclient asks timeout_func for each cell's limit; a value <= 0 would mean "none".
        extra["timeout_func"] = lambda cell: max(0.05, min(execution_timeout, deadline - time.monotonic()))
        start_timeout = max(1, math.ceil(min(start_timeout, deadline - time.monotonic())))  # an int trait
    t0 = time.perf_counter()
    try:
        # The kernel copies os.environ: secrets (SMTP, Slack, tokens) must not reach notebook code.
        with without_secrets():
            papermill.execute_notebook(
                str(notebook), str(output), parameters=params, kernel_name=kernel_name, language="python",
                progress_bar=False, log_output=False, request_save_on_cell_execute=True,
                start_timeout=start_timeout, execution_timeout=execution_timeout,
                cwd=str(cwd) if cwd is not None else None, config=Config(KERNEL_TRANSPORT_CONFIG), **extra,
            )
    except PapermillExecutionError as exc:
        raise _execution_error(exc, notebook, output) from None
    except DeadKernelError:
        # The kernel process died (out of memory, segfault in a C extension): name the cell.
        index, line, source_line = _running_cell(output)
        raise NotebookExecutionError(notebook, output, index, line, source_line, "DeadKernelError",
                                     "the kernel died (out of memory or a crash)") from None
    except (TimeoutError, RuntimeError) as exc:
        # nbclient raises CellTimeoutError (a TimeoutError) for a slow cell and
        # jupyter_client a RuntimeError("Kernel didn't respond ...") for a slow start.
        # jupyter_client says "Kernel didn't respond in N seconds" when start_timeout passes.
        start_failure = "didn't respond" in str(exc) or not _kernel_started(output)
        if isinstance(exc, TimeoutError) or start_failure:
            raise _timeout_error(exc, notebook, output, not start_failure,
                                 start_timeout if start_failure else execution_timeout) from None
        raise
    return ExecutionResult(notebook, output, params, time.perf_counter() - t0)


def _kernel_started(output: Path) -> bool:
    # papermill records per-cell status once execution begins; none means the kernel never ran a cell.
    return any(c.get("metadata", {}).get("papermill", {}).get("status") in {"running", "completed", "failed"}
               for c in _executed_cells(output))
