"""The maintenance report: fleet health, the units at risk with their evidence, how well the
warnings did on the company's own history, and the interventions due; one unit's readings and
maintenance history for the ``equipment_monitor`` app."""

from __future__ import annotations

from dataclasses import dataclass

import altair as alt
import numpy as np
import pandas as pd
from pydantic import Field

from quantlib.data.gold import as_of_date, open_gold
from quantlib.maintenance.health import HEALTH_THRESHOLD, FleetHealth, equipment_health
from quantlib.maintenance.policy import MaintenancePolicyError, maintenance_costs
from quantlib.maintenance.repair import PeriodicMaintenancePolicy
from quantlib.maintenance.sensors import SIGNALS, ControlChartDetector, alert_episodes, alert_lead_times
from quantlib.parameters import NotebookParameters, register_parameters
from quantlib.views.formatting import markdown_money
from quantlib.views.tables import ReportSection, table_view

__all__ = ["EquipmentMonitorParameters", "MaintenanceParameters", "PreventivePlan", "at_risk_units",
           "fleet_for_report", "preventive_plan",
           "health_chart", "health_section", "health_table", "interventions", "interventions_line", "readings_chart",
           "signals_chart", "spectra", "spectra_chart", "summary_line", "survival_chart", "unit_events",
           "unit_readings", "warning_record"]


@register_parameters("maintenance")
class MaintenanceParameters(NotebookParameters):
    """Maintenance: fleet health, units at risk and their evidence, warnings on history, interventions."""

    threshold: float = Field(HEALTH_THRESHOLD, gt=0, lt=1, description="health below this needs a work order")
    top_units: int = Field(10, ge=1, le=100, description="units listed in the health table")
    evidence_units: int = Field(3, ge=1, le=10, description="units at risk shown with their signals")


@register_parameters("equipment_monitor")
class EquipmentMonitorParameters(NotebookParameters):
    """Equipment monitor app: the health below which a unit needs a work order, the days of telemetry shown."""

    threshold: float = Field(HEALTH_THRESHOLD, gt=0, lt=1, description="health below this needs a work order")
    days: int = Field(90, ge=14, le=365, description="days of a unit's telemetry shown")


def fleet_for_report(source, as_of=None) -> FleetHealth:
    return equipment_health(source, as_of)


def health_section(source, as_of=None, top: int = 5, threshold: float = HEALTH_THRESHOLD) -> ReportSection:
    """For other reports (the weekly operations report): the least healthy units, or why there are none.

    Returns a section with the table, or only a sentence when the company has no telemetry or no
    recorded failure to learn from.
    """
    from quantlib.maintenance.sensors import SensorDataError

    try:
        fleet = equipment_health(source, as_of)
    except SensorDataError as reason:
        return ReportSection(f"Equipment health is not available: {reason}.")
    return ReportSection(table=health_table(fleet, top=top), caption="Least healthy units")


def summary_line(fleet: FleetHealth, threshold: float = HEALTH_THRESHOLD) -> str:
    """One markdown line: units, how many need a work order, alarms, failures in the last 90 days."""
    units = fleet.units
    below = int((units["health"] < threshold).sum())
    recent = pd.to_datetime(fleet.failures["failure_date"]) > pd.Timestamp(fleet.as_of) - pd.Timedelta(days=90)
    return (f"{fleet.as_of:%d %b %Y}: **{len(units)}** units with telemetry; **{below}** below health "
            f"{threshold:.1f} (a work order each), {int(units['alarm'].sum())} with the telemetry chart alarming; "
            f"{int(recent.sum())} failure{'' if int(recent.sum()) == 1 else 's'} in the last 90 days. Health is "
            f"the probability of no failure in the "
            f"next 30 days ({fleet.basis} model, {fleet.failures_seen} failures learned from).")


@table_view(formats={"health": "pct", "p_fail": "pct", "median_rul_days": "text", "age_days": "int",
                     "top_signal_z": "num1"},
            labels={"equipment_id": "Unit", "name": "Name", "kind": "Kind", "health": "Health",
                    "p_fail": "P(failure in 30 days)", "median_rul_days": "Median remaining life (days)",
                    "age_days": "Days since last failure (or records began)", "chart": "Telemetry chart",
                    "top_signal": "Top signal", "top_signal_z": "Its deviation (sd)"})
def health_table(fleet: FleetHealth, top: int = 10) -> pd.DataFrame:
    """The ``top`` least healthy units with their evidence."""
    units = fleet.units.head(top).copy()
    units["chart"] = np.where(units["alarm"], "alarm", "")
    horizon = 90
    units["median_rul_days"] = [f"over {horizon}" if pd.isna(v) else f"{int(v)}" for v in units["median_rul_days"]]
    return units[["equipment_id", "name", "kind", "health", "p_fail", "median_rul_days", "age_days", "chart",
                  "top_signal", "top_signal_z"]]


def health_chart(fleet: FleetHealth, threshold: float = HEALTH_THRESHOLD) -> alt.Chart:
    """Health of every unit (bars, lowest first) against the work-order threshold."""
    units = fleet.units.assign(label=lambda u: u["equipment_id"] + " " + u["kind"])
    units["status"] = np.where(units["health"] < threshold, "work order", "ok")
    bars = alt.Chart(units).mark_bar().encode(
        x=alt.X("label:N", sort=list(units["label"]), title=None, axis=alt.Axis(labelAngle=-60)),
        y=alt.Y("health:Q", title="Health (P no failure in 30 days)", scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format=".0%")),
        color=alt.Color("status:N", scale=alt.Scale(domain=["work order", "ok"], range=["#c0392b", "#7f8c8d"]),
                        title=None))
    rule = alt.Chart(pd.DataFrame({"y": [threshold]})).mark_rule(strokeDash=[4, 3]).encode(y="y:Q")
    return (bars + rule).properties(title="Equipment health", width=560, height=220)


def at_risk_units(fleet: FleetHealth, n: int = 3) -> list[str]:
    """The ``n`` least healthy units."""
    return fleet.units["equipment_id"].head(n).tolist()


def signals_chart(fleet: FleetHealth, units: list[str], days: int = 90, width: int = 170) -> alt.Chart:
    """The standardised readings of ``units`` over the last ``days`` (deviation from each unit's own baseline)."""
    f = fleet.features
    recent = f[f["equipment_id"].isin(units) & (f["date"] > pd.Timestamp(fleet.as_of) - pd.Timedelta(days=days))]
    long = recent.melt(id_vars=["equipment_id", "date"], value_vars=[f"{s}_z" for s in SIGNALS],
                       var_name="signal", value_name="sd")
    long["signal"] = long["signal"].str.removesuffix("_z")
    return alt.Chart(long.dropna()).mark_line().encode(
        x=alt.X("date:T", title=None), y=alt.Y("sd:Q", title="sd from own baseline"),
        color=alt.Color("signal:N", title=None),
    ).properties(width=width, height=140).facet(column=alt.Column("equipment_id:N", title=None)).properties(
        title=f"Telemetry of the units at risk, last {days} days")


def spectra(source, units: list[str], as_of=None) -> pd.DataFrame:
    """Welch spectra of each unit's oldest and newest kept vibration waveform (``vibration_waveforms``).

    Returns
    -------
    DataFrame
        ``equipment_id, snapshot`` (``first kept`` / ``latest``, with its date), ``hz, mm_s``
        (amplitude, the square root of the Welch power); empty when no waveform is kept for them.
    """
    from scipy.signal import welch

    from quantlib.maintenance.vibration import waveform_matrix

    if not units:
        return pd.DataFrame(columns=["equipment_id", "snapshot", "hz", "mm_s"])
    with open_gold(source) as con:
        day = as_of_date(con, as_of)
        marks = ", ".join("?" * len(units))
        rows = con.execute(f"SELECT * FROM vibration_waveforms WHERE equipment_id IN ({marks}) "  # nosec B608
                           "AND ts::DATE <= ? ORDER BY equipment_id, ts", [*units, day]).df()
    if rows.empty:
        return pd.DataFrame(columns=["equipment_id", "snapshot", "hz", "mm_s"])
    keys, matrix, rate = waveform_matrix(rows)
    ends = keys.groupby("equipment_id")["ts"].agg(["min", "max"])
    frames = []
    for i, key in keys.iterrows():
        first, last = ends.loc[key["equipment_id"], "min"], ends.loc[key["equipment_id"], "max"]
        if key["ts"] not in (first, last):
            continue
        hz, power = welch(matrix[i], fs=rate, nperseg=min(512, matrix.shape[1]))
        label = ("latest" if key["ts"] == last else "first kept") + f" ({pd.Timestamp(key['ts']):%d %b})"
        frames.append(pd.DataFrame({"equipment_id": key["equipment_id"], "snapshot": label, "hz": hz,
                                    "mm_s": np.sqrt(power)}))
    return pd.concat(frames, ignore_index=True)


def spectra_chart(source, units: list[str], as_of=None, max_hz: float = 400.0, width: int = 170):
    """The units' vibration spectra, oldest kept against newest: a growing bearing-defect peak shows.

    Returns an Altair chart, or a Markdown sentence when no waveform is kept for the units.
    """
    from IPython.display import Markdown

    frame = spectra(source, units, as_of)
    if frame.empty:
        return Markdown("No vibration waveform is kept for these units.")
    frame = frame[(frame["hz"] > 0) & (frame["hz"] <= max_hz)]
    return alt.Chart(frame).mark_line(strokeWidth=1).encode(
        x=alt.X("hz:Q", title="frequency (Hz)"),
        y=alt.Y("mm_s:Q", title="amplitude (mm/s)", scale=alt.Scale(type="log")),
        color=alt.Color("snapshot:N", title=None),
    ).properties(width=width, height=140).facet(column=alt.Column("equipment_id:N", title=None)).properties(
        title="Vibration spectra of the units at risk: the oldest waveform kept against the latest")


def survival_chart(fleet: FleetHealth, units: list[str], days: int = 90) -> alt.Chart:
    """Each unit's predicted probability of running ``t`` more days without failure."""
    state = fleet.state[fleet.state["equipment_id"].isin(units)].reset_index(drop=True)
    grid = np.arange(1, days + 1)
    surv = fleet.model.survival_at(state, grid)
    frame = pd.DataFrame({"equipment_id": np.repeat(state["equipment_id"].to_numpy(), len(grid)),
                          "days": np.tile(grid, len(state)), "survival": surv.ravel()})
    return alt.Chart(frame).mark_line().encode(
        x=alt.X("days:Q", title="days from now"),
        y=alt.Y("survival:Q", title="P(still running)", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format=".0%")),
        color=alt.Color("equipment_id:N", title=None),
    ).properties(title="Remaining useful life", width=420, height=200)


def unit_readings(fleet: FleetHealth, unit: str, days: int = 90) -> pd.DataFrame:
    """One unit's daily telemetry over the last ``days``: raw readings and their deviations (sd).

    Columns ``date``, the signals (raw daily readings) and ``<signal>_z`` (standardised against the
    unit's own baseline, as :func:`signals_chart` draws them), oldest first.
    """
    f = fleet.features
    since = pd.Timestamp(fleet.as_of) - pd.Timedelta(days=days)
    recent = f[(f["equipment_id"] == unit) & (f["date"] > since)].sort_values("date")
    return recent[["date", *SIGNALS, *(f"{s}_z" for s in SIGNALS)]].reset_index(drop=True)


def readings_chart(fleet: FleetHealth, unit: str, days: int = 90, width: int = 560) -> alt.Chart:
    """One unit's raw daily readings over the last ``days``, one panel per signal (each on its own scale)."""
    long = unit_readings(fleet, unit, days).melt(id_vars="date", value_vars=list(SIGNALS), var_name="signal",
                                                 value_name="reading")
    return alt.Chart(long.dropna()).mark_line().encode(
        x=alt.X("date:T", title=None), y=alt.Y("reading:Q", title=None, scale=alt.Scale(zero=False)),
        color=alt.Color("signal:N", legend=None),
    ).properties(width=width, height=70).facet(row=alt.Row("signal:N", title=None)).resolve_scale(
        y="independent").properties(title=f"{unit}: daily readings, last {days} days")


@table_view(formats={"scheduled_date": "date", "completed_date": "date", "downtime_hours": "num1", "cost": "money"},
            labels={"event_id": "Event", "kind": "Kind", "scheduled_date": "Scheduled", "completed_date": "Completed",
                    "downtime_hours": "Downtime (hours)", "cost": "Cost"})
def unit_events(fleet: FleetHealth, unit: str) -> pd.DataFrame:
    """One unit's maintenance events up to the as-of date (failures, corrective and preventive), newest first."""
    events = fleet.events[fleet.events["equipment_id"] == unit].copy()
    for column in ("scheduled_date", "completed_date"):
        events[column] = pd.to_datetime(events[column])
    events = events.sort_values(["scheduled_date", "event_id"], ascending=False, ignore_index=True)
    return events[["event_id", "kind", "scheduled_date", "completed_date", "downtime_hours", "cost"]]


@table_view(formats={"failures": "int", "warned": "int", "median_lead_days": "num1", "warned_share": "pct",
                     "false_alarms_per_100_unit_months": "num1"},
            labels={"failures": "Failures", "warned": "Warned", "median_lead_days": "Median warning (days)",
                    "warned_share": "Warned a week ahead", "false_alarms_per_100_unit_months":
                    "False alarms per 100 unit-months"})
def warning_record(fleet: FleetHealth, days: int = 365) -> pd.DataFrame:
    """How the telemetry chart's warnings did on this company's own failures of the last ``days``.

    The chart is self-baselined per unit (nothing fitted on these failures), so this is a fair
    record: an alert starting in the 60 days before a failure warned it.
    """
    f = fleet.features
    since = pd.Timestamp(fleet.as_of) - pd.Timedelta(days=days)
    recent = f[f["date"] > since]
    alarms = ControlChartDetector().fit(f).predict(recent)
    fails = fleet.failures[pd.to_datetime(fleet.failures["failure_date"]) > since]
    summary, _ = alert_lead_times(alert_episodes(alarms), fails, len(recent), observed_from=since)
    return pd.DataFrame([{"failures": summary["failures"], "warned": summary["detected"],
                          "median_lead_days": summary["median_lead_days"], "warned_share": summary["warned_share"],
                          "false_alarms_per_100_unit_months": summary["false_alarms_per_100_unit_months"]}])


@table_view(formats={"health": "pct", "p_fail": "pct", "failure_cost": "money", "expected_cost": "money"},
            labels={"equipment_id": "Unit", "name": "Name", "health": "Health", "p_fail": "P(failure in 30 days)",
                    "failure_cost": "Cost of a failure", "expected_cost": "Expected cost avoided",
                    "skill": "Skill"})
def interventions(fleet: FleetHealth, threshold: float = HEALTH_THRESHOLD) -> pd.DataFrame:
    """The units due a work order and what acting is worth: P(failure) x the kind's mean failure cost.

    The failure cost is the mean recorded cost of the kind's failures (repairs); downtime's lost
    revenue is not in it, so the value is a floor.
    """
    kinds = fleet.units.set_index("equipment_id")["kind"]
    failures = fleet.failures.assign(unit_kind=lambda e: e["equipment_id"].map(kinds))
    cost = failures.groupby("unit_kind")["cost"].mean()
    due = fleet.units[fleet.units["health"] < threshold].copy()
    due["failure_cost"] = due["kind"].map(cost)
    due["expected_cost"] = due["p_fail"] * due["failure_cost"]
    due["skill"] = due["service_line"]
    return due[["equipment_id", "name", "health", "p_fail", "failure_cost", "expected_cost", "skill"]]


def interventions_line(table: pd.DataFrame) -> str:
    """One markdown line on the interventions due."""
    if table.empty:
        return "No unit is below the threshold: no work order is due."
    return (f"**{len(table)}** work order(s) due; acting on them avoids an expected "
            f"**{markdown_money(table['expected_cost'].sum())}** of repair cost in the next 30 days (a floor: lost "
            "revenue from downtime comes on top). `quant maintenance plan` opens them in the operational store.")


YEAR_DAYS = 365.25


@dataclass
class PreventivePlan(ReportSection):
    """How often to service each kind: a markdown line and the table (None when it cannot be fitted)."""

    caption: str | None = "Preventive interval by equipment kind"
    policy: PeriodicMaintenancePolicy | None = None


@table_view(formats={"units": "int", "current_interval": "int", "optimal_interval": "int", "current_cost": "money",
                     "optimal_cost": "money", "run_to_failure_cost": "money", "fleet_saving": "money"},
            labels={"kind": "Equipment kind", "units": "Units", "current_interval": "Serviced every (days)",
                    "optimal_interval": "Best interval (days)", "current_cost": "Cost per unit-year now",
                    "optimal_cost": "At the best interval", "run_to_failure_cost": "With no servicing",
                    "fleet_saving": "Fleet saving a year"})
def _policy_table(policy: PeriodicMaintenancePolicy, units: pd.Series) -> pd.DataFrame:
    t = policy.table_
    out = pd.DataFrame({
        "kind": t.index, "units": units.reindex(t.index).to_numpy(),
        "current_interval": t["current_interval"].to_numpy(),
        "optimal_interval": t["optimal_interval"].where(np.isfinite(t["optimal_interval"])).to_numpy(),
        "current_cost": (t["current_cost_rate"] * YEAR_DAYS).to_numpy(),
        "optimal_cost": (t["cost_rate"] * YEAR_DAYS).to_numpy(),
        "run_to_failure_cost": (t["run_to_failure_cost_rate"] * YEAR_DAYS).to_numpy(),
    })
    out["fleet_saving"] = (out["current_cost"] - out["optimal_cost"]) * out["units"]
    return out


def preventive_plan(source, as_of=None, min_failures: int = 10, max_interval_width: float = 0.5) -> PreventivePlan:
    """The preventive interval per equipment kind when a visit takes off only part of the wear.

    Fits :class:`~quantlib.maintenance.repair.PeriodicMaintenancePolicy` on the company's own
    visits and failures (costs from :func:`~quantlib.maintenance.policy.maintenance_costs`:
    repairs plus the revenue lost while down); a company with too few failures of known age gets
    a sentence saying so instead of a table, and so does one whose records cannot tell how much a
    visit restores (the 95 % interval of the restoration wider than ``max_interval_width``): an
    interval recommended on that would be a guess.
    """
    try:
        costs = maintenance_costs(source, as_of)
        policy = PeriodicMaintenancePolicy(min_failures=min_failures).fit(costs.history, costs.costs)
    except MaintenancePolicyError as reason:
        return PreventivePlan(f"The preventive interval cannot be estimated yet: {reason}.")
    low, high = policy.model_.restoration_interval_
    failures = int(policy.model_.table_["failures"].sum())
    if not high - low <= max_interval_width:
        return PreventivePlan(f"The records cannot tell yet how much a service visit restores ({failures} failures of "
                              f"units whose age is known; 95 % interval {low:.0%} to {high:.0%}): no preventive "
                              "interval is recommended until more failures are recorded.", policy=policy)
    table = _policy_table(policy, costs.costs["units"])
    saving = float(np.nansum(table["fleet_saving"]))
    line = (f"A service visit takes off about **{policy.model_.restoration_:.0%}** of a unit's wear "
            f"(95 % interval {low:.0%} to {high:.0%}), estimated from "
            f"{failures} failures of units whose age is known. ")
    if saving > 0:
        line += (f"Servicing each kind at its best interval would save about **{markdown_money(saving)}** a year "
                 "against the current rhythm (repairs and revenue lost while down).")
    else:
        line += "The current rhythm is already at or near the best interval."
    if len(policy.skipped_):
        line += " Not estimated: " + "; ".join(f"{k} ({r})" for k, r in policy.skipped_.itertuples(index=False)) + "."
    return PreventivePlan(line, table, policy=policy)
