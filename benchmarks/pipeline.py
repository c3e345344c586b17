"""Data pipeline benchmark: generate + ingest + warehouse build at about a million jobs.

    python -m benchmarks.pipeline [--scale 42] [--work DIR] [--repeat 5]

Each stage runs in its own process (as ``quant`` would), timed wall-clock, with its peak
resident memory read from the operating system. The baseline, measured in the same run,
is the floor of the same work without our checks: DuckDB loading the generated Parquet
files straight into tables (no contracts, no rejects, no marts). KPI queries are timed
on the resulting gold file, each the median of ``--repeat`` runs, next to a bare
``SELECT sum(revenue) FROM job_facts`` baseline.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROFILE = ROOT / "parameters" / "companies" / "mixed_trades.yaml"


def _run_stage(name: str, code: str) -> tuple[float, float]:
    """Run ``code`` in a fresh Python process; return (seconds, peak RSS in MiB)."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"stage {name} failed with exit code {proc.returncode}")
    return seconds, usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


def _median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=42.0, help="generator scale (42 = about 1M jobs)")
    parser.add_argument("--work", type=Path, default=None, help="working directory (default: a temp dir)")
    parser.add_argument("--repeat", type=int, default=5, help="repetitions of each KPI query")
    args = parser.parse_args(argv)

    work = args.work or Path(tempfile.mkdtemp(prefix="quant-bench-"))
    raw, lake = work / "raw", work / "lake"
    shutil.rmtree(raw, ignore_errors=True)
    shutil.rmtree(lake, ignore_errors=True)

    stages = {
        "generate": (f"from quantlib.data.generate import generate_company, write_company;"
                     f"from quantlib.data.profile import load_profile;"
                     f"write_company(generate_company(load_profile({str(PROFILE)!r}), scale={args.scale}), "
                     f"{str(raw)!r})"),
        "ingest": (f"from quantlib.data.ingest import ingest;"
                   f"r = ingest({str(raw)!r}, {str(lake)!r});"
                   f"assert r.ok and r.rows_rejected == 0, r.problems[:3]"),
        # The profile's targets are for scale 1: scale the revenue target with the company.
        "warehouse build": (f"from quantlib.data.lake import Lake;"
                            f"from quantlib.data.profile import load_profile;"
                            f"from quantlib.data.warehouse import build_warehouse;"
                            f"p = load_profile({str(PROFILE)!r});"
                            f"t = {{k: v * {args.scale} if k == 'monthly_revenue' else v "
                            f"for k, v in p.targets.items()}};"
                            f"build_warehouse(Lake({str(lake)!r}), targets=t, company=p.name)"),
        "baseline: DuckDB loads the Parquet files, no checks": (
            f"import duckdb, pathlib;"
            f"con = duckdb.connect({str(work / 'baseline.duckdb')!r});"
            f"[con.execute(f\"CREATE OR REPLACE TABLE {{p.stem}} AS SELECT * FROM read_parquet('{{p}}')\")"
            f" for p in sorted(pathlib.Path({str(raw)!r}).glob('*.parquet'))]; con.close()"),
    }
    results = {}
    for name, code in stages.items():
        results[name] = _run_stage(name, code)
        print(f"{name}: {results[name][0]:.1f} s, peak {results[name][1]:.0f} MiB", flush=True)

    import duckdb

    from quantlib.kpi import REGISTRY, kpi_summary

    con = duckdb.connect(str(lake / "gold.duckdb"), read_only=True)
    jobs = con.execute("SELECT count(*) FROM jobs").fetchone()[0]
    as_of = con.execute("SELECT as_of FROM build_params").fetchone()[0]
    baseline_ms = _median_ms(lambda: con.execute("SELECT sum(revenue) FROM job_facts").fetchone(), args.repeat)
    kpi_ms, kpi_values = {}, {}
    for name, kpi in REGISTRY.items():
        def one(kpi=kpi, name=name):
            try:
                kpi_values[name] = f"{kpi.compute(con, as_of):.4g}"
            except Exception as exc:  # a KPI without data still costs its query
                kpi_values[name] = f"n/a ({exc})"
        kpi_ms[name] = _median_ms(one, args.repeat)
    con.close()
    summary_ms = _median_ms(lambda: kpi_summary(lake / "gold.duckdb", as_of), max(1, args.repeat // 2))

    pipeline = sum(results[s][0] for s in ("generate", "ingest", "warehouse build"))
    peak = max(results[s][1] for s in ("generate", "ingest", "warehouse build"))
    print()
    print(f"## Pipeline at scale {args.scale:g}: {jobs:,} jobs (as of {as_of})")
    print()
    print("| stage | wall time (s) | peak memory (MiB) |")
    print("|---|---:|---:|")
    for name, (seconds, mib) in results.items():
        print(f"| {name} | {seconds:.1f} | {mib:.0f} |")
    print(f"| **generate + ingest + build** | **{pipeline:.1f}** | **{peak:.0f}** (largest stage) |")
    print()
    print(f"KPI queries on gold, median of {args.repeat} (ms); baseline `SELECT sum(revenue) FROM job_facts`: "
          f"{baseline_ms:.1f} ms")
    print()
    print("| KPI | value | median (ms) | x baseline |")
    print("|---|---:|---:|---:|")
    for name, ms in sorted(kpi_ms.items(), key=lambda kv: kv[1]):
        print(f"| {name} | {kpi_values[name]} | {ms:.1f} | {ms / baseline_ms:.1f} |")
    print(f"| all KPIs (`kpi_summary`, opens the file) | | {summary_ms:.0f} | {summary_ms / baseline_ms:.0f} |")
    print()
    print(f"KPIs under 100 ms: {sum(ms < 100 for ms in kpi_ms.values())} of {len(kpi_ms)}; "
          f"median KPI {statistics.median(kpi_ms.values()):.1f} ms")
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
