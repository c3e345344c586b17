"""``equipment``: a control chart per unit on its telemetry, reading by reading.

The streaming counterpart of :class:`quantlib.maintenance.sensors.ControlChartDetector` (its
CUSUM defaults, ``k`` = 0.5 and ``h`` = 8): each signal is standardised against the unit's own
baseline, vibration on a log scale and pressure signed so that a drop is positive. The
baseline learns from the first 30 readings (their exact mean and variance) before a chart
starts; after that it is an exponentially weighted mean and variance with a 60-reading memory
(the batch detector's rolling 60-day baseline, kept in O(1) state) that follows every
reading, slowly enough that a drift shows on the chart long before the baseline absorbs it, and
robustly (each step winsorised at 3 standard deviations, as the batch baseline is a median).
An alarm adds 1 to the unit's ``anomaly`` count of the day and restarts the chart. The
temperature is judged against the unit's baseline only (the batch detector's ambient
correction needs the weather, which is not on the stream).
"""

from __future__ import annotations

import math
from datetime import timedelta

from quantlib.stream.live import BatchResult, Contribution, Processor
from quantlib.stream.processors import register
from quantlib.stream.windows import tumbling

# ControlChartDetector's CUSUM defaults and its signals' signs (a test keeps them equal; importing
# the maintenance package here would cost the processor seconds of start-up).
DRIFT, THRESHOLD = 0.5, 8.0
SIGNALS = {"vibration": 1, "temperature": 1, "pressure": -1}
MEMORY = 60
WARMUP = 30


def _value(signal: str, raw: float) -> float:
    return math.log(max(raw, 1e-6)) if signal == "vibration" else raw


@register
class EquipmentProcessor(Processor):
    name = "equipment"
    topic = "equipment_telemetry"
    tables = ("telemetry",)
    windows = (tumbling("1d", 24 * 60),)
    grace = timedelta(hours=1)
    rules = ("equipment_anomaly",)

    def state_keys(self, events) -> set[str]:
        return {f"unit/{c.row['equipment_id']}" for c in events}

    def process(self, events, state) -> BatchResult:
        result = BatchResult()
        alpha = 2.0 / (MEMORY + 1)
        for index, checked in enumerate(events):
            row = checked.row
            unit = state.setdefault(f"unit/{row['equipment_id']}", {"n": 0, "signals": {}})
            unit["n"] += 1
            alarm = None
            for signal, sign in SIGNALS.items():
                x = _value(signal, float(row[signal]))
                chart = unit["signals"].setdefault(signal, {"mean": 0.0, "var": 0.0, "cusum": 0.0})
                if unit["n"] <= WARMUP:
                    # Welford's exact mean and variance while the baseline learns.
                    delta = x - chart["mean"]
                    chart["mean"] += delta / unit["n"]
                    chart["var"] += delta * (x - chart["mean"])  # the sum of squares until the last warm-up reading
                    if unit["n"] == WARMUP:
                        chart["var"] /= WARMUP - 1
                    continue
                if chart["var"] > 0:
                    z = sign * (x - chart["mean"]) / math.sqrt(chart["var"])
                    chart["cusum"] = max(0.0, chart["cusum"] + max(min(z, 10.0), -10.0) - DRIFT)
                    if chart["cusum"] > THRESHOLD:
                        alarm = alarm or signal
                        chart["cusum"] = 0.0
                # The baseline follows every reading (a 60-reading memory is slower than a drift),
                # each step winsorised at 3 standard deviations so an outlier does not blow it up.
                bound = 3.0 * math.sqrt(chart["var"])
                delta = min(max(x - chart["mean"], -bound), bound)
                chart["mean"] += alpha * delta
                chart["var"] = (1 - alpha) * (chart["var"] + alpha * delta * delta)
            subject = f"equipment={row['equipment_id']}"
            result.contributions.append((index, Contribution("readings", subject, 1.0)))
            result.contributions.append((index, Contribution("anomaly", subject, 1.0 if alarm else 0.0)))
            if alarm:
                unit["last_alarm"] = {"at": checked.event_time.isoformat(), "signal": alarm}
        return result
