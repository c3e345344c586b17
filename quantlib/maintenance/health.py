"""Equipment health and maintenance work orders.

Health of a unit on a day is the probability that it runs the next ``horizon_days`` without
a failure, ``S(horizon | state)`` from the landmark time-to-failure model
(:class:`~quantlib.maintenance.failure_time.TimeToFailureModel`: the unit's age, its last week
of telemetry and, where the company records them, its usage chain's drift and its vibration
spectrum's bearing-defect peaks, :func:`health_features`), so it lies in [0, 1] and falls
exactly as the predicted risk rises. When the history holds too few failures to fit that
model (fewer than ``min_failures``), the age-only Weibull
(:class:`~quantlib.maintenance.failure_time.AgeWeibullModel`) gives it, and the ``basis``
column says so. The evidence shown with it: the CUSUM chart statistic of the telemetry (and
whether it alarms), the signal that drifts most, the unit's age since its last failure and the
median remaining useful life.

Work orders (:func:`plan_work_orders`) live in the operational store (``work_orders``), not in
gold, which every build replaces. A unit whose health is below ``threshold`` (0.3) gets one
open work order; re-running creates nothing new while it stays open. The order closes when
maintenance is recorded on the unit after it was opened, or when the health is back above the
threshold; the next spell below the threshold opens a new one: exactly one order per episode.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
import pandas as pd

from quantlib.data.gold import as_of_date, open_gold
from quantlib.maintenance.failure_time import AgeWeibullModel, TimeToFailureModel, failure_events, unit_ages
from quantlib.maintenance.sensors import SIGNALS, ControlChartDetector, SensorDataError, SensorFeatures, daily_readings

__all__ = ["HEALTH_THRESHOLD", "PLANNED_COLUMNS", "USAGE_FEATURES", "WORK_ORDER_COLUMNS", "FleetHealth",
           "SPECTRAL_FEATURES", "equipment_health", "evidence_line", "health_features", "plan_work_orders",
           "record_slots", "work_orders"]

#: What the usage chain adds to a unit's state: its drift against its own baseline, its recent
#: probability of entering fault and its share of hours in fault.
USAGE_FEATURES = ("drift_z", "fault_entry", "fault_share")
#: What the weekly vibration spectrum adds: the bearing-defect peaks against the unit's own past.
SPECTRAL_FEATURES = ("amp_bpfo_z", "amp_bpfi_z")

#: Health below this opens a work order (the issue's threshold).
HEALTH_THRESHOLD = 0.3
WORK_ORDER_COLUMNS = ("id", "equipment_id", "status", "opened_on", "health", "reason", "evidence", "window_start",
                      "window_end", "skill", "estimated_hours", "created_at", "closed_on", "close_reason",
                      "planned_date", "planned_technician", "planned_arrival", "planned_drive_minutes", "planned_note",
                      "planned_at")
#: The columns :func:`record_slots` writes (the slot proposed around the booked jobs).
PLANNED_COLUMNS = WORK_ORDER_COLUMNS[-6:]


@dataclass
class FleetHealth:
    """Health of every unit on ``as_of`` (one row per unit) and how it was computed.

    ``features`` (the daily standardised telemetry), ``model`` (the fitted time-to-failure
    model), ``state`` (each unit's last day: age and features) and ``failures`` (the failure
    events seen) are kept for the evidence a report shows.
    """

    as_of: object
    units: pd.DataFrame
    basis: str
    failures_seen: int
    features: pd.DataFrame | None = None
    model: object = None
    state: pd.DataFrame | None = None
    failures: pd.DataFrame | None = None
    events: pd.DataFrame | None = None


def _load(con, day):
    telemetry = con.execute("SELECT * FROM telemetry WHERE ts::DATE <= ?", [day]).df()
    equipment = con.execute("SELECT * FROM equipment").df()
    weather = con.execute("SELECT * FROM weather WHERE date::DATE <= ?", [day]).df()
    events = con.execute("SELECT * FROM maintenance_events WHERE scheduled_date::DATE <= ?", [day]).df()
    states = con.execute("SELECT * FROM equipment_states WHERE date::DATE <= ?", [day]).df()
    snapshots = con.execute("SELECT * FROM vibration_snapshots WHERE ts::DATE <= ?", [day]).df()
    return telemetry, equipment, weather, events, states, snapshots


def health_features(features: pd.DataFrame, failures: pd.DataFrame, states: pd.DataFrame | None = None,
                    fit_end=None, snapshots: pd.DataFrame | None = None,
                    sources=("usage", "spectral")) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """The telemetry features joined with what the other sources say about each unit and day.

    * ``usage``: the usage chain's :data:`USAGE_FEATURES` (:class:`~quantlib.maintenance.usage.UsageChain`
      fitted on the states up to ``fit_end``), when ``states`` has the transition counts;
    * ``spectral``: the weekly spectrum's :data:`SPECTRAL_FEATURES`
      (:class:`~quantlib.maintenance.vibration.SpectralTrend`, the latest snapshot of the last two
      weeks carried to each day), when there are ``snapshots``.

    Each unit's history restarts at its failures (a repair renews the part). A company without
    a source gets the others.

    Returns
    -------
    (DataFrame, tuple of str)
        The features with the added columns, and their names (for ``TimeToFailureModel(extra_features=...)``).
    """
    from quantlib.maintenance.usage import UsageChain, UsageDataError
    from quantlib.maintenance.vibration import SpectralTrend, VibrationDataError, spectral_daily

    out = features.assign(date=pd.to_datetime(features["date"]))
    added: list[str] = []
    resets = failures.rename(columns={"failure_date": "date"})[["equipment_id", "date"]]
    end = pd.Timestamp(fit_end) if fit_end is not None else None
    if "usage" in sources and states is not None and not states.empty:
        usable = states if end is None else states[pd.to_datetime(states["date"]) <= end]
        try:
            usage = UsageChain().fit(usable).transform(states, resets=resets)
        except UsageDataError:
            usage = None  # no transition counts (an older file)
        if usage is not None:
            usage = usage[["equipment_id", "date", *USAGE_FEATURES]].assign(date=lambda u: pd.to_datetime(u["date"]))
            out = out.merge(usage, on=["equipment_id", "date"], how="left")
            added += USAGE_FEATURES
    if "spectral" in sources and snapshots is not None and not snapshots.empty:
        snaps = snapshots.assign(ts=pd.to_datetime(snapshots["ts"]))
        train = snaps if end is None else snaps[snaps["ts"] <= end]
        try:
            trend = SpectralTrend().fit(train, resets=resets).transform(snaps, resets=resets)
        except VibrationDataError:
            trend = None
        if trend is not None:
            daily = spectral_daily(trend, out[["equipment_id", "date"]])
            for column in SPECTRAL_FEATURES:
                out[column] = daily[column].to_numpy()
            added += SPECTRAL_FEATURES
    return out, tuple(added)


def equipment_health(source, as_of=None, horizon_days: int = 30, min_failures: int = 10) -> FleetHealth:
    """Health in [0, 1] of every unit with telemetry, on ``as_of`` (default the build's as-of date).

    Parameters
    ----------
    source
        Gold (a lake, its folder, a connection; see :func:`quantlib.data.gold.open_gold`).
    horizon_days : int
        Health is the probability of no failure within this many days.
    min_failures : int
        Fewest failures in the history for the telemetry model; below it the age-only model.

    Returns
    -------
    FleetHealth
        ``units``: ``equipment_id, name, kind, service_line, region, health, p_fail, median_rul_days,
        age_days, cusum, alarm, top_signal, top_signal_z``, lowest health first.

    Raises
    ------
    SensorDataError
        No telemetry by ``as_of``, or no failure recorded at all (nothing to learn risk from).
    """
    with open_gold(source) as con:
        day = as_of_date(con, as_of)
        telemetry, equipment, weather, events, states, snapshots = _load(con, day)
    if telemetry.empty:
        raise SensorDataError(f"no telemetry recorded by {day}: equipment health needs sensor readings")
    failures = failure_events(events)
    if failures.empty:
        raise SensorDataError(f"no equipment failure recorded by {day}: health cannot be learned without one")
    readings = daily_readings(telemetry, equipment, weather)
    features = SensorFeatures().fit(readings).transform(readings)
    horizon = max(int(horizon_days), 1)
    if len(failures) >= min_failures:
        # usage drift and the bearing-defect spectrum sharpen the telemetry model (benchmarks/README.md)
        features, extra = health_features(features, failures, states, fit_end=day, snapshots=snapshots)
        model = TimeToFailureModel(horizon_days=max(90, horizon), extra_features=extra).fit(features, failures, end=day)
        basis = "telemetry"
    else:
        model, basis, extra = AgeWeibullModel().fit(features, failures), "age only", ()
    ages = unit_ages(features, failures, extra=extra)
    state = ages.sort_values("date").groupby("equipment_id").tail(1).reset_index(drop=True)
    grid = np.arange(1, max(90, horizon) + 1)
    survival = model.survival_at(state, grid)
    below = survival < 0.5
    chart = ControlChartDetector().fit(features).predict(features)
    latest = chart.sort_values("date").groupby("equipment_id").tail(1).set_index("equipment_id")
    zs = features.sort_values("date").groupby("equipment_id").tail(1).set_index("equipment_id")
    z_cols = [f"{s}_z" for s in SIGNALS]
    top = zs[z_cols].fillna(0.0).idxmax(axis=1).str.removesuffix("_z")
    units = pd.DataFrame({
        "equipment_id": state["equipment_id"],
        "health": survival[:, horizon - 1],
        "median_rul_days": np.where(below.any(axis=1), grid[np.argmax(below, axis=1)], np.nan),
        "age_days": state["age"].to_numpy(),
        "last_reading": state["date"].to_numpy(),
    })
    units["p_fail"] = 1 - units["health"]
    units["cusum"] = units["equipment_id"].map(latest["statistic"])
    units["alarm"] = units["equipment_id"].map(latest["alarm"]).fillna(False).astype(bool)
    units["top_signal"] = units["equipment_id"].map(top)
    units["top_signal_z"] = [float(zs.loc[u, f"{s}_z"]) if pd.notna(s) else np.nan
                             for u, s in zip(units["equipment_id"], units["top_signal"])]
    info = equipment.set_index("equipment_id")[["name", "kind", "service_line", "region"]]
    units = units.join(info, on="equipment_id")
    columns = ["equipment_id", "name", "kind", "service_line", "region", "health", "p_fail", "median_rul_days",
               "age_days", "cusum", "alarm", "top_signal", "top_signal_z", "last_reading"]
    units = units[columns].sort_values(["health", "equipment_id"], ignore_index=True)
    return FleetHealth(day, units, basis, int(len(failures)), features=features, model=model, state=state,
                       failures=failures, events=events)


def _evidence(row) -> dict:
    return {"health": round(float(row.health), 4), "p_fail_30d": round(float(row.p_fail), 4),
            "median_rul_days": None if pd.isna(row.median_rul_days) else int(row.median_rul_days),
            "age_days": int(row.age_days), "cusum": None if pd.isna(row.cusum) else round(float(row.cusum), 2),
            "alarm": bool(row.alarm), "top_signal": row.top_signal,
            "top_signal_z": None if pd.isna(row.top_signal_z) else round(float(row.top_signal_z), 2)}


def evidence_line(row) -> str:
    """One line of a unit's evidence (a row of :attr:`FleetHealth.units`): its health, the signal
    drifting more than 2 sd above its own baseline, a chart alarm, the median remaining life.

    The reason a work order records; the equipment monitor app shows it for the unit picked.
    """
    parts = [f"health {row.health:.2f} (P(failure in 30 days) {row.p_fail:.0%})"]
    if pd.notna(row.top_signal_z) and row.top_signal_z > 2:
        parts.append(f"{row.top_signal} {row.top_signal_z:.1f} sd above its own baseline")
    if row.alarm:
        parts.append("telemetry control chart alarming")
    if pd.notna(row.median_rul_days):
        parts.append(f"median remaining life {int(row.median_rul_days)} days")
    return "; ".join(parts)


def plan_work_orders(source, store=None, as_of=None, threshold: float = HEALTH_THRESHOLD,
                     health: FleetHealth | None = None) -> pd.DataFrame:
    """Open a work order for each unit below ``threshold`` that has none open; close finished ones.

    Parameters
    ----------
    source
        Gold (read only when ``health`` is not given).
    store : OpsStore, optional
        The operational store (default :func:`quantlib.data.opstore.open_ops_store`).
    health : FleetHealth, optional
        Precomputed :func:`equipment_health` (computed when absent).

    Returns
    -------
    DataFrame
        The work orders opened by this call (:data:`WORK_ORDER_COLUMNS`); empty when nothing new.
    """
    from quantlib.data.opstore import iso_utc, open_ops_store

    store = store if store is not None else open_ops_store()
    health = health if health is not None else equipment_health(source, as_of)
    day = pd.Timestamp(health.as_of).date()
    # the maintenance history came with the health (events scheduled by as_of): no second read of gold
    events = health.events
    finished = pd.to_datetime(events["completed_date"]).fillna(pd.to_datetime(events["scheduled_date"])).dt.date
    done = (events.assign(last_done=finished)[finished <= day].groupby("equipment_id")["last_done"].max()
            .reset_index())
    kinds = health.units.set_index("equipment_id")["kind"]
    visits = events[events["kind"].isin(["preventive", "corrective"]) & (events["downtime_hours"] > 0)]
    hours = visits.groupby(visits["equipment_id"].map(kinds))["downtime_hours"].median()
    last_done = dict(zip(done["equipment_id"], done["last_done"]))
    units = health.units.set_index("equipment_id")
    now = iso_utc(datetime.now(timezone.utc))
    opened = []
    with store.transaction() as con:
        open_rows = con.execute("SELECT id, equipment_id, opened_on FROM work_orders WHERE status = 'open'").fetchall()
        still_open = set()
        for row in open_rows:
            unit, opened_on = row["equipment_id"], pd.Timestamp(row["opened_on"]).date()
            serviced = last_done.get(unit)
            if serviced is not None and serviced >= opened_on and serviced <= day:
                reason = f"maintenance recorded on {serviced.isoformat()}"
            elif unit in units.index and units.loc[unit, "health"] >= threshold:
                reason = f"health back to {units.loc[unit, 'health']:.2f}"
            else:
                still_open.add(unit)
                continue
            con.execute("UPDATE work_orders SET status = 'closed', closed_on = ?, close_reason = ? WHERE id = ?",
                        [day.isoformat(), reason, row["id"]])
        for row in health.units[health.units["health"] < threshold].itertuples(index=False):
            if row.equipment_id in still_open:
                continue
            rul = row.median_rul_days
            # the window: soon enough to act before the median remaining life is half gone
            days = int(min(14, max(2, (rul if pd.notna(rul) else 28) // 2)))
            start = day + pd.Timedelta(days=1)
            record = {
                "equipment_id": row.equipment_id, "status": "open", "opened_on": day.isoformat(),
                "health": float(row.health), "reason": evidence_line(row), "evidence": json.dumps(_evidence(row)),
                "window_start": start.isoformat(), "window_end": (day + pd.Timedelta(days=days)).isoformat(),
                "skill": row.service_line,
                "estimated_hours": float(hours[row.kind]) if pd.notna(hours.get(row.kind)) else None,
                "created_at": now,
            }
            names = ", ".join(record)
            marks = ", ".join("?" * len(record))
            new_id = con.execute(f"INSERT INTO work_orders ({names}) VALUES ({marks}) RETURNING id",  # nosec B608
                                 list(record.values())).fetchone()[0]
            opened.append({"id": new_id, **record, "closed_on": None, "close_reason": None,
                           **dict.fromkeys(PLANNED_COLUMNS)})
    return pd.DataFrame(opened, columns=list(WORK_ORDER_COLUMNS))


def record_slots(slots: pd.DataFrame, store=None) -> int:
    """Write the proposed slots onto their open work orders (the latest proposal replaces the last).

    Parameters
    ----------
    slots : DataFrame
        :attr:`quantlib.maintenance.windows.MaintenanceSchedule.slots`: ``order_id, status, date,
        technician_id, arrival, added_drive_minutes, reason``.
    store : OpsStore, optional
        The operational store (default :func:`quantlib.data.opstore.open_ops_store`).

    Returns
    -------
    int
        The open orders updated. A scheduled slot records its day, technician, arrival and added
        drive; one without a slot clears them and records why (``planned_note``). Closed orders
        are left as they were: a slot is a proposal for work still to do.
    """
    from quantlib.data.opstore import iso_utc, open_ops_store

    store = store if store is not None else open_ops_store()
    now = iso_utc(datetime.now(timezone.utc))
    updated = 0
    assignments = ", ".join(f"{c} = ?" for c in PLANNED_COLUMNS)
    with store.transaction() as con:
        for slot in slots.itertuples(index=False):
            scheduled = slot.status == "scheduled"
            values = [str(slot.date) if scheduled else None, slot.technician_id if scheduled else None,
                      slot.arrival if scheduled else None,
                      float(slot.added_drive_minutes) if scheduled and pd.notna(slot.added_drive_minutes) else None,
                      None if scheduled else (slot.reason or slot.status), now]
            cursor = con.execute(f"UPDATE work_orders SET {assignments} WHERE id = ? AND status = 'open'",  # nosec B608
                                 [*values, int(slot.order_id)])
            updated += max(cursor.rowcount, 0)
    return updated


def work_orders(store=None, status: str | None = None) -> pd.DataFrame:
    """The work orders in the operational store (all, or those of ``status``), newest first."""
    from quantlib.data.opstore import open_ops_store

    store = store if store is not None else open_ops_store()
    sql = f"SELECT {', '.join(WORK_ORDER_COLUMNS)} FROM work_orders"  # nosec B608
    params = []
    if status is not None:
        sql += " WHERE status = ?"
        params.append(status)
    with store.reading() as con:
        rows = con.execute(sql + " ORDER BY id DESC", params).fetchall()
    return pd.DataFrame([dict(r) for r in rows], columns=list(WORK_ORDER_COLUMNS))
