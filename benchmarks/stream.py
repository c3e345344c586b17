"""End-to-end throughput and latency of the stream topology on the local broker (issue 16).

    python -m benchmarks.stream --events N --out FILE.json [--company mixed_trades] [--seed 7]
        [--latency-rate R] [--latency-events M]

Starts the local broker (Tansu) and the whole topology (``quant stream run``: the four
processors, alerts on, a fresh SQLite operational store), warms it up with a few hundred
events, then replays N events of a generated company spread over the four input topics, in
event-time order, as fast as the producer sends them (pre-encoded: the producer's JSON is not
the topology's cost). Figures:

* ``events_per_s``: N / the time from the first send to the moment every event is applied
  (or rejected) in the live tables: sustained end-to-end throughput of the whole topology;
* ``latency_p50_ms`` / ``latency_p99_ms``: per event, from its producer's send time to the end
  of the checkpoint that made its aggregate update visible, after the processor's alert rules
  were checked on it; measured in a second phase paced at ``--latency-rate`` events/s (default
  half the measured throughput, at most 5,000/s; a flood measures queueing, not latency);
* ``lost`` / ``duplicated``: events sent but never applied or rejected, and events applied more
  than once (per processor, applied + rejected against what was sent to its topic; and every
  completed job counted once in the 5-minute windows);
* ``batch_events_per_s``: the baseline, the same events aggregated in batch by DuckDB (their
  JSON parsed and grouped into the same 5-minute and daily windows) in the same run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from quantlib.data.generate import generate_company, write_company
from quantlib.data.opstore import OpsStore
from quantlib.data.profile import load_profile
from quantlib.stream.broker import LocalBroker, ensure_topics
from quantlib.stream.config import load_stream_settings
from quantlib.stream.events import encode_event
from quantlib.stream.live import LiveStore
from quantlib.stream.replay import load_events, producer
from quantlib.stream.runtime import LATENCY_ENV

ROOT = Path(__file__).resolve().parents[1]
INPUTS = {"work_orders": "operations", "financial_transactions": "finance", "equipment_telemetry": "equipment",
          "customer_interactions": "behaviour"}


def _encode(events: pd.DataFrame) -> list[tuple[str, bytes, bytes, bytes]]:
    """Each event as (topic, key, value prefix, value suffix): the send time goes in between at send."""
    encoded = []
    for topic, table, key, event_time, row in events[["topic", "table", "key", "event_time", "row"]].itertuples(
            index=False, name=None):
        value = encode_event(table, row, pd.Timestamp(event_time), sent_at=0.0)
        head, tail = value.split(b'"sent_at":0.0', 1)
        encoded.append((topic, key.encode(), head + b'"sent_at":', tail))
    return encoded


def _send(bootstrap: str, encoded, rate: float | None = None) -> float:
    """Send the events (at ``rate`` per second, else as fast as possible); return the first send time."""
    out = producer(bootstrap)
    first = time.time()
    for i, (topic, key, head, tail) in enumerate(encoded):
        if rate:
            wait = first + i / rate - time.time()
            if wait > 0:
                out.poll(0)
                time.sleep(wait)
        value = head + repr(time.time()).encode() + tail
        while True:
            try:
                out.produce(topic, value=value, key=key)
                break
            except BufferError:
                out.poll(0.01)
        if rate or i % 1000 == 0:
            out.poll(0)
    if out.flush(120):
        raise RuntimeError("the broker did not acknowledge every event")
    return first


def _done(live: LiveStore) -> int:
    return sum(c.get("applied", 0) + c.get("rejected", 0) for c in live.counts().values())


def _wait(live: LiveStore, total: int, timeout: float) -> float | None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if _done(live) >= total:
            return time.time()
        time.sleep(0.02)
    return None


def _pairs(folder: Path, since: float, until: float = math.inf) -> dict[str, np.ndarray]:
    """Per processor, the latencies (s) of the events sent in ``[since, until)``."""
    found: dict[str, list] = {}
    for path in sorted(folder.glob("*.f64")):
        pairs = np.fromfile(path, dtype=np.float64).reshape(-1, 2)
        chosen = pairs[(pairs[:, 0] >= since) & (pairs[:, 0] < until)]
        found.setdefault(path.stem.split("-")[0], []).append(chosen[:, 1] - chosen[:, 0])
    return {name: np.concatenate(parts) for name, parts in found.items()}


def _percentiles(values: np.ndarray) -> dict:
    if not len(values):
        return {"events": 0, "p50_ms": None, "p99_ms": None}
    return {"events": int(len(values)), "p50_ms": round(float(np.percentile(values, 50)) * 1000, 1),
            "p99_ms": round(float(np.percentile(values, 99)) * 1000, 1)}


def batch_baseline(encoded, folder: Path) -> dict:
    """The same events aggregated in batch by DuckDB: JSON parsed, 5-minute and daily windows grouped."""
    import duckdb

    path = folder / "events.ndjson"
    with open(path, "wb") as out:
        for _topic, _key, head, tail in encoded:
            out.write(head + b"0" + tail + b"\n")
    started = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"CREATE TABLE e AS SELECT * FROM read_ndjson('{path}', columns={{'table': 'VARCHAR', "
                "'event_time': 'TIMESTAMP', 'sent_at': 'DOUBLE', 'data': 'JSON'})")
    jobs = con.execute("""
        SELECT time_bucket(INTERVAL 5 MINUTE, event_time) AS w, data->>'region' AS region, count(*) AS jobs,
               sum((data->>'revenue')::DOUBLE) AS revenue, avg((data->>'callback')::BOOLEAN::INT) AS callback_rate
        FROM e WHERE "table" = 'jobs' AND data->>'status' = 'completed' GROUP BY ALL""").fetchall()
    daily = con.execute("""
        SELECT "table", time_bucket(INTERVAL 1 DAY, event_time) AS d,
               coalesce(data->>'equipment_id', data->>'customer_id') AS subject, count(*) AS n,
               sum(coalesce((data->>'amount')::DOUBLE, (data->>'vibration')::DOUBLE)) AS total
        FROM e WHERE "table" <> 'jobs' GROUP BY ALL""").fetchall()
    seconds = time.perf_counter() - started
    return {"batch_seconds": round(seconds, 3), "batch_events_per_s": round(len(encoded) / seconds),
            "batch_rows": len(jobs) + len(daily)}


def run(events_wanted: int, company: str = "mixed_trades", seed: int = 7, latency_rate: float | None = None,
        latency_events: int = 20_000, warmup: int = 400) -> dict:
    settings = load_stream_settings()
    profile = load_profile(ROOT / "parameters" / "companies" / f"{company}.yaml")
    with tempfile.TemporaryDirectory(prefix="quant-stream-bench-") as tmp:
        tmp = Path(tmp)
        needed = events_wanted + warmup + latency_events
        scale = max(1, math.ceil(needed / 95_000))  # a company of scale 1 makes about 100,000 events
        generated = generate_company(profile, scale=scale, seed=seed)
        write_company(generated, tmp / "raw")
        events = load_events(tmp / "raw", settings)
        if len(events) < needed:
            raise SystemExit(f"the company makes {len(events):,} events; {needed:,} needed")
        warm, measured = events.iloc[:warmup], events.iloc[warmup:warmup + events_wanted]
        paced = events.iloc[warmup + events_wanted:warmup + events_wanted + latency_events]
        encoded_warm, encoded, encoded_paced = _encode(warm), _encode(measured), _encode(paced)
        latency_dir = tmp / "latency"
        latency_dir.mkdir()
        store_path = tmp / "ops.sqlite"
        result = {"events": len(measured), "company": company, "scale": scale, "seed": seed,
                  "events_by_topic": measured["topic"].value_counts().to_dict()}
        with LocalBroker(log_path=tmp / "tansu.log") as broker:
            ensure_topics(broker.bootstrap, settings)
            env = dict(os.environ, **{LATENCY_ENV: str(latency_dir)})
            with open(tmp / "processors.log", "wb") as log:
                topology = subprocess.Popen(
                    [sys.executable, "-m", "quantlib.cli", "stream", "run", "--brokers", broker.bootstrap,
                     "--store", str(store_path), "--lake", str(tmp / "nolake")],
                    stdout=log, stderr=subprocess.STDOUT, env=env)
            try:
                live = LiveStore(OpsStore(store_path))
                _send(broker.bootstrap, encoded_warm)
                if _wait(live, len(warm), 180) is None:
                    raise SystemExit(f"the topology did not start; see {tmp / 'processors.log'}")
                # Phase 1: a flood, for throughput.
                first = _send(broker.bootstrap, encoded)
                finished = _wait(live, len(warm) + len(measured), 600)
                counts_after_flood = live.counts()
                if finished is None:
                    result["events_per_s"] = None
                else:
                    result["events_per_s"] = round(len(measured) / (finished - first))
                    result["seconds"] = round(finished - first, 2)
                # Phase 2: paced, for latency.
                rate = latency_rate or min(5000.0, 0.5 * (result["events_per_s"] or 1000))
                time.sleep(2)  # the flood's last checkpoints finish
                paced_from = _send(broker.bootstrap, encoded_paced, rate=rate)
                _wait(live, len(warm) + len(measured) + len(paced), 300)
                time.sleep(3)  # anything delivered twice would be counted now
                paced_latency = _pairs(latency_dir, paced_from)
                flood_latency = _pairs(latency_dir, first, paced_from)
                counts = live.counts()
                with live.store.reading() as con:
                    alerts = con.execute("SELECT count(*) FROM alerts").fetchone()[0]
                windows = live.windows("jobs", "5m")
            finally:
                topology.send_signal(signal.SIGTERM)
                try:
                    topology.wait(60)
                except subprocess.TimeoutExpired:
                    topology.kill()
        sent = pd.concat([warm, measured, paced])["topic"].value_counts()
        lost = duplicated = 0
        for topic, processor in INPUTS.items():
            seen = counts.get(processor, {})
            handled = seen.get("applied", 0) + seen.get("rejected", 0)
            lost += max(0, int(sent.get(topic, 0)) - handled)
            duplicated += max(0, handled - int(sent.get(topic, 0)))
        jobs = pd.concat([warm, measured, paced])
        jobs = jobs[jobs["table"] == "jobs"]
        completed = sum(row["status"] == "completed" for row in jobs["row"])
        counted = int(windows[windows["subject"].str.startswith("region=")]["n"].sum()) if len(windows) else 0
        duplicated += max(0, counted - completed)
        lost += max(0, completed - counted)
        result.update({
            "latency_p50_ms": _percentiles(np.concatenate(list(paced_latency.values())))["p50_ms"],
            "latency_p99_ms": _percentiles(np.concatenate(list(paced_latency.values())))["p99_ms"],
            "latency_rate_per_s": round(rate), "latency_events": len(paced),
            "latency_by_processor": {name: _percentiles(v) for name, v in paced_latency.items()},
            "flood_latency": _percentiles(np.concatenate(list(flood_latency.values()))),
            "lost": int(lost), "duplicated": int(duplicated),
            "counts": counts, "counts_after_flood": counts_after_flood, "alerts_raised": int(alerts),
        })
        result.update(batch_baseline(encoded, tmp))
        result["stream_vs_batch"] = (round(result["events_per_s"] / result["batch_events_per_s"], 4)
                                     if result.get("events_per_s") else None)
    return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--company", default="mixed_trades")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--latency-rate", type=float, default=None)
    parser.add_argument("--latency-events", type=int, default=20_000)
    args = parser.parse_args(argv)
    result = run(args.events, args.company, args.seed, args.latency_rate, args.latency_events)
    text = json.dumps(result, indent=1, default=str)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
