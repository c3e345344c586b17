"""Scheduler throughput: runs per minute for N companies on 1 vs 2 Dask workers.

Each run is the whole scheduled path for one company: validate parameters, start a kernel,
execute a small notebook (``--work`` seconds of CPU), render the outputs, publish the run
folder atomically, record the history and refresh the index. A ``LocalCluster`` per worker
count is started once and warmed up (the first run in a worker pays its imports); the timed
part is ``run_many`` for N companies, repeated, median reported.

    python -m benchmarks.schedule                      # 6 companies, html, 3 repetitions
    python -m benchmarks.schedule --companies 8 --outputs html,pdf --repeat 5

Prints a markdown table (the figures go to benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import nbformat
import yaml
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook


def _notebook(path: Path) -> None:
    params = new_code_cell('company = "c0"\nwork_seconds = 1.0')
    params.metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=[
        new_markdown_cell("# Benchmark report"),
        params,
        new_code_cell(
            "import time\n"
            "t0 = time.process_time()\n"
            "total = 0\n"
            "while time.process_time() - t0 < work_seconds:\n"
            "    total += sum(i * i for i in range(10_000))\n"
            "print(f'{company}: {total}')"
        ),
        new_markdown_cell("## Summary"),
        new_code_cell("import pandas as pd\npd.DataFrame({'company': [company], 'total': [total]})"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def _project(root: Path, companies: int, work: float, outputs: list[str]) -> Path:
    (root / "notebooks").mkdir(parents=True)
    _notebook(root / "notebooks" / "bench.ipynb")
    files = []
    for i in range(companies):
        name = f"c{i}"
        (root / "parameters" / "companies").mkdir(parents=True, exist_ok=True)
        (root / "parameters" / "companies" / f"{name}.yaml").write_text(f"name: Company {i}\nslug: {name}\n")
        (root / "parameters" / "reports").mkdir(parents=True, exist_ok=True)
        (root / "parameters" / "reports" / f"{name}.yaml").write_text(
            yaml.safe_dump({"company": name, "work_seconds": work}))
        files.append(f"parameters/reports/{name}.yaml")
    (root / "scheduled").mkdir()
    (root / "scheduled" / "bench.yaml").write_text(yaml.safe_dump({
        "name": "bench", "title": "Benchmark report", "notebook": "notebooks/bench.ipynb",
        "parameters": files, "cron": "* * * * *", "outputs": outputs,
        "retries": {"count": 0, "backoff": 0}, "timeout": 600,
    }))
    return root


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--companies", type=int, default=6)
    parser.add_argument("--work", type=float, default=1.0, help="CPU seconds of work in the notebook")
    parser.add_argument("--outputs", default="html", help="comma-separated: html, pdf, ipynb")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", default="1,2")
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="quant-bench-schedule-"))
    root = _project(tmp / "project", args.companies, args.work, args.outputs.split(","))
    # Parameter validation looks for company profiles under the project root; workers inherit this.
    os.environ["QUANT_HOME"] = str(root)

    from dask.distributed import LocalCluster

    from quantlib.schedule.runner import Workspace, run_many
    from quantlib.schedule.specs import load_spec

    spec = load_spec(root / "scheduled" / "bench.yaml")
    results: dict[int, list[float]] = {}
    try:
        for n in [int(w) for w in args.workers.split(",")]:
            with LocalCluster(n_workers=n, processes=True, threads_per_worker=1, host="127.0.0.1",
                              dashboard_address=None) as cluster:
                times = []
                for rep in range(args.repeat + 1):
                    ws = Workspace.at(root, reports=tmp / f"reports-{n}-{rep}")
                    # Warm-up: one run per worker, so every worker has done its imports.
                    files = spec.parameters[:n] if rep == 0 else spec.parameters
                    t0 = time.perf_counter()
                    outcomes = run_many(spec, files, workspace=ws, executor="dask",
                                        address=cluster.scheduler_address)
                    elapsed = time.perf_counter() - t0
                    bad = [o.summary() for o in outcomes if o.status != "success"]
                    if bad:
                        raise SystemExit("benchmark run failed: " + "; ".join(bad))
                    if rep:
                        times.append(elapsed)
                results[n] = times
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    base = statistics.median(results[min(results)])
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nScheduler throughput: {args.companies} companies, notebook with {args.work:g} s CPU work, "
          f"outputs {args.outputs}, median of {args.repeat} "
          f"(cpus: {os.cpu_count()}, load average at the end: {load})\n")
    print("| Dask workers | wall time (s) | runs / minute | speed-up |")
    print("|---:|---:|---:|---:|")
    for n, times in results.items():
        med = statistics.median(times)
        print(f"| {n} | {med:.1f} | {args.companies / med * 60:.1f} | {base / med:.2f}x |")


if __name__ == "__main__":
    main()
