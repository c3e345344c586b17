"""What the live tables say, as frames for the ``live_operations`` app (and anything else that shows them).

Every figure is read from the operational store the processors write (never gold), at each
processor's watermark: "now" is the stream's event time, so a replayed day looks as it did.
"""

from __future__ import annotations

import pandas as pd

from quantlib.stream.live import LiveStore

#: The alert rules whose subjects are equipment anomalies.
ANOMALY_METRIC = "anomaly"


def processor_status(store) -> pd.DataFrame:
    """Per processor: its watermark (event time), events applied, rejected, late and redelivered, last write."""
    live = LiveStore(store)
    counts = live.counts()
    with store.reading() as con:
        rows = con.execute("SELECT processor, max(watermark), max(updated_at) FROM stream_offsets "
                           "GROUP BY processor ORDER BY processor").fetchall()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=["processor", "watermark", "updated_at"])
    for name in ("applied", "rejected", "late", "redelivered"):
        frame[name] = [int(counts.get(p, {}).get(name, 0)) for p in frame["processor"]]
    frame["watermark"] = pd.to_datetime(frame["watermark"])
    frame["updated_at"] = pd.to_datetime(frame["updated_at"], unit="s", utc=True)
    return frame


def _current(live: LiveStore, metric: str, span: str, stat: str) -> pd.Series:
    frame = live.current(metric, span, "operations")
    if frame.empty:
        return pd.Series(dtype=float)
    if stat == "mean":
        values = frame["total"] / frame["n"]
    else:
        values = frame["total"] / frame["hours"]
    return pd.Series(values.to_numpy(), index=frame["subject"].to_numpy())


def _totals(live: LiveStore, metric: str, span: str) -> pd.Series:
    frame = live.current(metric, span, "operations")
    return pd.Series(frame["total"].to_numpy(dtype=float), index=frame["subject"].to_numpy()) if len(frame) \
        else pd.Series(dtype=float)


def regional_rates(store) -> pd.DataFrame:
    """Per region, now: jobs and revenue per hour (last hour), utilisation (last day), wrench time (last hour),
    gross margin (last day: revenue minus the jobs' direct costs, over revenue)."""
    live = LiveStore(store)
    columns = {"jobs_per_hour": ("jobs", "1h", "per_hour"), "revenue_per_hour": ("revenue", "1h", "per_hour"),
               "utilisation": ("utilisation", "1d", "per_hour"), "wrench_time": ("wrench_time", "1h", "mean")}
    series = {name: _current(live, *spec) for name, spec in columns.items()}
    profit, revenue = _totals(live, "gross_profit", "1d"), _totals(live, "day_revenue", "1d")
    series["gross_margin"] = (profit / revenue.where(revenue > 0)).dropna()
    regions = sorted({s for values in series.values() for s in values.index if s.startswith("region=")})
    frame = pd.DataFrame({"region": [r.removeprefix("region=") for r in regions]})
    for name, values in series.items():
        frame[name] = [values.get(r) for r in regions]
    frame.attrs["formats"] = {"jobs_per_hour": "{:.1f}", "revenue_per_hour": "${:,.0f}", "utilisation": "{:.0%}",
                              "wrench_time": "{:.0%}", "gross_margin": "{:.0%}"}
    frame.attrs["labels"] = {"region": "Region", "jobs_per_hour": "Jobs / hour", "revenue_per_hour": "Revenue / hour",
                             "utilisation": "Utilisation (day)", "wrench_time": "Wrench time",
                             "gross_margin": "Gross margin (day)"}
    return frame


def hourly_trend(store, hours: int = 24) -> pd.DataFrame:
    """Jobs and revenue per hour, company-wide, over the last ``hours`` of stream time (hourly windows)."""
    live = LiveStore(store)
    mark = live.watermark("operations")
    if mark is None:
        return pd.DataFrame(columns=["window_end", "jobs", "revenue"])
    frames = []
    for metric in ("jobs", "revenue"):
        windows = live.windows(metric, "1h")
        windows = windows[windows["subject"].str.startswith("region=")]
        windows = windows.assign(window_end=pd.to_datetime(windows["window_end"]))
        windows = windows[(windows["window_end"] > pd.Timestamp(mark) - pd.Timedelta(hours=hours))
                          & (windows["window_end"] <= pd.Timestamp(mark) + pd.Timedelta(hours=1))]
        frames.append(windows.groupby("window_end")["total"].sum().rename(metric))
    trend = pd.concat(frames, axis=1).fillna(0.0).reset_index()
    return trend.sort_values("window_end").reset_index(drop=True)


def open_stream_alerts(store) -> pd.DataFrame:
    """The alerts not resolved, worst level first, newest first."""
    with store.reading() as con:
        rows = con.execute("SELECT id, level, rule, subject, value, message, last_seen, count FROM alerts "
                           "WHERE state <> 'resolved'").fetchall()
    frame = pd.DataFrame([tuple(r) for r in rows],
                         columns=["id", "level", "rule", "subject", "value", "message", "last_seen", "count"])
    order = {"critical": 0, "warning": 1, "info": 2}
    frame = frame.assign(_rank=frame["level"].map(order)).sort_values(["_rank", "last_seen"],
                                                                       ascending=[True, False])
    frame = frame.drop(columns=["_rank"]).reset_index(drop=True)
    frame.attrs["formats"] = {"value": "{:.3g}"}
    return frame


def equipment_anomalies(store) -> pd.DataFrame:
    """Units whose control chart alarmed in the current day window, with their alarm count."""
    live = LiveStore(store)
    frame = live.current(ANOMALY_METRIC, "1d", "equipment")
    frame = frame[frame["total"] > 0] if not frame.empty else frame
    out = pd.DataFrame({"equipment_id": [s.removeprefix("equipment=") for s in frame["subject"]],
                        "alarms_today": frame["total"].astype(int).to_numpy() if len(frame) else [],
                        "readings_today": frame["n"].astype(int).to_numpy() if len(frame) else []})
    out.attrs["labels"] = {"equipment_id": "Unit", "alarms_today": "Alarms today", "readings_today": "Readings"}
    return out.sort_values("alarms_today", ascending=False).reset_index(drop=True)


#: Days of the nightly forecast's own weight in the outlook's level correction.
OUTLOOK_PRIOR_DAYS = 7.0


def revenue_outlook(store, prior_days: float = OUTLOOK_PRIOR_DAYS) -> dict | None:
    """The 30-day revenue outlook, the nightly forecast updated by the revenue the stream has seen since.

    The full refit is the scheduled revenue forecast, which records its 30-day total (and 80 %
    interval) in the operational store. The cheap update, at every read: with ``E`` the revenue
    the forecast expected between its as-of date and the stream's watermark (its daily average)
    and ``R`` the completed jobs' revenue the stream saw then (the operations processor's
    5-minute windows), the level ratio ``(R + P) / (E + P)``, where ``P`` is ``prior_days`` of the
    forecast (so a few hours of jobs do not swing it), scales the forecast's 30-day total and
    interval. None when no forecast covers the watermark (before the first nightly run, or once
    its 30 days have passed without a new one).

    Returns
    -------
    dict or None
        ``as_of``, ``forecast`` (its 30-day total), ``lo_80``, ``hi_80`` (scaled), ``outlook``,
        ``seen`` (R), ``expected`` (E), ``ratio``, ``days_seen``.
    """
    live = LiveStore(store)
    mark = live.watermark("operations")
    if mark is None:
        return None
    day = mark.date().isoformat()
    with store.reading() as con:
        rows = con.execute(
            "SELECT as_of, target_start, target_end, value, lo_80, hi_80 FROM predictions "
            "WHERE model = 'revenue_forecast' AND quantity = 'revenue' AND subject = 'all' AND as_of <= ? "
            "AND target_end >= ?", (day, day)).fetchall()
    if not rows:
        return None
    # The latest run, and of its horizons the shortest that still covers the watermark.
    row = min((tuple(r) for r in rows),
              key=lambda r: (-pd.Timestamp(r[0]).value, (pd.Timestamp(r[2]) - pd.Timestamp(r[1])).days))
    as_of, start, end, value, lo, hi = tuple(row)
    start, end = pd.Timestamp(start), pd.Timestamp(end) + pd.Timedelta(days=1)
    days = (end - start).days
    daily = float(value) / days
    seen_days = max(0.0, (pd.Timestamp(mark) - start).total_seconds() / 86400)
    windows = live.windows("revenue", "5m")
    windows = windows[windows["subject"].str.startswith("region=")]
    starts = pd.to_datetime(windows["window_start"])
    seen = float(windows.loc[(starts >= start) & (starts <= pd.Timestamp(mark)), "total"].sum())
    expected = daily * seen_days
    prior = daily * prior_days
    ratio = (seen + prior) / (expected + prior)
    return {"as_of": str(as_of), "forecast": daily * 30, "outlook": daily * 30 * ratio,
            "lo_80": None if lo is None else float(lo) / days * 30 * ratio,
            "hi_80": None if hi is None else float(hi) / days * 30 * ratio,
            "seen": seen, "expected": expected, "ratio": ratio, "days_seen": seen_days}



def recent_interactions(store) -> tuple[pd.DataFrame, pd.Timestamp | None]:
    """The customers' own contacts the ``behaviour`` processor holds (its last 90 days), for the churn scores.

    Returns
    -------
    (DataFrame, Timestamp or None)
        ``customer_id, ts, complaint`` (one row per inbound contact, ``complaint`` true for
        complaints), and the processor's watermark: the feed's time. Empty and None before the
        processor applied anything.
        :func:`quantlib.customers.features.with_recent_interactions` takes the frame.
    """
    live = LiveStore(store)
    rows = []
    for key, memory in live.state("behaviour").items():
        if not key.startswith("customer/"):
            continue
        customer = key.removeprefix("customer/")
        complaints = set(memory.get("complaints", ()))
        rows.extend((customer, when, when in complaints) for when in memory.get("contacts", ()))
    frame = pd.DataFrame(rows, columns=["customer_id", "ts", "complaint"])
    frame["ts"] = pd.to_datetime(frame["ts"])
    frame["complaint"] = frame["complaint"].astype(bool)
    mark = live.watermark("behaviour")
    return frame.sort_values(["ts", "customer_id"]).reset_index(drop=True), (pd.Timestamp(mark) if mark else None)
