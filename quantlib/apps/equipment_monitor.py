"""The equipment monitor (``notebooks/apps/equipment_monitor.ipynb``): health of every unit (chart and
table, lowest first, filtered by kind and region); a unit's readings and standardised signals, its
survival curve, its evidence and its maintenance history; the upcoming maintenance.

The figures come from :func:`quantlib.maintenance.health.equipment_health`, fitted once per app
(a few seconds at scale 1), and the charts and tables of :mod:`quantlib.maintenance.views.report`;
this module only lays them out. Every unit's survival curve is computed once, with the fit; a
click only slices and draws (each drawing remembered).

The fitted fleet health and the survival curves are kept in a signed cache
(:mod:`quantlib.apps.signed_cache`, ``.cache/equipment_monitor/`` or ``$QUANT_EQUIPMENT_CACHE``;
:func:`fitted_fleet`) keyed by gold's data version, the as-of date and the engines' source:
``quant prepare-apps`` fills it, and a kernel started later for the same warehouse loads it
instead of fitting. The threshold and the days of telemetry shown only change the display, so
they are not part of the key.

Upcoming maintenance is the open work orders of the operational store, read-only (the app never
creates, migrates or changes the store); when it holds none, the units below the threshold, the
orders ``quant maintenance plan`` would open, labelled as such.
"""

from __future__ import annotations

import html
import logging
import sqlite3
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from quantlib.apps.base import TABLE_CSS, WidgetApp, chart_svg, frame_html, gold_from_parameters
from quantlib.apps.signed_cache import cache_folder, cache_key, load_or_compute
from quantlib.maintenance.health import HEALTH_THRESHOLD, WORK_ORDER_COLUMNS, FleetHealth, evidence_line
from quantlib.maintenance.sensors import SIGNALS
from quantlib.maintenance.views.report import (
    EquipmentMonitorParameters,
    health_chart,
    health_table,
    interventions,
    readings_chart,
    signals_chart,
    survival_chart,
    unit_events,
    unit_readings,
)

__all__ = ["ALL", "EquipmentMonitor", "default_cache_dir", "fitted_fleet", "fleet_cache_path", "fleet_survival",
           "frame_html", "monitor_from_parameters", "open_work_orders"]

log = logging.getLogger(__name__)

#: The filters' "no filter" choice.
ALL = "all"
#: Days of every unit's survival curve (the model's horizon is at least 90 days).
SURVIVAL_DAYS = 90
#: Bump when the cached fit changes shape: old cache files are then not asked for.
CACHE_VERSION = 1
#: Packages and modules whose source is part of the cache key: a changed engine means a refit.
_ENGINE_MODULES = ("quantlib.maintenance", __name__)
CSS = TABLE_CSS + """
<style>
.em-root { font-family: Liberation Sans, Helvetica, Arial, sans-serif; color: #333; }
.em-root h1 { font-size: 22px; font-weight: 600; margin: 4px 0 2px 0; }
.em-root h2 { font-size: 16px; font-weight: 600; margin: 12px 0 4px 0; }
.em-sub { font-size: 13px; color: #666; }
.em-panel { background: #fff; border: 1px solid #e2e5e9; border-radius: 6px; padding: 10px 12px; margin: 8px 8px 0 0; }
.em-panel h3 { font-size: 14px; font-weight: 600; margin: 0 0 6px 0; }
table.em-table tr.em-below td { color: #a8352e; }
.em-big { font-size: 24px; font-weight: 600; }
.em-message { color: #a8352e; font-weight: 600; }
</style>
"""


def _has_table(con, name: str) -> bool:
    if isinstance(con, sqlite3.Connection):
        return bool(con.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
                                (name,)).fetchone()[0])
    return bool(con.execute("SELECT to_regclass(?) IS NOT NULL", (name,)).fetchone()[0])


def open_work_orders(ops_store=None) -> pd.DataFrame:
    """The open work orders of the operational store, read-only, soonest window first.

    ``ops_store`` as :func:`quantlib.alerts.views.store_target` (default ``$QUANT_OPS_DSN``, else
    ``$QUANT_OPS_DB``, else ``reports/.ops.sqlite``). A store that does not exist, or has no
    work orders table yet, has none: nothing is created.

    Raises
    ------
    quantlib.data.opstore.OpsStoreError
        The PostgreSQL server cannot be reached.
    """
    from quantlib.alerts.views import read_only_store

    # every column, not a list: a store not yet migrated (read-only, so it stays so) lacks the planned slot
    sql = "SELECT * FROM work_orders WHERE status = ?"
    with read_only_store(ops_store) as con:
        rows = [] if con is None or not _has_table(con, "work_orders") else [
            dict(r) for r in con.execute(sql, ("open",)).fetchall()]
    frame = pd.DataFrame(rows).reindex(columns=list(WORK_ORDER_COLUMNS))
    return frame.sort_values(["window_start", "id"], ignore_index=True)


def _proposed_visit(order) -> str:
    """``2024-07-02 09:30 with T012``, why there is no slot, or nothing when none was proposed."""
    if isinstance(order.planned_date, str):
        arrival = f" {order.planned_arrival}" if isinstance(order.planned_arrival, str) else ""
        return f"{order.planned_date}{arrival} with {order.planned_technician}"
    return order.planned_note if isinstance(order.planned_note, str) else ""


def fleet_survival(fleet: FleetHealth) -> pd.DataFrame:
    """Every unit's survival curve: P(still running after ``t`` days), units (lowest health first) x
    ``t`` = 1..:data:`SURVIVAL_DAYS`, from the fitted time-to-failure model."""
    grid = np.arange(1, SURVIVAL_DAYS + 1)
    units = fleet.units["equipment_id"]
    state = fleet.state.set_index("equipment_id").loc[units].reset_index()
    return pd.DataFrame(fleet.model.survival_at(state, grid), index=units, columns=grid)


def default_cache_dir(environ: dict | None = None) -> Path:
    """``$QUANT_EQUIPMENT_CACHE``, else ``.cache/equipment_monitor`` under the project root."""
    return cache_folder("QUANT_EQUIPMENT_CACHE", "equipment_monitor", environ)


def fitted_fleet(gold, as_of=None, cache_dir: Path | str | None = None) -> tuple[FleetHealth, pd.DataFrame, bool]:
    """``(equipment_health(gold, as_of), its fleet_survival, from_cache)``.

    Kept in ``cache_dir`` (none: no cache), keyed by gold's path and data version (a rebuild is a
    new key), ``as_of`` and the source of the maintenance engines
    (:func:`~quantlib.apps.signed_cache.cache_key`); the file is signed, and an unsigned,
    tampered or unreadable one is fitted again and overwritten.

    Raises
    ------
    WarehouseNotFoundError
        No gold warehouse at ``gold``.
    quantlib.maintenance.SensorDataError
        No telemetry or no failure recorded by the as-of date.
    """
    from quantlib.data.gold import gold_file
    from quantlib.maintenance.health import equipment_health

    gold = gold_file(gold)

    def fit() -> dict:
        fleet = equipment_health(gold, as_of)
        return {"fleet": fleet, "survival": fleet_survival(fleet)}

    path = None if cache_dir is None else fleet_cache_path(gold, as_of, cache_dir)
    state, from_cache = load_or_compute(path, fit, what="equipment health", logger=log)
    return state["fleet"], state["survival"], from_cache


def fleet_cache_path(gold, as_of=None, cache_dir: Path | str | None = None) -> Path:
    """The file :func:`fitted_fleet` keeps the fit of ``as_of`` in (default folder: :func:`default_cache_dir`)."""
    from quantlib.data.gold import gold_file

    key = cache_key(gold_file(gold), {"version": CACHE_VERSION, "survival_days": SURVIVAL_DAYS,
                                      "as_of": None if as_of is None else str(pd.Timestamp(as_of).date())},
                    _ENGINE_MODULES)
    return Path(default_cache_dir() if cache_dir is None else cache_dir) / f"equipment-monitor-{key}.pkl"


class EquipmentMonitor(WidgetApp):
    """Fleet health with filters, one unit's evidence, and the upcoming maintenance.

    Parameters
    ----------
    fleet : FleetHealth
        :func:`~quantlib.maintenance.health.equipment_health` of the company.
    company : str
        Shown as the title.
    threshold : float
        Health below this needs a work order.
    days : int
        Days of a unit's telemetry shown.
    ops_store : OpsStore, PostgresOpsStore or path, optional
        Where the open work orders are read (read-only); default as
        :func:`quantlib.alerts.views.store_target`.
    survival : DataFrame, optional
        :func:`fleet_survival` of ``fleet`` when already computed (from the cache); else computed here.

    Attributes
    ----------
    survival_ : DataFrame
        Every unit's survival curve (units x days 1..90).
    from_cache_ : bool
        Whether the fleet health was loaded from the cache (set by :func:`monitor_from_parameters`).
    fit_seconds_ : float or None
        Wall time of fitting (or loading) in :func:`monitor_from_parameters`.

    Notes
    -----
    :meth:`fleet_units`, :meth:`unit_row`, :meth:`unit_survival`, :meth:`upcoming` hold no
    widgets, so they can be checked against the engine directly.
    """

    from_cache_ = False
    fit_seconds_ = None

    def __init__(self, fleet: FleetHealth, company: str = "", threshold: float = HEALTH_THRESHOLD,
                 days: int = 90, ops_store=None, survival: pd.DataFrame | None = None):
        from quantlib.alerts.views import store_target

        self.fleet = fleet
        self.company = company
        self.threshold = float(threshold)
        self.days = int(days)
        # A SQLite file or a PostgreSQL store ($QUANT_OPS_DSN), never created or migrated here.
        self.ops_target = store_target(ops_store)
        units = fleet.units
        self.kinds_ = sorted(units["kind"].dropna().unique())
        self.regions_ = sorted(units["region"].dropna().unique())
        self.unit_options_ = [(f"{r.equipment_id} {r.name} ({r.health:.0%})", r.equipment_id)
                              for r in units.itertuples(index=False)]
        # Every unit's survival curve at once, with the fit: a click only slices it.
        self.survival_ = fleet_survival(fleet) if survival is None else survival
        self._svg_cache: dict[tuple, str] = {}
        self._widget = None

    # ------------------------------------------------------------------ figures

    def fleet_units(self, kind: str = ALL, region: str = ALL) -> pd.DataFrame:
        """The units of ``kind`` in ``region`` (:data:`ALL`: any), lowest health first."""
        units = self.fleet.units
        keep = pd.Series(True, index=units.index)
        if kind != ALL:
            keep &= units["kind"] == kind
        if region != ALL:
            keep &= units["region"] == region
        return units[keep].reset_index(drop=True)

    def unit_row(self, unit: str):
        """The unit's row of the engine's units table (health, p_fail, RUL, evidence)."""
        units = self.fleet.units
        return units[units["equipment_id"] == unit].iloc[0]

    def unit_survival(self, unit: str) -> pd.Series:
        """P(still running after ``t`` days), ``t`` = 1..90, from the fitted time-to-failure model."""
        return self.survival_.loc[unit]

    def upcoming(self) -> tuple[pd.DataFrame, str]:
        """The upcoming maintenance and where it comes from.

        Returns ``(open work orders, "store")`` when the operational store has open orders, else
        ``(units below the threshold, "planned")``: the orders ``quant maintenance plan`` would open
        (:func:`~quantlib.maintenance.views.report.interventions`, with what acting is worth).

        Raises
        ------
        quantlib.data.opstore.OpsStoreError
            The PostgreSQL store cannot be reached.
        """
        orders = open_work_orders(self.ops_target)
        if len(orders):
            return orders, "store"
        return interventions(self.fleet, self.threshold), "planned"

    # ------------------------------------------------------------------ charts

    def _svg(self, key: tuple, make) -> str:
        if key not in self._svg_cache:
            self._svg_cache[key] = chart_svg(make())
        return self._svg_cache[key]

    def fleet_chart_svg(self, kind: str = ALL, region: str = ALL) -> str:
        """:func:`health_chart` of the filtered units."""
        fleet = replace(self.fleet, units=self.fleet_units(kind, region))
        return self._svg(("fleet", kind, region), lambda: health_chart(fleet, self.threshold))

    def unit_svgs(self, unit: str) -> dict[str, str]:
        """The unit's readings, signals and survival charts as SVG."""
        return {
            "readings": self._svg(("readings", unit), lambda: readings_chart(self.fleet, unit, self.days)),
            "signals": self._svg(("signals", unit), lambda: signals_chart(self.fleet, [unit], self.days, width=560)),
            "survival": self._svg(("survival", unit), lambda: survival_chart(self.fleet, [unit], SURVIVAL_DAYS)),
        }

    # ------------------------------------------------------------------ widgets

    def _build(self) -> None:
        import ipywidgets as w

        style = {"description_width": "initial"}

        def dropdown(label, options, hook, width, value):
            box = w.Dropdown(options=options, value=value, description=label, style=style,
                             layout=w.Layout(width=width, margin="2px 14px 2px 0"))
            box.add_class(hook)
            return box

        self.kind = dropdown("Kind", [("All kinds", ALL), *((k, k) for k in self.kinds_)], "em-kind", "220px", ALL)
        self.region = dropdown("Region", [("All regions", ALL), *((r, r) for r in self.regions_)], "em-region",
                               "240px", ALL)
        self.unit = dropdown("Unit", self.unit_options_, "em-unit-picker", "520px", self.unit_options_[0][1])
        for box in (self.kind, self.region):
            box.observe(self._on_filter, names="value")
        self.unit.observe(self._on_unit, names="value")
        self.fleet_chart, self.fleet_table = w.HTML(), w.HTML()
        self.unit_summary, self.readings, self.signals = w.HTML(), w.HTML(), w.HTML()
        self.survival, self.events, self.upcoming_panel = w.HTML(), w.HTML(), w.HTML()
        fleet = self.fleet
        title = html.escape(self.company or "Equipment monitor")
        header = w.HTML(
            f'<h1>{title}: equipment</h1><div class="em-sub">Health on {pd.Timestamp(fleet.as_of):%d %b %Y}: the '
            f"probability of no failure in the next 30 days ({html.escape(fleet.basis)} model, "
            f"{fleet.failures_seen} failures learned from); below {self.threshold:.0%} a unit needs a work order."
            "</div>")
        self._widget = w.VBox([
            w.HTML(CSS), header,
            w.HTML("<h2>Fleet health</h2>"),
            w.HBox([self.kind, self.region], layout=w.Layout(flex_flow="row wrap", align_items="center")),
            w.HBox([self.fleet_chart, self.fleet_table], layout=w.Layout(flex_flow="row wrap")),
            w.HTML("<h2>Unit</h2>"), self.unit, self.unit_summary,
            w.HBox([self.readings, w.VBox([self.signals, self.survival])], layout=w.Layout(flex_flow="row wrap")),
            self.events,
            w.HTML("<h2>Upcoming maintenance</h2>"), self.upcoming_panel,
        ], layout=w.Layout(padding="8px 16px", max_width="1500px"))
        self._widget.add_class("em-root")

    def refresh(self) -> None:
        """Fill the fleet view, the unit picked and the upcoming maintenance."""
        self._on_filter()
        self._on_unit()
        self.refresh_upcoming()

    def _on_filter(self, _change=None) -> None:
        kind, region = self.kind.value, self.region.value
        units = self.fleet_units(kind, region)
        if units.empty:
            self.fleet_chart.value = ""
            self.fleet_table.value = ('<div class="em-panel em-fleet" data-units="0" data-below="0">'
                                      "No unit matches these filters.</div>")
            return
        self.fleet_chart.value = f'<div class="em-panel em-fleet-chart">{self.fleet_chart_svg(kind, region)}</div>'
        table = health_table(replace(self.fleet, units=units), top=len(units))
        below = set(units.loc[units["health"] < self.threshold, "equipment_id"])
        health = dict(zip(units["equipment_id"], units["health"]))
        body = frame_html(table, "em-fleet-table",
                          row_attrs=lambda r: {"unit": r.equipment_id, "health": f"{health[r.equipment_id]:.6f}"},
                          row_class=lambda r: "em-below" if r.equipment_id in below else "")
        self.fleet_table.value = (f'<div class="em-panel em-fleet" data-units="{len(units)}" data-below="{len(below)}">'
                                  f"<h3>{len(units)} units, {len(below)} below {self.threshold:.0%}</h3>{body}</div>")

    def _on_unit(self, _change=None) -> None:
        unit = self.unit.value
        try:
            self._show_unit(unit)
        except Exception as problem:  # never a stack trace in front of a user; the log has it
            log.exception("equipment monitor: showing unit %s failed", unit)
            self.unit_summary.value = (f'<div class="em-panel em-message">Could not show {html.escape(str(unit))} '
                                       f"({type(problem).__name__}).</div>")
            self.readings.value = self.signals.value = self.survival.value = self.events.value = ""

    def _show_unit(self, unit: str) -> None:
        row = self.unit_row(unit)
        surv = self.unit_survival(unit)
        latest = unit_readings(self.fleet, unit, self.days).tail(1)
        rul = "over 90 days" if pd.isna(row.median_rul_days) else f"{int(row.median_rul_days)} days"
        reading_attrs = "".join(
            f' data-{s}="{latest[s].iloc[0]:.6g}" data-{s}-z="{latest[f"{s}_z"].iloc[0]:.6g}"'
            for s in SIGNALS if len(latest) and pd.notna(latest[s].iloc[0]) and pd.notna(latest[f"{s}_z"].iloc[0]))
        readings = " &middot; ".join(
            f"{s} {latest[s].iloc[0]:.4g} ({latest[f'{s}_z'].iloc[0]:+.1f} sd)" for s in SIGNALS
            if len(latest) and pd.notna(latest[s].iloc[0]) and pd.notna(latest[f"{s}_z"].iloc[0]))
        last = f" on {pd.Timestamp(latest['date'].iloc[0]):%d %b %Y}" if len(latest) else ""
        self.unit_summary.value = (
            f'<div class="em-panel em-unit" data-unit="{html.escape(unit)}" data-health="{row.health:.6f}" '
            f'data-p-fail="{row.p_fail:.6f}" data-age="{int(row.age_days)}" '
            f'data-survival-30="{surv.loc[30]:.6f}" data-survival-60="{surv.loc[60]:.6f}" '
            f'data-survival-90="{surv.loc[90]:.6f}"{reading_attrs}>'
            f"<h3>{html.escape(unit)} {html.escape(str(row['name']))} &middot; {html.escape(str(row.kind))}, "
            f"{html.escape(str(row.service_line))}, {html.escape(str(row.region))}</h3>"
            f'<div>Health <span class="em-big">{row.health:.1%}</span> &middot; P(failure in 30 days) '
            f"{row.p_fail:.1%} &middot; median remaining life {rul} &middot; {int(row.age_days)} days since its "
            f"last failure &middot; still running after 60 days {surv.loc[60]:.1%}, after 90 days {surv.loc[90]:.1%}"
            f'</div><div class="em-evidence">Evidence: {html.escape(evidence_line(row))}</div>'
            f'<div class="em-sub">Latest readings{last}: {readings or "none"}</div></div>')
        svgs = self.unit_svgs(unit)
        self.readings.value = f'<div class="em-panel em-readings">{svgs["readings"]}</div>'
        self.signals.value = f'<div class="em-panel em-signals">{svgs["signals"]}</div>'
        self.survival.value = f'<div class="em-panel em-survival">{svgs["survival"]}</div>'
        events = unit_events(self.fleet, unit)
        body = (frame_html(events, "em-events-table", row_attrs=lambda r: {"event": r.event_id, "kind": r.kind})
                if len(events) else "<p>No maintenance recorded on this unit.</p>")
        # Filled last: a page that shows this unit's history shows all of the unit.
        self.events.value = (f'<div class="em-panel em-events" data-unit="{html.escape(unit)}" '
                             f'data-events="{len(events)}" '
                             f'data-failures="{int((events["kind"] == "failure").sum())}">'
                             f"<h3>Maintenance history ({len(events)} events)</h3>{body}</div>")

    def refresh_upcoming(self) -> None:
        """Re-read the open work orders and redraw the upcoming maintenance."""
        from quantlib.data.opstore import OpsStoreError

        try:
            frame, source = self.upcoming()
        except OpsStoreError as problem:  # the fleet still shows; the panel says why it has no orders
            self.upcoming_panel.value = f'<div class="em-panel em-message">{html.escape(str(problem))}</div>'
            return
        if source == "store":
            shown = frame[["id", "equipment_id", "opened_on", "window_start", "window_end", "skill", "health",
                           "reason"]].copy()
            # the slot quant maintenance plan --schedule proposed around the booked jobs, when it ran
            shown["planned"] = [_proposed_visit(order) for order in frame.itertuples(index=False)]
            shown.attrs = {"formats": {"id": "int", "health": "pct"},
                           "labels": {"id": "Order", "equipment_id": "Unit", "opened_on": "Opened",
                                      "window_start": "Window from", "window_end": "to", "skill": "Skill",
                                      "health": "Health when opened", "reason": "Why", "planned": "Proposed visit"}}
            note = (f"{len(frame)} open work order(s) in the operational store "
                    f"({html.escape(str(getattr(self.ops_target, 'location', self.ops_target)))}).")
        else:
            shown = frame
            note = (f"No open work order in the operational store. These {len(frame)} unit(s) are below health "
                    f"{self.threshold:.0%}: <code>quant maintenance plan</code> would open a work order for each "
                    "(not opened yet)." if len(frame) else
                    f"No open work order in the operational store, and no unit is below health {self.threshold:.0%}:"
                    " no work order is due.")
        table = frame_html(shown, "em-upcoming-table", row_attrs=lambda r: {"unit": r.equipment_id}) if len(frame) \
            else ""
        self.upcoming_panel.value = (f'<div class="em-panel em-upcoming" data-source="{source}" '
                                     f'data-orders="{len(frame)}"><div class="em-sub">{note}</div>{table}</div>')


def monitor_from_parameters(company: str = "mixed_trades", lake: str | None = None, as_of=None,
                            threshold: float = HEALTH_THRESHOLD, days: int = 90,
                            environ: dict | None = None) -> EquipmentMonitor:
    """The fitted app of the notebook's parameters; ``QUANT_COMPANY`` / ``QUANT_LAKE`` / ``QUANT_AS_OF`` win
    (and ``QUANT_EQUIPMENT_THRESHOLD`` / ``QUANT_EQUIPMENT_DAYS``).

    The fleet health comes from the cache in :func:`default_cache_dir` when ``quant prepare-apps``
    (or an earlier kernel) fitted it for this warehouse and as-of date (:func:`fitted_fleet`;
    ``from_cache_`` says which).

    Raises
    ------
    quantlib.parameters.ParameterError
        Unknown company, a malformed date or a bad threshold, in one line.
    FileNotFoundError
        The lake has no gold database yet.
    quantlib.maintenance.SensorDataError
        No telemetry or no failure recorded by the as-of date (nothing to learn health from).
    """
    from quantlib.data.gold import open_gold

    started = time.perf_counter()
    params, gold = gold_from_parameters(company, lake, as_of, environ, model=EquipmentMonitorParameters,
                                        prefix="QUANT_EQUIPMENT_", threshold=threshold, days=days)
    if not Path(gold).exists():
        raise FileNotFoundError(f"{gold} does not exist; run 'quant warehouse build' first")
    fleet, survival, from_cache = fitted_fleet(gold, params.as_of, cache_dir=default_cache_dir(environ))
    with open_gold(gold) as con:
        row = con.execute("SELECT any_value(company) FROM build_info").fetchone()
    app = EquipmentMonitor(fleet, company=(row[0] if row else None) or params.company,
                           threshold=params.threshold, days=params.days, survival=survival)
    app.from_cache_, app.fit_seconds_ = from_cache, time.perf_counter() - started
    return app
