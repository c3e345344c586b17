"""``quant run`` (execute a parameterised notebook, optionally render it) and ``quant lab``.

    quant run notebooks/monthly_business_review.ipynb -f parameters/reports/mbr.yaml \\
        -p company=seasonal_outdoor -p as_of=2024-12-31 --html --pdf
    quant lab --port 8899 --no-browser

Exit status of ``quant run``: 0 success, 1 a cell failed or timed out (one line says where),
2 a usage error (bad parameters, missing notebook) found before any kernel starts.
"""

from __future__ import annotations

import os
import sys
import types
import typing
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

import typer
import yaml

from quantlib.cli.app import app
from quantlib.errors import RunStatus

KERNEL_NAME = "quant"
KERNEL_DISPLAY_NAME = "Quant (project)"


def _err(message: str) -> None:
    typer.echo(message, err=True)


def _accepts_str(annotation: Any) -> bool:
    if annotation is str:
        return True
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_accepts_str(a) for a in typing.get_args(annotation))
    return False


def _parse_pairs(pairs: list[str], model) -> tuple[dict[str, Any], list[str]]:
    """``key=value`` pairs; values typed by YAML except for string fields, which keep the text.

    ``-p region=2024`` must give the region "2024", not the number 2024 that the model
    would then reject; ``-p months=3`` gives the integer 3.
    """
    values, problems = {}, []
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            problems.append(f"{pair}: expected key=value")
            continue
        field = model.model_fields.get(key)
        if field is not None and _accepts_str(field.annotation):
            values[key] = None if raw in {"", "null", "~"} and not field.is_required() else raw
        else:
            try:
                values[key] = yaml.safe_load(raw) if raw != "" else None
            except yaml.YAMLError:
                values[key] = raw
    return values, problems


def _default_out(company: str) -> Path:
    from quantlib.config import project_root

    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    return project_root() / "reports" / "adhoc" / company / stamp / "notebook.ipynb"


@app.command("run")
def run_command(
    notebook: Path = typer.Argument(..., help="The notebook to execute (with a cell tagged 'parameters')."),
    files: Optional[list[Path]] = typer.Option(None, "-f", "--parameters-file",
                                               help="YAML parameter file; repeatable, later wins."),
    pairs: Optional[list[str]] = typer.Option(None, "-p", "--parameter",
                                              help="key=value (typed by YAML); repeatable, wins over -f."),
    out: Optional[Path] = typer.Option(None, "--out", help="Executed notebook path "
                                       "(default reports/adhoc/<company>/<timestamp>/notebook.ipynb)."),
    html: bool = typer.Option(False, "--html", help="Also render report.html next to the executed notebook."),
    pdf: bool = typer.Option(False, "--pdf", help="Also render report.pdf next to the executed notebook."),
    start_timeout: float = typer.Option(60.0, "--start-timeout", help="Seconds for the kernel to start."),
    timeout: float = typer.Option(900.0, "--timeout", help="Seconds allowed per cell."),
) -> None:
    """Validate parameters, execute NOTEBOOK with papermill, optionally render HTML/PDF."""
    from quantlib.config import project_root
    from quantlib.parameters import ParameterError, load_parameter_file, parameters_model, validate_parameters

    if not notebook.is_file():
        _err(f"error: {notebook}: no such notebook")
        raise typer.Exit(2)
    # Everything is checked here, before a kernel starts: a typo costs no kernel start-up.
    try:
        merged: dict[str, Any] = {}
        for f in files or []:
            merged.update(load_parameter_file(f))
        pv, problems = _parse_pairs(pairs or [], parameters_model(notebook))
        if problems:
            raise ParameterError(problems)
        merged.update(pv)
        # A lake typed here is the user's own data, wherever it is; one read from a -f file
        # must lie under the project root or $QUANT_DATA_ROOTS.
        values = validate_parameters(notebook, merged, trusted_lake="lake" in pv)
    except (ValueError, OSError, yaml.YAMLError) as exc:  # ParameterError is a ValueError
        for problem in getattr(exc, "problems", None) or [str(exc)]:
            _err(f"error: {problem}")
        raise typer.Exit(2)

    company = str(values.get("company", "adhoc"))
    output = out or _default_out(company)
    run_dir = output.parent
    started = datetime.now(timezone.utc)
    record: dict[str, Any] = {"job": "adhoc", "company": company, "run_id": run_dir.name,
                              "notebook": str(notebook), "parameters": values, "started": started,
                              "outputs": {"notebook": output.name}}
    code = _execute_and_render(notebook, output, values, record, html, pdf, start_timeout, timeout,
                               cwd=project_root())
    _publish_record(run_dir, record)
    raise typer.Exit(code)


def _execute_and_render(notebook, output, values, record, html, pdf, start_timeout, timeout, cwd) -> int:
    from quantlib.publish.execute import NotebookExecutionError, execute_notebook
    from quantlib.publish.render import RenderError, render_html, render_pdf, report_meta_for

    try:
        result = execute_notebook(notebook, output, values, start_timeout=start_timeout,
                                  execution_timeout=timeout, cwd=cwd)
    except NotebookExecutionError as exc:
        record.update(status=RunStatus.FAILED, error=str(exc), finished=datetime.now(timezone.utc))
        _err(str(exc))
        _err(f"executed notebook (evidence): {exc.output}")
        return 1
    typer.echo(f"executed {notebook.name} in {result.seconds:.1f} s -> {output}")
    meta = report_meta_for(notebook, values)
    try:
        if html:
            record["outputs"]["html"] = render_html(output, output.parent / "report.html", meta).name
            typer.echo(f"html: {output.parent / 'report.html'}")
        if pdf:
            record["outputs"]["pdf"] = render_pdf(output, output.parent / "report.pdf", meta).name
            typer.echo(f"pdf:  {output.parent / 'report.pdf'}")
    except RenderError as exc:
        record.update(status=RunStatus.FAILED, error=str(exc), finished=datetime.now(timezone.utc))
        _err(f"error: {exc}")
        return 1
    record.update(status=RunStatus.SUCCESS, finished=datetime.now(timezone.utc))
    return 0


def _publish_record(run_dir: Path, record: dict) -> None:
    from quantlib.config import project_root
    from quantlib.publish.index import write_index, write_run_record

    write_run_record(run_dir, record)
    reports = project_root() / "reports"
    # Refresh the index only when the run sits in reports/<job>/<company>/<run_id>/.
    try:
        if len(run_dir.resolve().relative_to(reports.resolve()).parts) == 3:
            write_index(reports)
    except ValueError:
        pass


# --------------------------------------------------------------------------- lab

def register_kernel(prefix: str | Path | None = None) -> Path:
    """Install the ``quant`` kernelspec pointing at this interpreter (the project's venv).

    Parameters
    ----------
    prefix : path, optional
        Install prefix; default ``sys.prefix``, so the kernel lives in the venv, not in the
        user's home where it could point at a stale interpreter.

    Returns
    -------
    Path
        The kernelspec folder.
    """
    from ipykernel.kernelspec import install

    from quantlib.config import project_root

    default_flags = f"base_compiledir={project_root() / '.cache' / 'pytensor'}"
    env = {"PYTENSOR_FLAGS": os.environ.get("PYTENSOR_FLAGS", default_flags)}
    return Path(install(kernel_name=KERNEL_NAME, display_name=KERNEL_DISPLAY_NAME,
                        prefix=str(prefix or sys.prefix), env=env))


@app.command("lab")
def lab_command(
    port: Optional[int] = typer.Option(None, "--port", help="Port (default: Jupyter's choice, 8888 or next free)."),
    no_browser: bool = typer.Option(False, "--no-browser", help="Do not open a browser."),
    ip: str = typer.Option("127.0.0.1", "--ip", help="Interface to listen on."),
) -> None:
    """Register the project's kernel ('Quant (project)') and start JupyterLab in notebooks/."""
    from quantlib.config import project_root
    from quantlib.publish.secrets import KERNEL_TRANSPORT_CONFIG

    spec = register_kernel()
    typer.echo(f"kernel '{KERNEL_NAME}' ({KERNEL_DISPLAY_NAME}) -> {spec}")
    root = project_root() / "notebooks"
    cmd = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={root}", f"--ip={ip}",
           f"--MappingKernelManager.default_kernel_name={KERNEL_NAME}",
           *[f"--{section}.{name}={value}" for section, options in KERNEL_TRANSPORT_CONFIG.items()
             for name, value in options.items()]]
    if port is not None:
        cmd.append(f"--port={port}")
    if no_browser:
        cmd.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # Containers and CI often run as root; Jupyter refuses that unless told.
        cmd.append("--allow-root")
    sys.stdout.flush()
    sys.stderr.flush()
    # Replace this process: Ctrl-C and service managers then talk to Jupyter directly.
    # An argument list (no shell): this interpreter running jupyterlab with our options.
    os.execv(sys.executable, cmd)  # nosec B606
