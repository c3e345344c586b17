"""Backup and restore (issue 18): snapshot, verify and restore a workspace against a plain copy.

    python -m benchmarks.backup [--scale 42] [--repeats 3] [--lake DIR] [--no-reports] [--s3] [--work DIR]

Builds a workspace in a temporary folder (or ``--work``): mixed_trades generated at ``--scale``,
ingested and built into a lake with gold, as ``make demo`` does (or takes ``--lake``, read
only), and a reports folder like the scheduler's: a year of weekly runs of three reports (an
HTML file each) recorded in a ``.history.sqlite`` run history (``--no-reports`` leaves it out).
Then times, each the median of ``--repeats``, :func:`quantlib.data.backup.backup` into a local
folder, :func:`~quantlib.data.backup.verify` of that snapshot and
:func:`~quantlib.data.backup.restore` into a new lake, next to the baseline measured in the same
run on the same files: a plain copy (``shutil.copytree`` of the lake and reports folders) and a
plain read with SHA-256 (``hashlib``, 1 MiB chunks, what ``sha256sum`` does). Every step starts
after ``os.sync()`` (untimed), so no step pays for the previous one's writes; all reads come
from the page cache (the workspace fits in memory), and nothing is flushed inside a timed step.

Correctness in the same run: every restored file's SHA-256 against the snapshot's manifest and,
for every lake file, against the original; the restored run history holds the original's runs.

``--s3`` also runs the three steps against object storage, a local S3-compatible server (moto's
server mode, in this process, as the tests start it): backup to ``s3://``, verify there,
restore from there into a local folder; the baseline is a plain upload of the same files
(``ObjectPath.upload``, one file after another) and a plain download with SHA-256.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

# The backup's own file list, exclusions and hashing (the plain baselines read the same files the same way).
from quantlib.data.backup import _SKIPPED_NAMES, _SKIPPED_SUFFIXES, _sha256, _workspace_files

ROOT = Path(__file__).resolve().parents[1]
PROFILE = ROOT / "parameters" / "companies" / "mixed_trades.yaml"
REPORTS = ("weekly_operations", "sales_performance", "financial_summary")


def build_lake(work: Path, scale: float, seed: int) -> Path:
    """Generate mixed_trades at ``scale``, ingest it and build gold under ``work``; the lake folder."""
    from quantlib.data.generate import generate_company, write_company
    from quantlib.data.ingest import ingest
    from quantlib.data.lake import Lake
    from quantlib.data.profile import load_profile
    from quantlib.data.warehouse import build_warehouse

    started = time.perf_counter()
    profile = load_profile(PROFILE)
    company = generate_company(profile, seed=seed, scale=scale)
    write_company(company, work / "raw")
    lake = Lake(work / "lake")
    report = ingest(work / "raw", lake)
    assert report.ok, report.problems[:3]
    # The profile's targets are for scale 1: scale the revenue target with the company (as benchmarks.pipeline).
    targets = {k: v * scale if k == "monthly_revenue" else v for k, v in profile.targets.items()}
    build_warehouse(lake, targets=targets, company=profile.name)
    shutil.rmtree(work / "raw")
    print(f"generated, ingested and built mixed_trades scale {scale} in {time.perf_counter() - started:.1f} s: "
          f"{len(company.tables['customers']):,} customers, {len(company.tables['jobs']):,} jobs", flush=True)
    return work / "lake"


def build_reports(reports: Path, seed: int) -> None:
    """A reports folder as the scheduler leaves it: a year of weekly runs, an HTML file each, the run history."""
    import random

    from quantlib.errors import RunStatus
    from quantlib.schedule.history import open_run_history

    rng = random.Random(seed)
    history = open_run_history(reports / ".history.sqlite")
    first = datetime(2026, 1, 5, 6, 0, tzinfo=timezone.utc)
    for week in range(52):
        day = first + timedelta(weeks=week)
        for name in REPORTS:
            folder = reports / name / f"{day:%Y-%m-%d}"
            folder.mkdir(parents=True, exist_ok=True)
            # About 200 kB of page each (a published report with its charts inlined is of that order).
            body = "".join(f"<tr><td>{rng.random():.12f}</td><td>{rng.getrandbits(64):x}</td></tr>\n"
                           for _ in range(4000))
            (folder / "report.html").write_text(f"<html><body><table>\n{body}</table></body></html>\n")
            row = history.start(run_id=f"{name}-{day:%Y%m%d}", job=name, company="mixed_trades",
                                parameters_hash=f"{rng.getrandbits(128):032x}", scheduled_for=day)
            history.finish(row, RunStatus.SUCCESS, outputs={"html": str(folder / "report.html")})
    (reports / ".locks").mkdir(exist_ok=True)
    (reports / ".locks" / "schedule.lock").write_text("pid")


def _copy_ignore(folder, names):
    """What the plain copy leaves out: what a backup leaves out by design (locks, SQLite side files)."""
    return [n for n in names if n in _SKIPPED_NAMES or n.endswith(_SKIPPED_SUFFIXES)]


def _timed(fn) -> float:
    os.sync()  # the previous step's writes reach the disk outside the timing
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def _runs(history: Path) -> int:
    with sqlite3.connect(f"{history.resolve().as_uri()}?mode=ro", uri=True) as con:
        return con.execute("SELECT count(*) FROM runs").fetchone()[0]


def check(snapshot, lake: Path, reports: Path | None, new_lake: Path, new_reports: Path) -> str:
    """Every restored file against the manifest and every lake file against the original; a one-line verdict."""
    files = snapshot.files
    wrong = []
    for entry in files:
        part, _, rest = entry["path"].partition("/")
        restored = (new_lake if part == "lake" else new_reports) / rest
        if _sha256(restored) != entry["sha256"]:
            wrong.append(entry["path"])
    originals = _workspace_files(lake)
    restored_lake = _workspace_files(new_lake)
    if [p.relative_to(lake) for p in originals] != [p.relative_to(new_lake) for p in restored_lake]:
        wrong.append("the restored lake's file list differs from the original's")
    wrong += [str(p) for p in originals if _sha256(p) != _sha256(new_lake / p.relative_to(lake))]
    line = (f"{len(files) - len(wrong)} of {len(files)} restored files match the manifest's SHA-256; "
            f"{len(originals)} lake files byte-identical to the originals")
    if reports is not None and (reports / ".history.sqlite").exists():
        before, after = _runs(reports / ".history.sqlite"), _runs(new_reports / ".history.sqlite")
        line += f"; run history {after} runs restored of {before}"
        if before != after:
            wrong.append(".history.sqlite runs")
    if wrong:
        raise SystemExit(f"restore is not byte-identical: {wrong[:5]}")
    return line + ": OK"


def _median(times: list[float]) -> float:
    return statistics.median(times)


def _table(rows: list[tuple[str, list[float]]], size: int, baseline: str) -> None:
    base = _median(dict(rows)[baseline])
    print(f"| step | median (s) | MB/s | ratio to {baseline} | runs (s) |")
    print("|---|---:|---:|---:|---|")
    for name, times in rows:
        m = _median(times)
        runs = ", ".join(f"{t:.2f}" for t in times)
        print(f"| {name} | {m:.2f} | {size / 1e6 / m:,.0f} | {m / base:.2f}x | {runs} |")


def local_runs(lake: Path, reports: Path | None, work: Path, repeats: int, size: int) -> None:
    rows: dict[str, list[float]] = {k: [] for k in (
        "baseline: plain copy (shutil.copytree)", "baseline: plain read + SHA-256 (hashlib)",
        "backup (copy, SQLite online backup, SHA-256 of the copies)", "backup verify",
        "restore (verify, copy, SHA-256 of the copies)")}
    names = list(rows)
    sources = _workspace_files(lake) + (_workspace_files(reports) if reports is not None else [])
    verdict = ""
    for repeat in range(repeats):
        out = work / f"run{repeat}"
        plain = out / "plain"

        def plain_copy():
            shutil.copytree(lake, plain / "lake", ignore=_copy_ignore)
            if reports is not None:
                shutil.copytree(reports, plain / "reports", ignore=_copy_ignore)

        def plain_hash():
            for path in sources:
                _sha256(path)

        from quantlib.data.backup import backup, restore, verify

        rows[names[0]].append(_timed(plain_copy))
        rows[names[1]].append(_timed(plain_hash))
        snapshot = []
        rows[names[2]].append(_timed(lambda: snapshot.append(backup(lake, out / "backups", reports))))
        rows[names[3]].append(_timed(lambda: verify(snapshot[0].path)))
        new_lake, new_reports = out / "restored" / "lake", out / "restored" / "reports"
        rows[names[4]].append(_timed(lambda: restore(snapshot[0].path, new_lake, new_reports)))
        if repeat == 0:
            verdict = check(snapshot[0], lake, reports, new_lake, new_reports)
        print(f"run {repeat + 1}: " + ", ".join(f"{n.split(' (')[0]} {rows[n][-1]:.2f} s" for n in names), flush=True)
        shutil.rmtree(out)
    print(f"\ncorrectness (run 1): {verdict}\n")
    _table(list(rows.items()), size, names[0])
    backup_m, copy_m, hash_m = (_median(rows[n]) for n in (names[2], names[0], names[1]))
    print(f"\nbackup / plain copy {backup_m / copy_m:.2f}x; backup / (plain copy + plain SHA-256) "
          f"{backup_m / (copy_m + hash_m):.2f}x; verify / plain SHA-256 {_median(rows[names[3]]) / hash_m:.2f}x; "
          f"restore / (plain copy + 2 x plain SHA-256) {_median(rows[names[4]]) / (copy_m + 2 * hash_m):.2f}x")


def s3_runs(lake: Path, reports: Path | None, work: Path, repeats: int, size: int) -> None:
    import logging

    from moto.server import ThreadedMotoServer

    from quantlib.data.backup import backup, restore, verify
    from quantlib.data.storage import ObjectPath, filesystem

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    os.environ.update({"QUANT_S3_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ACCESS_KEY_ID": "bench-key",
                       "AWS_SECRET_ACCESS_KEY": "bench-secret", "AWS_DEFAULT_REGION": "us-east-1"})
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        os.environ.pop(name, None)
    names = ["baseline: plain upload (ObjectPath.upload per file)", "baseline: plain download + SHA-256",
             "backup to s3://", "backup verify on s3://", "restore from s3:// to a local folder"]
    rows: dict[str, list[float]] = {n: [] for n in names}
    parts = {"lake": lake, **({"reports": reports} if reports is not None else {})}
    verdict = ""
    try:
        for repeat in range(repeats):
            bucket = f"bench-{repeat}"
            filesystem().mkdir(bucket)
            plain = ObjectPath(f"s3://{bucket}/plain")

            def upload():
                for part, root in parts.items():
                    for path in _workspace_files(root):
                        (plain / part / path.relative_to(root).as_posix()).upload(path)

            def download():
                for path in plain.files():
                    _sha256(path)

            rows[names[0]].append(_timed(upload))
            rows[names[1]].append(_timed(download))
            snapshot = []
            rows[names[2]].append(_timed(lambda: snapshot.append(backup(lake, f"s3://{bucket}/backups", reports))))
            rows[names[3]].append(_timed(lambda: verify(snapshot[0].path)))
            out = work / f"s3run{repeat}"
            new_lake, new_reports = out / "lake", out / "reports"
            rows[names[4]].append(_timed(lambda: restore(snapshot[0].path, new_lake, new_reports)))
            if repeat == 0:
                verdict = check(snapshot[0], lake, reports, new_lake, new_reports)
            print(f"s3 run {repeat + 1}: " + ", ".join(f"{n.split(' (')[0]} {rows[n][-1]:.2f} s" for n in names),
                  flush=True)
            shutil.rmtree(out)
            filesystem().rm(bucket, recursive=True)
    finally:
        server.stop()
    print(f"\ns3 correctness (run 1): {verdict}\n")
    _table(list(rows.items()), size, names[0])
    up, down = _median(rows[names[0]]), _median(rows[names[1]])
    print(f"\nbackup / plain upload {_median(rows[names[2]]) / up:.2f}x; verify / plain download + SHA-256 "
          f"{_median(rows[names[3]]) / down:.2f}x; restore / plain download + SHA-256 "
          f"{_median(rows[names[4]]) / down:.2f}x")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=42.0, help="generator scale (42: about 1M jobs)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3, help="runs of each step; the median is reported")
    parser.add_argument("--lake", type=Path, default=None, help="an existing lake to back up (not modified)")
    parser.add_argument("--no-reports", action="store_true", help="no reports folder: the lake alone")
    parser.add_argument("--s3", action="store_true", help="also to object storage (a local moto S3 server)")
    parser.add_argument("--work", type=Path, default=None, help="working folder (default: a temporary one)")
    args = parser.parse_args(argv)

    work = args.work or Path(tempfile.mkdtemp(prefix="quant-bench-backup-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        lake = args.lake.resolve() if args.lake else build_lake(work, args.scale, args.seed)
        reports = None
        if not args.no_reports:
            reports = work / "reports"
            shutil.rmtree(reports, ignore_errors=True)
            build_reports(reports, args.seed)
        lake_files = _workspace_files(lake)
        report_files = _workspace_files(reports) if reports is not None else []
        lake_bytes = sum(p.stat().st_size for p in lake_files)
        report_bytes = sum(p.stat().st_size for p in report_files)
        gold = (lake / "gold.duckdb").stat().st_size
        size = lake_bytes + report_bytes
        print(f"workspace: lake {lake_bytes:,} bytes in {len(lake_files)} files (gold.duckdb {gold:,}), "
              f"reports {report_bytes:,} bytes in {len(report_files)} files; "
              f"{size:,} bytes ({size / 1e6:,.0f} MB) in all", flush=True)
        local_runs(lake, reports, work, args.repeats, size)
        if args.s3:
            print()
            s3_runs(lake, reports, work, args.repeats, size)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
