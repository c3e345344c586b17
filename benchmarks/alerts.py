"""Alert engine speed: rules evaluated per second, and breaching row in gold -> alert sent.

1. Generates the mixed-trades company at ``--scale`` (42 is the 1M-job company; the default 4
   is about a tenth of it), ingests it and builds gold in a temporary folder.
2. **Rules per second**: the shipped rules (``parameters/alerts``) evaluated on gold, after one
   warm-up pass (imports, DuckDB caches), ``--repeat`` times; the median first pass on a build,
   the median next pass on the same build (slow sources such as the cash-flow simulation
   reuse their value, kept per gold build in the operational store), and each rule's median
   seconds on the first pass. The KPI rules alone are reported too (the churn and cash-flow rules run an
   engine each).
3. **Latency**: one rule (``kpi:customer_satisfaction < 6``, critical) and a local Slack-like
   webhook. Each round inserts ``--storm`` zero-rated, high-revenue completed jobs dated at
   gold's as-of into ``job_facts`` (the breaching rows landing), commits and closes the writer,
   then runs ``AlertEngine.check`` (open gold, evaluate, store, send) until the webhook has the
   message; the time from the commit to the webhook receiving it is the latency. The rows are
   then deleted and a check resolves the alert before the next round. The schedule interval of
   ``quant alerts check`` (every few minutes) comes on top in production.

    python -m benchmarks.alerts                  # scale 4, 5 repetitions
    python -m benchmarks.alerts --scale 42       # the 1M-job company (several minutes to build)
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def _build(scale: float, root: Path):
    from quantlib.data.generate import generate_company
    from quantlib.data.profile import load_profile
    from tests.conftest import PROFILES, build_lake

    company = generate_company(load_profile(PROFILES / "mixed_trades.yaml"), scale=scale)
    lake = build_lake(company, root)
    return lake


def _rules_per_second(lake, repeat: int) -> tuple[dict, dict]:
    """Medians of ``repeat`` rounds; each round is a first check on this gold build (a new,
    empty operational store: every source computes) then a second one (same store: slow
    sources reuse their per-build value)."""
    import duckdb

    from quantlib.alerts import MetricContext, default_rules_folder, load_alerts
    from quantlib.alerts.engine import AlertEngine
    from quantlib.data.opstore import OpsStore

    rules, policy = load_alerts(default_rules_folder())
    con = duckdb.connect(str(lake.gold), read_only=True)
    with tempfile.TemporaryDirectory() as tmp:
        AlertEngine(OpsStore(Path(tmp) / "warm.sqlite"), rules, policy, channels={}).evaluate(
            MetricContext(con))  # warm-up: imports, DuckDB caches
        passes = {"first": [], "again": []}
        per_rule = {r.name: [] for r in rules}
        for i in range(repeat):
            engine = AlertEngine(OpsStore(Path(tmp) / f"ops{i}.sqlite"), rules, policy, channels={})
            for which in ("first", "again"):
                started = time.perf_counter()
                results = engine.evaluate(MetricContext(con))
                passes[which].append(time.perf_counter() - started)
                for r in results:
                    assert r.error is None, (r.rule, r.error)
                    if which == "first":
                        per_rule[r.rule].append(r.seconds)
    con.close()
    kpi = [r.name for r in rules if r.metric.startswith("kpi:")]
    kpi_seconds = statistics.median(sum(per_rule[n][i] for n in kpi) for i in range(repeat))
    total = statistics.median(passes["first"])
    again = statistics.median(passes["again"])
    return ({"rules": len(rules), "pass_seconds": total, "rules_per_second": len(rules) / total,
             "again_seconds": again, "again_rules_per_second": len(rules) / again,
             "kpi_rules": len(kpi), "kpi_pass_seconds": kpi_seconds, "kpi_rules_per_second": len(kpi) / kpi_seconds},
            {n: statistics.median(v) for n, v in per_rule.items()})


def _latency(lake, repeat: int, storm: int) -> dict:
    import duckdb

    from quantlib.alerts import AlertPolicy, AlertRule, MetricContext
    from quantlib.alerts.channels import DashboardChannel, SlackChannel
    from quantlib.alerts.engine import AlertEngine
    from quantlib.data.gold import gold_as_of
    from quantlib.data.opstore import OpsStore
    from tests.schedule.servers import WebhookServer

    rule = AlertRule.model_validate({
        "name": "satisfaction_collapse", "title": "Satisfaction below 6", "metric": "kpi:customer_satisfaction",
        "category": "customer", "owner": "bench", "comparison": {"kind": "threshold", "op": "<", "value": 6,
                                                                   "level": "critical"}})
    latencies, checks = [], []
    with tempfile.TemporaryDirectory() as tmp, WebhookServer() as hook:
        env = {"QUANT_SLACK_WEBHOOK_ALERTS": hook.url}
        engine = AlertEngine(OpsStore(Path(tmp) / "ops.sqlite"), [rule], AlertPolicy(),
                             channels={"dashboard": DashboardChannel(), "slack": SlackChannel()}, env=env)
        with duckdb.connect(str(lake.gold), read_only=True) as con:
            day = gold_as_of(con)
            engine.check(MetricContext(con, day))  # warm-up; must not fire
        assert not engine.alerts(open_only=True), "the company already breaches the latency rule"
        for _ in range(repeat):
            before = len(hook.payloads)
            with duckdb.connect(str(lake.gold)) as w:
                w.execute("""INSERT INTO job_facts SELECT j.*
                             FROM (SELECT * REPLACE (0 AS rating, 1e6 AS revenue, ?::DATE AS completed_date)
                                   FROM job_facts WHERE is_completed LIMIT 1) AS j, range(?)""", [day, int(storm)])
                w.execute("CHECKPOINT")
            landed = time.perf_counter()
            with duckdb.connect(str(lake.gold), read_only=True) as con:
                started = time.perf_counter()
                out = engine.check(MetricContext(con, day))
                checks.append(time.perf_counter() - started)
            while len(hook.payloads) == before:
                time.sleep(0.001)
            latencies.append(time.perf_counter() - landed)
            assert [a["level"] for a in out.alerts] == ["critical"], out.alerts
            with duckdb.connect(str(lake.gold)) as w:
                w.execute("DELETE FROM job_facts WHERE revenue = 1e6 AND rating = 0")
            with duckdb.connect(str(lake.gold), read_only=True) as con:
                resolved = engine.check(MetricContext(con, day)).resolved
            assert len(resolved) == 1
        assert len(engine.alerts()) == repeat  # one alert per round, however many rows breached
    return {"storm_rows": storm, "latency_median_ms": 1000 * statistics.median(latencies),
            "latency_max_ms": 1000 * max(latencies), "check_median_ms": 1000 * statistics.median(checks)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=4.0)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--storm", type=int, default=10_000, help="breaching rows inserted per latency round")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        lake = _build(args.scale, Path(tmp))
        import duckdb

        with duckdb.connect(str(lake.gold), read_only=True) as con:
            jobs = con.execute("SELECT count(*) FROM job_facts").fetchone()[0]
        print(f"scale {args.scale}: {jobs:,} jobs, built in {time.perf_counter() - started:.1f} s")
        summary, per_rule = _rules_per_second(lake, args.repeat)
        print("\n| measure | value |\n|---|---:|")
        print(f"| all {summary['rules']} shipped rules, one pass (s) | {summary['pass_seconds']:.3f} |")
        print(f"| rules per second (all) | {summary['rules_per_second']:.1f} |")
        print(f"| all {summary['rules']} rules, next check on the same build (s) | {summary['again_seconds']:.3f} |")
        print(f"| rules per second (all, same build) | {summary['again_rules_per_second']:.1f} |")
        print(f"| {summary['kpi_rules']} KPI rules, one pass (s) | {summary['kpi_pass_seconds']:.3f} |")
        print(f"| rules per second (KPI rules) | {summary['kpi_rules_per_second']:.1f} |")
        lat = _latency(lake, args.repeat, args.storm)
        print(f"| breaching rows -> alert sent, median (ms) | {lat['latency_median_ms']:.0f} |")
        print(f"| breaching rows -> alert sent, max (ms) | {lat['latency_max_ms']:.0f} |")
        print(f"| of which the check itself, median (ms) | {lat['check_median_ms']:.0f} |")
        print(f"| breaching rows per round | {lat['storm_rows']:,} |")
        print("\n| rule | median seconds, first check on a build |\n|---|---:|")
        for name, seconds in sorted(per_rule.items(), key=lambda kv: -kv[1]):
            print(f"| {name} | {seconds:.3f} |")


if __name__ == "__main__":
    main()
