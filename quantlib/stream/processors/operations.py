"""``operations``: the real-time metrics and efficiency calculator, and the quality monitor.

Reads ``work_orders`` (a job is published when completed, else when booked). Per completed
job it adds, by region and by service line, to 5-minute tumbling, 1-hour hopping (every 15
minutes) and 1-day hopping (every 6 hours) windows:

* ``jobs`` (1 per job) and ``revenue``: jobs and revenue per hour are ``total / hours``;
* ``utilisation``: labour hours over the region's contracted hours in the window (the
  technicians' weekly hours / 168 per clock hour, from the reference tables);
* ``wrench_time``: labour hours / (labour + travel hours), the efficiency measure;
* ``day_revenue`` and ``gross_profit`` (revenue minus labour, material and equipment costs), in
  the daily windows: the gross margin of the last day is their ratio;
* ``callback`` (0/1), ``rating`` (0-10, rated jobs only) and ``completion_hours``
  (completion minus scheduled start): the quality monitor's inputs;
* ``slow_job`` per technician: 1 when the job took more than 3 standard deviations longer
  than the norm of its service line and job type (a running mean and variance per pair, kept
  in the processor's state, from 30 jobs on).

The 5-minute windows (jobs, revenue) a checkpoint changed are published to ``business_metrics``
(keyed ``metric/span/window_start/subject``, the value so far). The alert rules it checks are in
``parameters/alerts/streaming.yaml``.
"""

from __future__ import annotations

import math
from datetime import timedelta

from quantlib.stream.live import BatchResult, Contribution, Processor
from quantlib.stream.processors import register
from quantlib.stream.windows import hopping, tumbling

#: Jobs of a (service line, job type) pair seen before its completion-time norm is trusted.
MIN_NORM_JOBS = 30
SLOW_JOB_Z = 3.0
# Which windows each metric keeps: rates per hour live in the short ones; the quality and
# efficiency measures need a day's jobs to mean something.
RATES = ("5m", "1h")
TRENDS = ("1h", "1d")
DAILY = ("1d",)


def _norm_key(row: dict) -> str:
    return f"completion/{row['service_line']}/{row['job_type']}"


@register
class OperationsProcessor(Processor):
    name = "operations"
    topic = "work_orders"
    tables = ("jobs",)
    windows = (tumbling("5m", 5), hopping("1h", 60, 15), hopping("1d", 24 * 60, 6 * 60))
    grace = timedelta(minutes=10)
    rules = ("live_capacity_threshold", "live_efficiency_drop", "quality_degradation", "rating_degradation",
             "performance_outlier")
    publish_spans = ("5m",)

    def __init__(self, reference=None):
        super().__init__(reference)
        self.capacity = reference.region_capacity_per_hour() if reference is not None else {}

    def state_keys(self, events) -> set[str]:
        return {_norm_key(c.row) for c in events if c.row["status"] == "completed"}

    def process(self, events, state) -> BatchResult:
        result = BatchResult()
        add = result.contributions.append
        for index, checked in enumerate(events):
            row = checked.row
            if row["status"] != "completed":
                continue
            region, line = f"region={row['region']}", f"service_line={row['service_line']}"
            labor = float(row["labor_hours"])
            for subject in (region, line):
                add((index, Contribution("jobs", subject, 1.0, RATES)))
                add((index, Contribution("revenue", subject, float(row["revenue"]), RATES)))
            capacity = self.capacity.get(row["region"])
            if capacity:
                add((index, Contribution("utilisation", region, labor / capacity, TRENDS)))
            worked = labor + float(row["travel_minutes"]) / 60.0
            if worked > 0:
                add((index, Contribution("wrench_time", region, labor / worked, TRENDS)))
            revenue = float(row["revenue"])
            direct = float(row["labor_cost"]) + float(row["material_cost"]) + float(row["equipment_cost"])
            add((index, Contribution("day_revenue", region, revenue, DAILY)))
            add((index, Contribution("gross_profit", region, revenue - direct, DAILY)))
            add((index, Contribution("callback", region, 1.0 if row["callback"] else 0.0, DAILY)))
            if row.get("rating") is not None:
                add((index, Contribution("rating", region, float(row["rating"]), DAILY)))
            if row.get("completed_at") is not None:
                hours = (row["completed_at"] - row["scheduled_start"]).total_seconds() / 3600.0
                add((index, Contribution("completion_hours", region, hours, DAILY)))
                norm = state.setdefault(_norm_key(row), {"n": 0, "mean": 0.0, "m2": 0.0})
                if row.get("technician_id") and norm["n"] >= MIN_NORM_JOBS:
                    sd = math.sqrt(norm["m2"] / (norm["n"] - 1))
                    slow = sd > 0 and (hours - norm["mean"]) / sd > SLOW_JOB_Z
                    add((index, Contribution("slow_job", f"technician={row['technician_id']}", 1.0 if slow else 0.0,
                                             DAILY)))
                # Welford's update: the norm without the job itself when judging it.
                norm["n"] += 1
                delta = hours - norm["mean"]
                norm["mean"] += delta / norm["n"]
                norm["m2"] += delta * (hours - norm["mean"])
        return result
