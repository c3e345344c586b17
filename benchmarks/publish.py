"""Publishing speed: papermill overhead, HTML and PDF rendering.

    python -m benchmarks.publish [--repeat 5]

Runs the publishing test fixture (a table, an Altair chart rendered to SVG, a warning) once
as a plain Python script and once through papermill (kernel start, parameter injection,
output notebook), then renders the executed notebook to HTML and to PDF (the engine
``render_pdf`` picks: Quarto if on PATH, else pandoc -> Typst). Prints medians as a
markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "publish" / "fixtures" / "fixture_report.ipynb"


def _script(nb_path: Path) -> str:
    # The same code the kernel runs, as one script: display() of the last expression replaced
    # by an explicit SVG conversion so both sides do the chart work.
    nb = nbformat.read(nb_path, as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    code[-2] = code[-2].replace("kpi_vs_target_chart(series", "_chart = kpi_vs_target_chart(series")
    code.append("_chart._repr_mimebundle_()")
    return "\n\n".join(code) + "\n"


def _time(fn, repeat: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    from quantlib.publish.execute import execute_notebook
    from quantlib.publish.render import ReportMeta, render_html, render_pdf, select_pdf_engine

    meta = ReportMeta("Monthly business review", "Prairie Home Services", "December 2024", "2025-01-03")
    cache = ROOT / ".cache"
    cache.mkdir(exist_ok=True)
    # Inside the project's ignored cache: other jobs on a shared machine may sweep /tmp.
    with tempfile.TemporaryDirectory(prefix="bench-publish-", dir=cache) as tmp:
        tmp = Path(tmp)
        script = tmp / "fixture.py"
        script.write_text(_script(FIXTURE))
        executed = tmp / "notebook.ipynb"
        rows = []
        plain, _ = _time(lambda: subprocess.run([sys.executable, "-W", "ignore", str(script)], check=True,
                                                capture_output=True, cwd=ROOT), args.repeat)
        pm, _ = _time(lambda: execute_notebook(FIXTURE, executed, {"company": "mixed_trades"}, cwd=ROOT), args.repeat)
        empty = tmp / "empty.ipynb"
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell("x = 1")]
        nbformat.write(nb, empty)
        bare, _ = _time(lambda: subprocess.run([sys.executable, "-c", "x = 1"], check=True), args.repeat)
        bare_pm, _ = _time(lambda: execute_notebook(empty, tmp / "empty_out.ipynb", cwd=ROOT), args.repeat)
        html, _ = _time(lambda: render_html(executed, tmp / "report.html", meta), args.repeat)
        engine = select_pdf_engine().name
        pdf, _ = _time(lambda: render_pdf(executed, tmp / "report.pdf", meta), args.repeat)
        rows = [
            ("fixture as a plain python script (process start + imports + work)", plain),
            ("fixture through papermill (kernel start, inject, execute, save)", pm),
            ("papermill overhead on the fixture (difference)", pm - plain),
            ("one-cell notebook through papermill", bare_pm),
            ("papermill overhead, one-cell notebook vs `python -c` (kernel start + save)", bare_pm - bare),
            ("render HTML (nbconvert, project template)", html),
            (f"render PDF ({engine})", pdf),
        ]
    print(f"Publishing benchmark — median of {args.repeat} runs, {sys.platform}, Python {sys.version.split()[0]}\n")
    print("| step | seconds |\n|---|---:|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.2f} |")


if __name__ == "__main__":
    main()
