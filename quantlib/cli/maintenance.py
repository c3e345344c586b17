"""``quant maintenance plan``: equipment health, and maintenance work orders for the units at risk.

Examples::

    quant maintenance plan                               # gold's as-of date
    quant maintenance plan --as-of 2024-06-30 --out work_orders.csv
    quant maintenance plan --as-of 2024-06-30 --schedule # and a slot for each open order

Computes every unit's health (the probability of no failure in the next 30 days, from its age
and telemetry; :mod:`quantlib.maintenance.health`), opens a work order in the operational
store for each unit below the threshold that has none open (re-running opens nothing new),
closes orders whose unit was serviced or recovered, prints the fleet and the open orders, and
writes the open orders as CSV for the company's field-service system (``--out``).

With ``--schedule`` each open order also gets a proposed slot around the jobs already booked
(:func:`quantlib.maintenance.windows.schedule_maintenance`: a day of its window, a qualified
technician, the arrival time and the drive minutes the visit adds), or the reason it has none;
the slots are printed next to the orders, recorded on the open orders in the operational store
(``planned_date, planned_technician, planned_arrival, planned_drive_minutes``, or ``planned_note``
saying why there is none; a later ``--schedule`` replaces them) and exported with them
(``--out``). The slot is a proposal: no job is booked in gold.

Exit status: 0 when it ran; 2 for a usage error (no warehouse, bad date, no telemetry or no
failure to learn from, unusable store).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from quantlib.cli.app import app, company_option, lake_option

maintenance_app = typer.Typer(name="maintenance", help="Equipment health and maintenance work orders.",
                              no_args_is_help=True)
app.add_typer(maintenance_app, name="maintenance")


@maintenance_app.command("plan")
def plan(
    as_of: str = typer.Option(None, "--as-of", help="Plan as of this date (YYYY-MM-DD); default gold's."),
    threshold: float = typer.Option(0.3, "--threshold", min=0.0, max=1.0,
                                    help="Health below this opens a work order."),
    out: Optional[Path] = typer.Option(None, "--out", help="Write the open work orders here (CSV)."),
    schedule: bool = typer.Option(False, "--schedule",
                                  help="Propose a slot (day, technician, arrival) for each open order around "
                                       "the booked jobs."),
    days: int = typer.Option(14, "--days", min=1, help="With --schedule: days planned from the first window start."),
    lake: Optional[Path] = lake_option("reads LAKE/gold.duckdb"),
    company: Optional[str] = company_option(),
) -> None:
    """Score equipment health, open work orders below the threshold, print and export them."""
    from quantlib.config import resolve_lake
    from quantlib.data.lake import Lake
    from quantlib.data.opstore import OpsStoreError, open_ops_store
    from quantlib.maintenance import SensorDataError
    from quantlib.maintenance.health import equipment_health, plan_work_orders, record_slots, work_orders

    gold = Lake(resolve_lake(lake, company)).gold
    if not gold.exists():
        raise typer.BadParameter(f"{gold} does not exist; run 'quant warehouse build' first", param_hint="--lake")
    try:
        store = open_ops_store()
        fleet = equipment_health(gold, as_of)
        opened = plan_work_orders(gold, store, threshold=threshold, health=fleet)
        open_orders = work_orders(store, status="open")
        slots = None
        if schedule and not open_orders.empty:
            from quantlib.maintenance.windows import schedule_maintenance

            plan = schedule_maintenance(gold, open_orders, days=days)
            record_slots(plan.slots, store)
            open_orders = work_orders(store, status="open")
            slots = plan.slots.set_index("order_id")
    except (SensorDataError, OpsStoreError, ValueError) as problem:
        typer.echo(f"quant maintenance plan: {problem}", err=True)
        raise typer.Exit(2) from None
    console = Console(width=150)
    table = Table(title=f"Equipment health on {fleet.as_of} ({fleet.basis}; {fleet.failures_seen} failures seen)")
    for column, justify in (("unit", "left"), ("kind", "left"), ("health", "right"), ("P(fail 30 d)", "right"),
                            ("median RUL", "right"), ("chart", "left"), ("top signal", "left")):
        table.add_column(column, justify=justify)
    for row in fleet.units.itertuples(index=False):
        table.add_row(f"{row.equipment_id} {row.name}", row.kind, f"{row.health:.2f}", f"{row.p_fail:.0%}",
                      "-" if row.median_rul_days != row.median_rul_days else f"{row.median_rul_days:.0f} d",
                      "alarm" if row.alarm else "", f"{row.top_signal} {row.top_signal_z:+.1f} sd")
    console.print(table)
    console.print(f"{len(opened)} work order(s) opened now; {len(open_orders)} open in total.")
    for order in open_orders.itertuples(index=False):
        console.print(f"  #{order.id} {order.equipment_id}: {order.reason}; window {order.window_start} to "
                      f"{order.window_end}, skill {order.skill}")
        if slots is not None:
            slot = slots.loc[order.id]
            if slot["status"] == "scheduled":
                console.print(f"      slot: {slot['date']} with {slot['technician_id']}, arrival {slot['arrival']}, "
                              f"+{slot['added_drive_minutes']:.0f} drive min")
            else:
                console.print(f"      slot: none ({slot['reason']})")
    if out is not None:
        open_orders.to_csv(out, index=False)
        console.print(f"Wrote {len(open_orders)} open work order(s) to {out}")
