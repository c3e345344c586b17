"""The whole monthly cycle for one company: generate, ingest, build, run and publish the review.

    python -m benchmarks.monthly_cycle [--scale 8.4] [--baseline-scale 1]

At ``--scale 8.4`` the mixed-trades company has about 200,000 jobs. Each stage runs as the
``quant`` command a scheduler would call, in its own process, timed wall-clock. The same
cycle at the demo size (``--baseline-scale``, about 24,000 jobs) is measured in the same run
as the baseline, so the ratio shows what the data size costs.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUANT = [sys.executable, "-m", "quantlib.cli"]


def _timed(args: list[str], cwd: Path, env: dict | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(args, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - started


def cycle(scale: float, work: Path) -> dict[str, float]:
    """Run one monthly cycle at ``scale`` under ``work``; return seconds per stage."""
    import os

    raw, lake, reports = work / "raw", work / "lake", work / "reports"
    for path in (raw, lake, reports):
        shutil.rmtree(path, ignore_errors=True)
    profile = ROOT / "parameters" / "companies" / "mixed_trades.yaml"
    times = {
        "generate": _timed(QUANT + ["generate", "--profile", str(profile), "--out", str(raw), "--scale", str(scale)],
                           ROOT),
        "ingest": _timed(QUANT + ["ingest", str(raw), "--lake", str(lake)], ROOT),
        "warehouse build": _timed(QUANT + ["warehouse", "build", "--lake", str(lake), "--profile", str(profile)], ROOT),
    }
    params = work / "params.yaml"
    params.write_text(f"company: mixed_trades\nlake: {lake}\n")
    env = dict(os.environ)
    times["run + render HTML/PDF"] = _timed(
        QUANT + ["run", str(ROOT / "notebooks" / "monthly_business_review.ipynb"), "-f", str(params),
                 "--out", str(reports / "notebook.ipynb"), "--html", "--pdf"], ROOT, env)
    assert (reports / "report.pdf").exists() and (reports / "report.html").exists()
    import duckdb

    con = duckdb.connect(str(lake / "gold.duckdb"), read_only=True)
    times["jobs"] = con.execute("SELECT count(*) FROM jobs").fetchone()[0]
    con.close()
    return times


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=8.4)
    parser.add_argument("--baseline-scale", type=float, default=1.0)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="quant-cycle-"))
    try:
        results = {}
        for label, scale in (("baseline (demo size)", args.baseline_scale), ("target size", args.scale)):
            results[label] = cycle(scale, work / label.split()[0])
            print(label, results[label], flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    base, big = results["baseline (demo size)"], results["target size"]
    stages = [k for k in big if k != "jobs"]
    print()
    print(f"| stage | {base['jobs']:,} jobs (s) | {big['jobs']:,} jobs (s) | ratio |")
    print("|---|---:|---:|---:|")
    for stage in stages:
        print(f"| {stage} | {base[stage]:.1f} | {big[stage]:.1f} | {big[stage] / base[stage]:.1f} |")
    total_base, total_big = sum(base[s] for s in stages), sum(big[s] for s in stages)
    print(f"| **whole cycle** | **{total_base:.1f}** | **{total_big:.1f}** | **{total_big / total_base:.1f}** |")


if __name__ == "__main__":
    main()
