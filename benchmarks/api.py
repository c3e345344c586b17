"""Read API under load: 100 concurrent Locust users against ``quant api`` on the 1M-job company.

    python -m benchmarks.api                        # scale 42 (the 1M-job company), 100 users, 60 s
    python -m benchmarks.api --scale 4 --seconds 30 --work /tmp/api4   # a tenth of it
    python -m benchmarks.api --work DIR --out api.json                  # DIR/lake reused when built

1. Generates the mixed-trades company at ``--scale``, ingests it and builds gold under
   ``--work`` (kept: a second run reuses ``DIR/lake``), and records a revenue forecast in an
   operational store the way the scheduled report does (RevenueModel fitted on gold).
2. Starts ``quant api`` with a token on a free loopback port, in its own process, and waits
   until ``/health`` says its warm-up is done (the KPI summaries at the build date, the last
   twelve month ends and each day of the last year computed, as after every nightly build);
   prints how long that took.
3. Runs Locust (as a library, headless) with ``--users`` users spawned at 20 a second, each
   waiting 1-3 s between requests (a person at a dashboard), for ``--seconds``. The request
   mix: 35 % KPI summaries at the build date, 20 % at one of the last twelve month ends, 5 %
   at a random day of the last year, 2 % at a random day of the year before (beyond the
   warm-up: computed on the fly), 10 % one KPI with a region filter, 20 % pages of job_facts
   and customer_features (a random region, a random page), 5 % the revenue forecast, 5 % open
   alerts.
4. Prints and writes (``--out``) per request kind and overall: requests, failures, median,
   p95 and p99 in milliseconds, requests per second; the baseline measured in the same run is
   the same work in process without HTTP and without the cache: ``kpi_summary`` at the build
   date and the first mart page, each the median of five calls.

The target (issue 17): p95 under 500 ms overall.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.pipeline import _median_ms

ROOT = Path(__file__).resolve().parents[1]
PROFILE = ROOT / "parameters" / "companies" / "mixed_trades.yaml"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _build(scale: float, work: Path) -> Path:
    """``work/lake`` with gold built (reused when it is there)."""
    lake = work / "lake"
    if (lake / "gold.duckdb").exists():
        print(f"reusing {lake}", flush=True)
        return lake
    from quantlib.data.generate import generate_company
    from quantlib.data.profile import load_profile
    from tests.conftest import build_lake

    started = time.perf_counter()
    build_lake(generate_company(load_profile(PROFILE), scale=scale), work)
    print(f"built {lake} in {time.perf_counter() - started:.0f} s", flush=True)
    return lake


def _record_forecast(lake: Path, store_path: Path) -> None:
    """A revenue forecast in the operational store, as the scheduled revenue_forecast report records it."""
    from quantlib import monitor
    from quantlib.data.opstore import OpsStore
    from quantlib.forecast import RevenueModel
    from quantlib.forecast.views import report as fv
    from quantlib.kpi.views import report as views

    store = OpsStore(store_path)
    if not store.prediction_frame(model="revenue_forecast").empty:
        return
    report = views.open_report("mixed_trades", str(lake), None)
    model = RevenueModel(horizons=fv.forecast_horizons(90)).fit(fv.snapshot(report))
    store.record_predictions(monitor.revenue_prediction_rows(model, "bench-revenue"))


def _baseline(lake: Path, repeat: int = 5) -> dict:
    """The same work in process: no HTTP, no cache."""
    import duckdb

    from quantlib.kpi import kpi_summary

    con = duckdb.connect(str(lake / "gold.duckdb"), read_only=True)

    def median_ms(fn) -> float:
        return _median_ms(fn, repeat)

    out = {"kpi_summary_build_date_ms": median_ms(lambda: kpi_summary(con)),
           "mart_page_ms": median_ms(lambda: con.execute(
               "SELECT * FROM job_facts WHERE region = (SELECT min(region) FROM job_facts) ORDER BY ALL "
               "LIMIT 100 OFFSET 0").df())}
    con.close()
    return out


def _start_api(lake: Path, store: Path, token: str, port: int) -> subprocess.Popen:
    env = dict(os.environ, QUANT_API_TOKEN=token)
    proc = subprocess.Popen([sys.executable, "-m", "quantlib.cli", "api", "--lake", str(lake), "--port", str(port),
                             "--store", str(store), "--reports", str(lake.parent / "reports")],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    import urllib.request

    started = time.monotonic()
    while time.monotonic() < started + 1800:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as answer:  # nosec B310
                if json.loads(answer.read())["warm"]:
                    print(f"quant api up and warm after {time.monotonic() - started:.1f} s", flush=True)
                    return proc
        except OSError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise SystemExit(f"quant api did not start: {proc.stderr.read().decode()[-2000:]}")


def _load_test(base_url: str, token: str, users: int, seconds: float, context: dict) -> dict:
    # Locust patches the standard library with gevent when imported: only in this function.
    import gevent
    from locust import HttpUser, between, events, task
    from locust.env import Environment

    month_ends, days, regions = context["month_ends"], context["days"], context["regions"]
    older = context["older"]
    pages = context["pages"]

    class Manager(HttpUser):
        host = base_url
        wait_time = between(1, 3)

        def on_start(self):
            self.client.headers["Authorization"] = f"Bearer {token}"

        @task(35)
        def kpis_at_build_date(self):
            self.client.get("/kpis", name="kpis at the build date")

        @task(20)
        def kpis_at_a_month_end(self):
            self.client.get("/kpis", params={"as_of": random.choice(month_ends)},  # nosec B311
                            name="kpis at a month end")

        @task(5)
        def kpis_at_a_day_of_the_last_year(self):
            self.client.get("/kpis", params={"as_of": random.choice(days)},  # nosec B311
                            name="kpis at a day, last year")

        @task(2)
        def kpis_at_an_older_day(self):
            self.client.get("/kpis", params={"as_of": older.pop() if older else month_ends[0]},
                            name="kpis at an older day")

        @task(10)
        def one_kpi_by_region(self):
            self.client.get("/kpis/gross_margin", params={"region": random.choice(regions)},  # nosec B311
                            name="one kpi, a region")

        @task(20)
        def mart_page(self):
            mart = random.choice(["job_facts", "customer_features"])  # nosec B311
            self.client.get(f"/marts/{mart}", params={"region": random.choice(regions),  # nosec B311
                                                      "offset": 100 * random.randrange(pages)},  # nosec B311
                            name="mart page")

        @task(5)
        def revenue_forecast(self):
            self.client.get("/forecasts/revenue", name="revenue forecast")

        @task(5)
        def open_alerts(self):
            self.client.get("/alerts", name="open alerts")

    env = Environment(user_classes=[Manager], events=events)
    runner = env.create_local_runner()
    runner.start(users, spawn_rate=20)
    gevent.spawn_later(seconds, runner.quit)
    runner.greenlet.join()

    def summary(entry) -> dict:
        return {"requests": entry.num_requests, "failures": entry.num_failures,
                "median_ms": entry.get_response_time_percentile(0.5),
                "p95_ms": entry.get_response_time_percentile(0.95),
                "p99_ms": entry.get_response_time_percentile(0.99),
                "requests_per_s": round(entry.num_requests / max(seconds, 1e-9), 1)}

    out = {name: summary(entry) for (name, _method), entry in sorted(env.stats.entries.items())}
    out["all"] = summary(env.stats.total)
    errors = [f"{e.name}: {e.error}" for e in env.stats.errors.values()]
    return {"kinds": out, "errors": errors[:10]}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=42.0, help="generator scale (42: about 1M jobs)")
    parser.add_argument("--work", type=Path, default=ROOT / ".cache" / "bench-api", help="working folder (kept)")
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON")
    args = parser.parse_args(argv)

    args.work.mkdir(parents=True, exist_ok=True)
    lake = _build(args.scale, args.work)
    store = args.work / "ops.sqlite"
    _record_forecast(lake, store)
    import duckdb

    con = duckdb.connect(str(lake / "gold.duckdb"), read_only=True)
    jobs = con.execute("SELECT count(*) FROM jobs").fetchone()[0]
    as_of = con.execute("SELECT as_of FROM build_params").fetchone()[0]
    regions = [r[0] for r in con.execute("SELECT DISTINCT region FROM job_facts ORDER BY 1").fetchall()]
    con.close()
    import datetime as dt

    import pandas as pd

    month_ends = [str(d.date()) for d in pd.date_range(end=pd.Timestamp(as_of), periods=13, freq="ME")][-12:]
    rng = random.Random(0)  # nosec B311
    days = [str(as_of - dt.timedelta(days=d)) for d in range(1, 366)]
    older = [str(as_of - dt.timedelta(days=d)) for d in rng.sample(range(366, 730), 300)]
    baseline = _baseline(lake)
    print(f"{jobs:,} jobs, as of {as_of}; baseline in process: {baseline}", flush=True)

    token = secrets.token_urlsafe(24)
    port = _free_port()
    proc = _start_api(lake, store, token, port)
    try:
        result = _load_test(f"http://127.0.0.1:{port}", token, args.users, args.seconds,
                            {"month_ends": month_ends, "days": days, "older": older, "regions": regions,
                             "pages": 20})
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    figures = {"scale": args.scale, "jobs": jobs, "users": args.users, "seconds": args.seconds,
               "baseline": baseline, **result}
    print(f"\n{'request':<26}{'n':>7}{'fail':>6}{'median':>9}{'p95':>8}{'p99':>8}{'req/s':>8}")
    for name, row in result["kinds"].items():
        print(f"{name:<26}{row['requests']:>7}{row['failures']:>6}{row['median_ms']:>9.0f}{row['p95_ms']:>8.0f}"
              f"{row['p99_ms']:>8.0f}{row['requests_per_s']:>8.1f}")
    if result["errors"]:
        print("errors:", *result["errors"], sep="\n  ")
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2, default=str))


if __name__ == "__main__":
    main()
