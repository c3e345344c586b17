"""The executive dashboard: KPIs against targets, with trend, for a date range and a slice.

All logic of the Voila app ``notebooks/apps/executive_dashboard.ipynb`` lives here; the
notebook only builds and displays an :class:`ExecutiveDashboard`.

>>> dash = ExecutiveDashboard("data/demo/mixed_trades/lake/gold.duckdb")      # doctest: +SKIP
>>> dash.values(dash.default_range()[0], dash.as_of, Filters(service_line="hvac"))  # doctest: +SKIP
{'revenue': 41234.5, 'profit_margin': 0.31, ..., 'technician_utilisation': None}
>>> dash                                   # in a notebook: the widgets  # doctest: +SKIP

Every KPI but revenue comes from the KPI registry (:mod:`quantlib.kpi`) with the window set
to the chosen date range and the registry's own filters, so the dashboard can never
disagree with reports. A KPI the registry cannot compute for a slice (utilisation by
service line, DSO by technician) shows "n/a" with the reason as a tooltip.

Charts are Altair specs converted to SVG in Python (vl-convert) and shown in an HTML
widget: no Vega JavaScript in the page, no large JSON outputs through the kernel.

An alerts panel lists the open alerts of the operational store (``$QUANT_OPS_DB``, else
``reports/.ops.sqlite``) grouped by level, critical first, each with an **Acknowledge**
button that calls :meth:`quantlib.alerts.AlertEngine.acknowledge` (recorded in the alert
history as acknowledged "from the executive dashboard"). The panel reads the store read-only
(:mod:`quantlib.alerts.views`); only a click writes.
"""

from __future__ import annotations

import asyncio
import calendar
import datetime as dt
import html
import logging
import math
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import altair as alt
import pandas as pd

from quantlib.apps.base import WidgetApp, gold_from_parameters
from quantlib.data.gold import connect_gold, gold_as_of, gold_file, to_date
from quantlib.kpi import Filters, KpiUnavailable, get_kpi, monthly_revenue_target, technician_scorecard
from quantlib.kpi.registry import is_alert, target_status, targets_of
from quantlib.views.formatting import format_kpi_value
from quantlib.views.theme import FONT, INK, PALETTE, house_theme

__all__ = ["CARDS", "Card", "ExecutiveDashboard", "KpiValue", "dashboard_from_parameters"]

log = logging.getLogger(__name__)

#: Days in the default date range (ending at the as-of date).
DEFAULT_DAYS = 30
#: Seconds a filter must stay unchanged before the dashboard recomputes; a user who
#: changes two filters in a row (or types a date) triggers one update, not several.
DEBOUNCE_SECONDS = 0.1
#: A change smaller than this (relative) is shown as flat: noise is not a trend.
FLAT_CHANGE = 0.005
#: Off target by less than this (relative to the target) is amber, more is red.
AMBER_BAND = 0.05
#: Chart width in px; the SVG scales down to narrower screens (max-width: 100%).
CHART_WIDTH = 1080
ALL = "All"


@dataclass(frozen=True)
class Card:
    """One KPI card: which number, how to show it.

    Attributes
    ----------
    name : str
        ``revenue`` or a KPI registry name; also the ``data-kpi`` DOM hook.
    label : str
        Card title.
    unit : str
        ``currency``, ``ratio``, ``rating`` or ``days`` (see :func:`quantlib.views.formatting.format_kpi_value`).
    direction : str
        ``higher`` or ``lower`` is better.
    """

    name: str
    label: str
    unit: str
    direction: str


#: The cards, left to right. Units and directions of registry KPIs are the registry's.
CARDS: tuple[Card, ...] = (
    Card("revenue", "Revenue", "currency", "higher"),
    *(Card(name, label, get_kpi(name).unit, get_kpi(name).direction) for name, label in [
        ("profit_margin", "Profit margin"),
        ("customer_satisfaction", "Satisfaction"),
        ("technician_utilisation", "Utilisation"),
        ("quality_rate", "Quality rate"),
        ("technician_efficiency", "Tech. efficiency"),
        ("dso", "DSO"),
        ("churn_risk_share", "Churn-risk share"),
    ]),
)


@dataclass(frozen=True)
class KpiValue:
    """A card's numbers for one range and slice.

    Attributes
    ----------
    name : str
        Card name.
    value : float or None
        ``None`` when the KPI cannot be computed here; ``reason`` says why.
    target : float or None
        The target for the range (revenue: the monthly target prorated to the range).
    previous : float or None
        The value for the previous period of the same length (for the trend arrow).
    reason : str
        Why ``value`` is missing (empty when it is not).
    target_reason : str
        Why ``target`` is missing (e.g. no revenue target for a slice).
    """

    name: str
    value: float | None
    target: float | None = None
    previous: float | None = None
    reason: str = ""
    target_reason: str = ""


def _friendly(reason: str) -> str:
    # The registry's reasons name fields ("... cannot be filtered by service_line"); a manager
    # reads "not available by service line".
    if "cannot be filtered by" in reason:
        fields = reason.split("cannot be filtered by", 1)[1].strip()
        return "not available by " + fields.replace("technician_id", "technician").replace("_", " ")
    return reason


def _tolerance(card: Card) -> float | None:
    return None if card.name == "revenue" else get_kpi(card.name).tolerance


def _position(card: Card, kv: KpiValue) -> str:
    """``above target``, ``on target``, ``below target`` (the registry's words), or ``""``."""
    position = target_status(kv.value, kv.target, _tolerance(card))
    return position if position.endswith(" target") and position != "no target" else ""


def _status(card: Card, kv: KpiValue) -> str:
    """``ok``, ``amber``, ``red`` or ``none`` (no value or no target).

    ``ok`` on target or on the better side; off target on the worse side (the registry's
    alert) is ``amber`` within :data:`AMBER_BAND` of the target, else ``red``.
    """
    if kv.value is None or kv.target is None:
        return "none"
    if not is_alert(kv.value, kv.target, card.direction, _tolerance(card)):
        return "ok"
    gap = abs(kv.value - kv.target)
    return "amber" if gap <= AMBER_BAND * abs(kv.target or 1) else "red"


def _trend(card: Card, kv: KpiValue) -> tuple[str, str]:
    """(arrow, css class) for the change against the previous period."""
    if kv.value is None or kv.previous is None:
        return "", "flat"
    change = kv.value - kv.previous
    scale = abs(kv.previous) or 1.0
    if abs(change) / scale < FLAT_CHANGE:
        return "&#9654;", "flat"
    better = change > 0 if card.direction == "higher" else change < 0
    return ("&#9650;" if change > 0 else "&#9660;"), ("good" if better else "bad")


def _change_text(card: Card, kv: KpiValue) -> str:
    if kv.value is None or kv.previous is None:
        return ""
    if card.unit == "ratio":
        return f"{(kv.value - kv.previous) * 100:+.1f} pt"
    if kv.previous == 0:
        return ""
    return f"{(kv.value - kv.previous) / abs(kv.previous):+.1%}"


CSS = f"""
<style>
.qd-root {{ font-family: {FONT}; color: {INK}; }}
.qd-header h1 {{ font-size: 22px; font-weight: 600; margin: 4px 0 2px 0; }}
.qd-header .qd-sub {{ font-size: 13px; color: #666; }}
.qd-card {{ background: #fff; border: 1px solid #e2e5e9; border-top: 4px solid #b9bec5;
           border-radius: 6px; padding: 10px 12px 8px 12px; min-height: 96px;
           box-shadow: 0 1px 2px rgba(0,0,0,.05); line-height: 1.3; font-family: {FONT}; }}
.qd-card.ok {{ border-top-color: #3c8d5a; }}
.qd-card.amber {{ border-top-color: #d9a23c; }}
.qd-card.red {{ border-top-color: #c2453d; }}
.qd-label {{ font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: #5c6670;
             white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }}
.qd-value {{ font-size: 26px; font-weight: 600; margin: 4px 0 2px 0; white-space: nowrap; }}
.qd-card.ok .qd-value {{ color: #2d6e45; }}
.qd-card.red .qd-value {{ color: #a8352e; }}
.qd-card.amber .qd-value {{ color: #9a6b12; }}
.qd-card.na .qd-value {{ color: #9aa1a8; }}
.qd-foot {{ font-size: 12px; color: #5c6670; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }}
.qd-vs {{ color: #8a9199; }}
.qd-trend.good {{ color: #2d6e45; }} .qd-trend.bad {{ color: #a8352e; }} .qd-trend.flat {{ color: #7a828a; }}
.qd-note {{ font-size: 11px; color: #8a9199; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }}
.qd-panel {{ background: #fff; border: 1px solid #e2e5e9; border-radius: 6px; padding: 10px 12px; }}
.qd-panel h2 {{ font-size: 15px; font-weight: 600; margin: 0 0 6px 0; }}
.qd-panel svg {{ max-width: 100%; height: auto; }}
table.qd-table {{ border-collapse: collapse; width: 100%; font-size: 12.5px; font-family: {FONT}; }}
table.qd-table th {{ text-align: right; font-weight: 600; color: #5c6670; border-bottom: 2px solid #e2e5e9;
                    padding: 4px 8px; white-space: nowrap; }}
table.qd-table td {{ text-align: right; padding: 4px 8px; border-bottom: 1px solid #eef0f2; white-space: nowrap; }}
table.qd-table th:first-child, table.qd-table td:first-child,
table.qd-table th:nth-child(2), table.qd-table td:nth-child(2) {{ text-align: left; }}
table.qd-table td.low {{ color: #a8352e; }}
.qd-status {{ font-size: 12px; color: #7a828a; padding-top: 6px; min-width: 160px; }}
.qd-status.error {{ color: #a8352e; }}
.qd-empty {{ color: #7a828a; font-size: 13px; padding: 20px 0; }}
.qd-alerts h3 {{ font-size: 13px; font-weight: 600; margin: 8px 0 4px 0; text-transform: uppercase;
                letter-spacing: .04em; }}
.qd-alerts h3.critical {{ color: #a8352e; }} .qd-alerts h3.warning {{ color: #9a6b12; }}
.qd-alerts h3.info {{ color: #5c6670; }}
.qd-alert {{ font-size: 13px; line-height: 1.35; padding: 4px 0; }}
.qd-alert .qd-alert-meta {{ font-size: 11.5px; color: #7a828a; }}
.qd-alert .qd-alert-state {{ font-size: 11.5px; color: #2d6e45; font-weight: 600; }}
</style>
"""


class ExecutiveDashboard(WidgetApp):
    """KPIs against targets with trend, a revenue chart and a technician table, with filters.

    Parameters
    ----------
    gold_path : Path or str
        The gold DuckDB file; opened read-only and kept open (one connection, the
        dashboard's queries are sequential).
    as_of : date or str, optional
        Last day of the default range; default: the build's as-of date.
    debounce : float
        Seconds a filter must rest before recomputing (0: recompute at once).
    ops_store : Path or str, optional
        The operational store whose open alerts the alerts panel shows (default
        ``$QUANT_OPS_DB``, else ``reports/.ops.sqlite``).

    Attributes
    ----------
    as_of : date
    targets : dict
        Gold's targets table.
    service_lines, regions : list of str
    technicians : list of (str, str)
        ``(label, technician_id)`` dropdown options.

    Notes
    -----
    Display the object (or :attr:`widget`) in a notebook. :meth:`values` and
    :meth:`evaluate` are pure (no widgets) and cached per (range, filters): switching back
    to a slice already seen costs nothing.

    Subclasses (:class:`~quantlib.apps.operations_dashboard.OperationsDashboard`) set
    :attr:`sections` (their cards, grouped under headings) and :meth:`panels_html` (what
    follows the cards and the alerts); filters, cards, trends, targets and alerts are shared.
    """

    #: The cards, grouped: ``(heading, cards)`` pairs; an empty heading shows none.
    sections: tuple[tuple[str, tuple[Card, ...]], ...] = (("", CARDS),)
    #: The class of the page's root element (CSS scope and DOM hook of browser tests).
    root_class = "qd-root"
    #: The dashboard's name in comment targets (``dashboard:<name>``, ``chart:<name>/<chart>``).
    dashboard_name = "executive_dashboard"
    #: What the dashboard is called in exports.
    title = "Executive dashboard"
    #: The charts a comment can be about, at a day: ``(key, label)``.
    comment_charts: tuple[tuple[str, str], ...] = (("daily_revenue", "Daily revenue chart"),)

    def __init__(self, gold_path: Path | str, as_of=None, *, debounce: float = DEBOUNCE_SECONDS,
                 ops_store: Path | str | None = None, annotations: Path | str | None = None):
        from quantlib.alerts.views import store_target
        from quantlib.apps.collaboration import CommentsPanel, ExportBar
        from quantlib.data.annotations import AnnotationStore

        self.gold_path = gold_file(gold_path)
        # A SQLite file or a PostgreSQL store ($QUANT_OPS_DSN); opened only when the panel reads it.
        self.ops_target = store_target(ops_store)
        self.con = connect_gold(self.gold_path)
        self.as_of = gold_as_of(self.con) if as_of is None else to_date(as_of)
        self.data_start = self.con.execute("SELECT data_start FROM build_params").fetchone()[0]
        self.targets = targets_of(self.con)
        row = self.con.execute("SELECT any_value(company) FROM build_info").fetchone() \
            if self._has_column("build_info", "company") else None
        self.company = (row[0] if row else None) or ""
        self.service_lines = [r[0] for r in self.con.execute(
            "SELECT DISTINCT service_line FROM job_facts WHERE service_line IS NOT NULL ORDER BY 1").fetchall()]
        self.regions = [r[0] for r in self.con.execute(
            "SELECT DISTINCT region FROM job_facts WHERE region IS NOT NULL ORDER BY 1").fetchall()]
        self.technicians = [(f"{name} ({tid})", tid) for tid, name in self.con.execute(
            "SELECT technician_id, name FROM technicians ORDER BY name, technician_id").fetchall()]
        self.debounce = debounce
        self.comments = CommentsPanel(AnnotationStore(annotations), self.dashboard_name, self.comment_charts,
                                      on_change=self.refresh)
        self.exports = ExportBar(self.export_content)
        self._cache: OrderedDict = OrderedDict()
        self._widget = None
        self._pending = None
        self.last_update_seconds: float | None = None

    # ------------------------------------------------------------------ numbers

    def _has_column(self, table: str, column: str) -> bool:
        return bool(self.con.execute(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = ? AND column_name = ?",
            [table, column]).fetchone()[0])

    def default_range(self) -> tuple[dt.date, dt.date]:
        """The default date range: the 30 days ending at :attr:`as_of`."""
        return self.as_of - dt.timedelta(days=DEFAULT_DAYS - 1), self.as_of

    def revenue(self, start, end, filters: Filters | None = None) -> float:
        """Revenue of the jobs completed in [start, end] (inclusive) in the slice."""
        where, params = _job_where(filters or Filters())
        return float(self.con.execute(
            f"SELECT coalesce(sum(revenue), 0) FROM job_facts "
            f"WHERE is_completed AND completed_date BETWEEN ? AND ? {where}",
            [to_date(start), to_date(end), *params]).fetchone()[0])

    def revenue_target(self, start, end, filters: Filters | None = None) -> float:
        """The monthly revenue target prorated to [start, end]: per day, target / days in that month.

        The same daily target as :func:`quantlib.kpi.daily_revenue_vs_target`, summed.

        Raises
        ------
        KpiUnavailable
            No target for the slice (a company target is never used for a slice).
        """
        monthly = monthly_revenue_target(self.con, filters or Filters())
        start, end = to_date(start), to_date(end)
        day, total = start, 0.0
        while day <= end:
            total += monthly / calendar.monthrange(day.year, day.month)[1]
            day += dt.timedelta(days=1)
        return total

    def _one(self, name: str, start: dt.date, end: dt.date, filters: Filters) -> tuple[float | None, str]:
        try:
            if name == "revenue":
                return self.revenue(start, end, filters), ""
            # The window is the chosen range: the registry's compute() takes its first day.
            return get_kpi(name).compute(self.con, end, window=start, filters=filters), ""
        except KpiUnavailable as reason:
            return None, _friendly(str(reason))

    def _target(self, name: str, start: dt.date, end: dt.date, filters: Filters) -> tuple[float | None, str]:
        if name == "revenue":
            try:
                return self.revenue_target(start, end, filters), ""
            except KpiUnavailable as reason:
                return None, str(reason)
        target = get_kpi(name).target_from(self.targets)
        return target, "" if target is not None else "no target set"

    def evaluate(self, start, end, filters: Filters | None = None) -> dict[str, KpiValue]:
        """Every card's value, target, previous-period value and reasons, by card name.

        Parameters
        ----------
        start, end : date or str
            First and last day of the range (inclusive).
        filters : Filters, optional
            Service line, region, technician; ``None`` fields mean all.

        Returns
        -------
        dict of str to KpiValue
            In :data:`CARDS` order. The previous period is the same number of days
            ending the day before ``start``.
        """
        start, end, filters = to_date(start), to_date(end), filters or Filters()
        if start > end:
            raise ValueError(f"start {start} is after end {end}")
        key = (start, end, filters)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        days = (end - start).days + 1
        prev_end = start - dt.timedelta(days=1)
        prev_start = prev_end - dt.timedelta(days=days - 1)
        result = {}
        for card in self.all_cards:
            value, reason = self._one(card.name, start, end, filters)
            previous = self._one(card.name, prev_start, prev_end, filters)[0] if value is not None else None
            target, target_reason = self._target(card.name, start, end, filters)
            result[card.name] = KpiValue(card.name, value, target, previous, reason, target_reason)
        self._cache[key] = result
        while len(self._cache) > 64:  # bounded: a long session must not grow without limit
            self._cache.popitem(last=False)
        return result

    @property
    def all_cards(self) -> tuple[Card, ...]:
        """Every card of every section, in order."""
        return tuple(card for _, cards in self.sections for card in cards)

    def values(self, start, end, filters: Filters | None = None) -> dict[str, float | None]:
        """The cards' values for [start, end] and ``filters``: ``{name: value or None}``.

        ``None`` means the KPI cannot be computed here (see :meth:`evaluate` for why).
        Revenue is the sum of completed-job revenue in the range; the others are the KPI
        registry's values with the window set to the range, as of ``end``.
        """
        return {name: kv.value for name, kv in self.evaluate(start, end, filters).items()}

    def daily_revenue(self, start, end, filters: Filters | None = None) -> pd.DataFrame:
        """Daily revenue in [start, end]: ``date, actual, actual_ma7, target``.

        ``actual_ma7`` is the mean of the 7 days ending that day (the 6 days before
        ``start`` count, days without completions are 0), ``target`` the monthly target /
        days in the month (NaN when the slice has no target). Unlike
        :func:`quantlib.kpi.daily_revenue_vs_target` it also slices by technician.
        """
        start, end, filters = to_date(start), to_date(end), filters or Filters()
        where, params = _job_where(filters)
        frame = self.con.execute(
            f"""
            WITH days AS (
                SELECT unnest(generate_series(?::DATE - 6, ?::DATE, INTERVAL 1 DAY))::DATE AS date
            ), actual AS (
                SELECT completed_date AS date, sum(revenue) AS actual FROM job_facts
                WHERE is_completed AND completed_date BETWEEN ?::DATE - 6 AND ?::DATE {where}
                GROUP BY 1
            ), series AS (
                SELECT d.date, coalesce(a.actual, 0) AS actual,
                       avg(coalesce(a.actual, 0)) OVER (ORDER BY d.date
                           ROWS BETWEEN 6 PRECEDING AND CURRENT ROW) AS actual_ma7
                FROM days d LEFT JOIN actual a USING (date)
            )
            SELECT * FROM series WHERE date >= ?::DATE ORDER BY date
            """, [start, end, start, end, *params, start]).df()
        try:
            monthly = monthly_revenue_target(self.con, filters)
            frame["target"] = [monthly / calendar.monthrange(d.year, d.month)[1] for d in frame["date"]]
        except KpiUnavailable:
            frame["target"] = float("nan")
        frame["date"] = pd.to_datetime(frame["date"])
        return frame

    def scorecard(self, start, end, filters: Filters | None = None) -> pd.DataFrame:
        """The technician scorecard (:func:`quantlib.kpi.technician_scorecard`) for the range.

        Technicians with no scheduled or completed job in the range are left out.
        """
        frame = technician_scorecard(self.con, to_date(end), to_date(start), filters or Filters())
        return frame[(frame["jobs_scheduled"] > 0) | (frame["jobs_completed"] > 0)].reset_index(drop=True)

    # ------------------------------------------------------------------ alerts

    def open_alerts(self) -> pd.DataFrame:
        """The open alerts of the operational store, most severe first (read-only;
        :func:`quantlib.alerts.views.open_alerts`)."""
        from quantlib.alerts.views import open_alerts

        return open_alerts(self.ops_target)

    def acknowledge(self, alert_id: int, who: str = "executive dashboard") -> dict:
        """Acknowledge alert ``alert_id`` through the alert engine (a row of the alert history).

        Raises
        ------
        quantlib.alerts.AlertError
            No such alert, or it is resolved.
        """
        from quantlib.alerts import AlertEngine
        from quantlib.data.opstore import OpsStore, PostgresOpsStore

        target = self.ops_target
        store = (PostgresOpsStore(target._dsn, timeout=target.timeout) if isinstance(target, PostgresOpsStore)
                 else OpsStore(target))
        return AlertEngine(store, [], channels={}).acknowledge(int(alert_id), who=who)

    def alerts_html(self, alerts: pd.DataFrame) -> dict[str, str]:
        """Per level (critical, warning, info): the heading and each alert's line as HTML, by alert id.

        Returns ``{"critical": heading, ...}`` for the levels and ``{id: line}`` for the alerts;
        an alert line carries ``data-alert-id`` and ``data-state`` for tests and styling.
        """
        from quantlib.alerts.views import LEVEL_ORDER, message_without_level

        esc = html.escape
        out: dict = {}
        for level in LEVEL_ORDER:
            n = int((alerts["level"] == level).sum())
            out[level] = f'<h3 class="{level}">{level.capitalize()} ({n})</h3>'
        for row in alerts.itertuples(index=False):
            state = (' <span class="qd-alert-state">acknowledged</span>' if row.state == "acknowledged" else
                     ' <span class="qd-alert-meta">snoozed</span>' if row.state == "snoozed" else "")
            out[int(row.id)] = (
                f'<div class="qd-alert" data-alert-id="{int(row.id)}" data-state="{esc(row.state)}">'
                f"#{int(row.id)} {esc(message_without_level(str(row.message), row.level))}{state}<br>"
                f'<span class="qd-alert-meta">{esc(row.category)} &middot; since {row.first_seen:%d %b %Y %H:%M} UTC'
                f" &middot; seen {int(row.count)} time{'s' if row.count != 1 else ''}</span></div>")
        return out

    def _alert_row(self, alert_id: int, line: str, state: str):
        import ipywidgets as w

        text = w.HTML(line, layout=w.Layout(flex="1 1 auto"))
        if state == "acknowledged":
            return w.HBox([text])
        button = w.Button(description="Acknowledge", tooltip=f"Acknowledge alert #{alert_id}",
                          layout=w.Layout(width="auto", flex="0 0 auto"))
        button.add_class("qd-ack")
        button.add_class(f"qd-ack-{alert_id}")
        button.on_click(lambda _b, alert_id=alert_id: self._on_acknowledge(alert_id))
        return w.HBox([text, button], layout=w.Layout(align_items="center"))

    def refresh_alerts(self, note: str = "") -> None:
        """Re-read the open alerts and redraw the alerts panel (``note``: a line above it)."""
        import ipywidgets as w

        from quantlib.alerts.views import LEVEL_ORDER, NO_OPEN_ALERTS

        if self._widget is None:
            self._build()
        from quantlib.data.opstore import OpsStoreError

        try:
            alerts = self.open_alerts()
        except OpsStoreError as problem:  # the KPIs still show; the panel says why it has no alerts
            self.alerts_panel.children = [w.HTML('<h2>Open alerts</h2><div class="qd-status error">'
                                                 f"{html.escape(str(problem))}</div>")]
            return
        parts = self.alerts_html(alerts)
        children = [w.HTML('<h2>Open alerts</h2>' + (f'<div class="qd-status">{html.escape(note)}</div>'
                                                        if note else ""))]
        if alerts.empty:
            children.append(w.HTML(f'<div class="qd-empty">{NO_OPEN_ALERTS}</div>'))
        for level in LEVEL_ORDER if not alerts.empty else ():
            rows = alerts[alerts["level"] == level]
            children.append(w.HTML(parts[level]))
            children += [self._alert_row(int(r.id), parts[int(r.id)], r.state) for r in rows.itertuples()]
        for old in self.alerts_panel.children:
            old.close()
        self.alerts_panel.children = children

    def _on_acknowledge(self, alert_id: int) -> None:
        from quantlib.alerts import AlertError
        from quantlib.data.opstore import OpsStoreError

        try:
            self.acknowledge(alert_id)
            note = f"Alert #{alert_id} acknowledged."
        except (AlertError, OpsStoreError) as problem:  # both say what happened, without secrets
            note = str(problem)
        except Exception as problem:  # never a stack trace in front of a manager; the log has it
            log.exception("acknowledging alert %s failed", alert_id)
            note = f"Could not acknowledge alert #{alert_id}: {type(problem).__name__}"
        self.refresh_alerts(note)

    # ------------------------------------------------------------------ rendering

    def card_html(self, card: Card, kv: KpiValue, days: int) -> str:
        """One card as HTML; the value is ``<span class="kpi-value" data-kpi="NAME">``."""
        esc = html.escape
        status = _status(card, kv)
        if kv.value is None:
            value = (f'<span class="kpi-value" data-kpi="{card.name}" title="{esc(kv.reason)}">n/a</span>')
            foot = f'<span class="qd-note" title="{esc(kv.reason)}">{esc(kv.reason)}</span>'
            return (f'<div class="qd-card na" title="{esc(card.label)}: {esc(kv.reason)}">'
                    f'<div class="qd-label">{esc(card.label)}</div><div class="qd-value">{value}</div>'
                    f'<div class="qd-foot">{foot}</div></div>')
        arrow, trend_class = _trend(card, kv)
        prev = format_kpi_value(kv.previous, card.unit)
        trend = (f'<span class="qd-trend {trend_class}" title="previous {days} days: {prev}">'
                 f'{arrow} {_change_text(card, kv)} <span class="qd-vs">vs prev. {days} d</span></span>'
                 ) if arrow else '<span>&nbsp;</span>'
        position = _position(card, kv)
        target = (f'<span class="qd-target">target {format_kpi_value(kv.target, card.unit)}'
                  f'{", " + position if position else ""}</span>'
                  if kv.target is not None else
                  f'<span class="qd-target" title="{esc(kv.target_reason)}">no target</span>')
        tooltip = card.label if card.name == "revenue" else f"{card.label}: {get_kpi(card.name).description}"
        return (f'<div class="qd-card {status}" title="{esc(tooltip)}">'
                f'<div class="qd-label">{esc(card.label)}</div>'
                f'<div class="qd-value"><span class="kpi-value" data-kpi="{card.name}">'
                f'{format_kpi_value(kv.value, card.unit)}</span></div>'
                f'<div class="qd-foot">{target}</div><div class="qd-foot">{trend}</div></div>')

    def chart_svg(self, daily: pd.DataFrame, notes: pd.DataFrame | None = None) -> str:
        """Daily revenue (bars), its 7-day average and the daily target (dashed) as SVG, with the
        numbered comments on its days (``notes``, :meth:`CommentsPanel.chart_notes`)."""
        import vl_convert as vlc

        return vlc.vegalite_to_svg(self.revenue_chart_spec(daily, notes))

    def revenue_chart_spec(self, daily: pd.DataFrame, notes: pd.DataFrame | None = None) -> dict:
        """The Vega-Lite spec of :meth:`chart_svg` (house theme; legend on top)."""
        from quantlib.views.annotations import annotation_layer

        names = {"actual_ma7": "7-day average", "target": "Daily target"}
        lines = daily.melt(id_vars="date", value_vars=[c for c in names if daily[c].notna().any()],
                           var_name="series", value_name="value")
        lines["series"] = lines["series"].map(names)
        domain = [names[c] for c in names if daily[c].notna().any()]
        colors = {"7-day average": PALETTE[1], "Daily target": "#555555"}
        x = alt.X("date:T", title=None, axis=alt.Axis(format="%b %d", labelAngle=0, tickCount=8))
        # A temporal axis draws 1-pixel bars unless told their width: ~70 % of a day's slot.
        bar_size = max(1.0, 0.7 * CHART_WIDTH / max(len(daily), 1))
        bars = alt.Chart(daily).mark_bar(color=PALETTE[0], opacity=0.5, size=bar_size).encode(
            x=x, y=alt.Y("actual:Q", title="Revenue per day", axis=alt.Axis(format="$,.0f")),
            tooltip=[alt.Tooltip("date:T"), alt.Tooltip("actual:Q", format="$,.0f")])
        line = alt.Chart(lines).mark_line(strokeWidth=2.2).encode(
            x=x, y="value:Q",
            color=alt.Color("series:N", title=None, scale=alt.Scale(domain=domain,
                                                                    range=[colors[d] for d in domain])),
            strokeDash=alt.StrokeDash("series:N", title=None, scale=alt.Scale(
                domain=domain, range=[[6, 4] if d == "Daily target" else [1, 0] for d in domain])))
        layers = [bars, line]
        if notes is not None and len(notes):
            days = pd.to_datetime(notes["point_x"], errors="coerce")
            shown = notes[(days >= daily["date"].min()) & (days <= daily["date"].max())]
            marks = annotation_layer(shown)
            if marks is not None:
                layers.append(marks)
        spec = alt.layer(*layers).properties(width=CHART_WIDTH, height=240).to_dict()
        spec["config"] = {**house_theme()["config"], **spec.get("config", {})}
        spec["config"]["legend"] = {**house_theme()["config"]["legend"], "orient": "top"}
        return spec

    def table_html(self, frame: pd.DataFrame) -> str:
        """The technician scorecard as an HTML table (utilisation / quality below target in red)."""
        if frame.empty:
            return '<div class="qd-empty">No technician activity in this range and slice.</div>'
        util_t = get_kpi("technician_utilisation").target_from(self.targets)
        qual_t = get_kpi("quality_rate").target_from(self.targets)
        head = ("<tr><th>Technician</th><th>Region</th><th>Jobs</th><th>Revenue</th><th>Utilisation</th>"
                "<th>Completion</th><th>Quality</th><th>Rating</th><th>Score</th></tr>")
        rows = []
        for r in frame.sort_values("revenue", ascending=False).itertuples(index=False):
            low_u = util_t is not None and _finite(r.utilisation) and r.utilisation < util_t
            low_q = qual_t is not None and _finite(r.quality) and r.quality < qual_t
            rows.append(
                f'<tr data-technician="{html.escape(r.technician_id)}"><td>{html.escape(str(r.name))}</td>'
                f"<td>{html.escape(str(r.region))}</td><td>{r.jobs_completed:,}</td>"
                f"<td>{format_kpi_value(r.revenue, 'currency')}</td>"
                f"<td class=\"{'low' if low_u else ''}\">{_fmt_or_dash(r.utilisation, 'ratio')}</td>"
                f"<td>{_fmt_or_dash(r.efficiency, 'ratio')}</td>"
                f"<td class=\"{'low' if low_q else ''}\">{_fmt_or_dash(r.quality, 'ratio')}</td>"
                f"<td>{_fmt_or_dash(r.avg_rating, 'rating')}</td>"
                f"<td>{_fmt_or_dash(r.efficiency_score, 'ratio')}</td></tr>")
        return f'<table class="qd-table"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'

    # ------------------------------------------------------------------ widgets

    def _build(self) -> None:
        import ipywidgets as w

        start, end = self.default_range()
        style = {"description_width": "initial"}
        self.start_picker = w.DatePicker(value=start, description="From", style=style,
                                         layout=w.Layout(width="auto"))
        self.end_picker = w.DatePicker(value=end, description="To", style=style,
                                       layout=w.Layout(width="auto"))
        self.service_line = w.Dropdown(options=[ALL, *self.service_lines], value=ALL,
                                       description="Service line", style=style, layout=w.Layout(width="210px"))
        self.region = w.Dropdown(options=[ALL, *self.regions], value=ALL, description="Region",
                                 style=style, layout=w.Layout(width="190px"))
        self.technician = w.Dropdown(options=[(ALL, ALL), *self.technicians], value=ALL,
                                     description="Technician", style=style, layout=w.Layout(width="300px"))
        self.status = w.HTML('<div class="qd-status">&nbsp;</div>')
        for control, hook in ((self.start_picker, "qd-start"), (self.end_picker, "qd-end"),
                              (self.service_line, "qd-service-line"), (self.region, "qd-region"),
                              (self.technician, "qd-technician")):
            control.add_class(hook)  # stable DOM hooks for browser tests
            control.observe(self._on_change, names="value")
        self.header = w.HTML()
        self.cards = {card.name: w.HTML(layout=w.Layout(margin="0")) for card in self.all_cards}
        self.panels = [w.HTML() for _ in range(self.n_panels)]
        self.alerts_panel = w.VBox(layout=w.Layout(width="100%"))
        self.alerts_panel.add_class("qd-panel")
        self.alerts_panel.add_class("qd-alerts")
        filters = w.HBox([self.start_picker, self.end_picker, self.service_line, self.region,
                          self.technician, self.status, self.exports.widget],
                         layout=w.Layout(flex_flow="row wrap", align_items="center", padding="6px 0 10px 0"))
        for control in filters.children:
            control.layout.margin = "2px 14px 2px 0"  # ipywidgets' Layout has no flex gap
        grids = []
        for heading, cards in self.sections:
            if heading:
                grids.append(w.HTML(f'<h2 class="qd-section">{html.escape(heading)}</h2>'))
            grids.append(w.GridBox([self.cards[card.name] for card in cards], layout=w.Layout(
                grid_template_columns="repeat(auto-fit, minmax(150px, 1fr))", grid_gap="10px", width="100%")))
        gap = '<div style="height:6px"></div>'
        panels = [part for panel in self.panels for part in (w.HTML(gap), panel)]
        self._widget = w.VBox(
            [w.HTML(CSS), self.header, filters, *grids, w.HTML(gap), self.alerts_panel, *panels,
             w.HTML(gap), self.comments.widget],
            layout=w.Layout(padding="8px 16px", max_width="1500px"))
        self._widget.add_class("qd-root")
        if self.root_class != "qd-root":
            self._widget.add_class(self.root_class)

    def current_filters(self) -> Filters:
        """The filters the widgets show."""
        def pick(widget):
            return None if widget.value == ALL else widget.value
        return Filters(service_line=pick(self.service_line), region=pick(self.region),
                       technician_id=pick(self.technician))

    def _on_change(self, _change=None) -> None:
        # Debounce on the kernel's event loop when there is one (Voila, Jupyter); without a
        # running loop (plain Python, tests) recompute at once.
        if self.debounce <= 0:
            self.refresh()
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.refresh()
            return
        if self._pending is not None:
            self._pending.cancel()
        self.status.value = '<div class="qd-status">Updating&hellip;</div>'
        self._pending = loop.call_later(self.debounce, self.refresh)

    def sign_in(self, member: str | None) -> None:
        """The visitor ``quant apps`` signed in (None: the operator): their comments carry their name."""
        self.comments.sign_in(member)

    def refresh(self) -> None:
        """Recompute every card, the chart and the table for the widgets' range and filters."""
        self._pending = None
        if self._widget is None:
            self._build()
        t0 = time.perf_counter()
        start, end = self.start_picker.value, self.end_picker.value
        try:
            if start is None or end is None:
                raise ValueError("choose a start and an end date")
            if start > end:
                raise ValueError(f"the start ({start}) is after the end ({end})")
            filters = self.current_filters()
            days = (end - start).days + 1
            results = self.evaluate(start, end, filters)
            # Everything is computed before any widget changes, so the page never shows
            # new cards next to an old chart.
            cards = {card.name: self.card_html(card, results[card.name], days) for card in self.all_cards}
            panels = self.panels_html(start, end, filters)
            self.header.value = self._header_html(start, end, filters)
            for name, value in cards.items():
                self.cards[name].value = value
            for widget, value in zip(self.panels, panels):
                widget.value = value
            self.refresh_alerts()
        except ValueError as problem:
            self.status.value = f'<div class="qd-status error">{html.escape(str(problem))}</div>'
            return
        except Exception as problem:  # never a stack trace in front of a manager; the log has it
            log.exception("dashboard update failed")
            self.status.value = (f'<div class="qd-status error">Could not update: '
                                 f"{html.escape(type(problem).__name__)}</div>")
            return
        self.last_update_seconds = time.perf_counter() - t0
        self.status.value = (f'<div class="qd-status" data-updated="{self.last_update_seconds:.3f}">'
                             f"Updated in {self.last_update_seconds * 1000:.0f} ms</div>")

    #: How many panels :meth:`panels_html` returns.
    n_panels = 3

    def panels_html(self, start: dt.date, end: dt.date, filters: Filters) -> list[str]:
        """What follows the cards and the alerts: the outlook, the daily revenue chart, the technicians."""
        notes = self.comments.chart_notes("daily_revenue")
        chart = ('<div class="qd-panel qd-revenue"><h2>Daily revenue vs target</h2>'
                 f"{self.chart_svg(self.daily_revenue(start, end, filters), notes)}</div>")
        table = ('<div class="qd-panel"><h2>Technicians</h2>'
                 f"{self.table_html(self.scorecard(start, end, filters))}</div>")
        return [self.outlook_html(), chart, table]

    # ------------------------------------------------------------------ exports

    def kpi_frame(self, start, end, filters: Filters | None = None) -> pd.DataFrame:
        """The cards as rows: ``kpi, label, value, shown, target, target_shown, unit, status``."""
        results = self.evaluate(start, end, filters)
        rows = []
        for card in self.all_cards:
            kv = results[card.name]
            rows.append({"kpi": card.name, "label": card.label, "value": kv.value,
                         "shown": format_kpi_value(kv.value, card.unit) if kv.value is not None else "n/a",
                         "target": kv.target,
                         "target_shown": format_kpi_value(kv.target, card.unit) if kv.target is not None else "",
                         "unit": card.unit, "status": _status(card, kv)})
        return pd.DataFrame(rows)

    def kpi_chart(self, frame: pd.DataFrame) -> alt.Chart:
        """Each card's value as a share of its target (a bar; the rule is the target)."""
        has = frame[frame["value"].notna() & frame["target"].notna() & (frame["target"] != 0)].copy()
        has["of_target"] = has["value"] / has["target"]
        colours = alt.Scale(domain=["ok", "amber", "red", "none"],
                            range=["#3c8d5a", "#d9a23c", "#c2453d", "#b9bec5"])
        bars = alt.Chart(has).mark_bar().encode(
            y=alt.Y("label:N", sort=None, title=None), x=alt.X("of_target:Q", title="Value / target",
                                                                axis=alt.Axis(format=".0%")),
            color=alt.Color("status:N", scale=colours, legend=None),
            tooltip=["label:N", alt.Tooltip("shown:N", title="value"), alt.Tooltip("target_shown:N", title="target")])
        rule = alt.Chart(pd.DataFrame({"x": [1.0]})).mark_rule(strokeDash=[4, 3], color="#555").encode(x="x:Q")
        return (bars + rule).properties(width=640, height=24 * max(len(has), 1))

    def export_content(self) -> tuple[str, str, list]:
        """What :class:`~quantlib.apps.collaboration.ExportBar` exports: the KPIs against target and the charts."""
        from quantlib.views.chart_export import ExportChart

        start, end = (self.start_picker.value, self.end_picker.value) if self._widget else self.default_range()
        filters = self.current_filters() if self._widget else Filters()
        slice_ = ", ".join(filters.active().values()) or "all service lines and regions"
        subtitle = f"{start:%d %b %Y} to {end:%d %b %Y}, {slice_}"
        kpis = self.kpi_frame(start, end, filters)
        charts = [ExportChart("KPIs against target", self.kpi_chart(kpis),
                              notes=f"{self.company}: {subtitle}. Bars are each KPI's value as a share of its "
                                    "target; KPIs without a target are in the data sheet only.",
                              data=kpis.drop(columns=["value", "target"]).rename(
                                  columns={"shown": "value", "target_shown": "target"}))]
        charts += self.export_charts(start, end, filters)
        return f"{self.company or 'Quant'}: {self.title}", subtitle, charts

    def export_charts(self, start, end, filters: Filters) -> list:
        """The dashboard's charts for export (after the KPI chart)."""
        from quantlib.views.chart_export import ExportChart

        daily = self.daily_revenue(start, end, filters)
        return [ExportChart("Daily revenue vs target", self.revenue_chart_spec(daily, self.comments.chart_notes(
            "daily_revenue")), notes="Bars: revenue per day; line: 7-day average; dashed: daily target.",
                            data=daily)]

    # ------------------------------------------------------------------ predictive insights

    def outlook(self) -> dict[str, pd.DataFrame]:
        """The latest recorded revenue and cash-in forecasts (the scheduled reports record them).

        Read-only from the operational store, like the alerts: the forecasts are fitted by the
        schedule (``revenue_forecast``, ``cashflow_forecast``), never when a visitor opens the
        page.

        Returns
        -------
        dict
            ``{"revenue": frame, "cash_in": frame}``: each the latest run's rows (``as_of,
            target_start, target_end, days, value, lo_80, hi_80``), shortest horizon first;
            empty when none was recorded.
        """
        from quantlib.alerts.views import read_only_store
        from quantlib.data.opstore import latest_prediction_run

        columns = ["as_of", "target_start", "target_end", "value", "lo_80", "hi_80"]
        out = {}
        with read_only_store(self.ops_target) as con:
            for key, model in (("revenue", "revenue_forecast"), ("cash_in", "cashflow_forecast")):
                frame = latest_prediction_run(con, model, key, "all")[columns].reset_index(drop=True)
                for column in ("as_of", "target_start", "target_end"):
                    frame[column] = pd.to_datetime(frame[column])
                frame["days"] = (frame["target_end"] - frame["target_start"]).dt.days + 1
                out[key] = frame
        return out

    def outlook_html(self) -> str:
        """Predictive insights: revenue in the next 30/90/365 days (worst / likely / best) and the
        next 90 days' collections, from the latest scheduled forecasts."""
        from quantlib.data.opstore import OpsStoreError

        esc = html.escape
        try:
            outlook = self.outlook()
        except OpsStoreError as problem:
            return (f'<div class="qd-panel qd-outlook"><h2>Outlook</h2><div class="qd-status error">'
                    f"{esc(str(problem))}</div></div>")
        rows = []
        labels = {"revenue": "Revenue", "cash_in": "Collections"}
        for key, frame in outlook.items():
            for r in frame.itertuples(index=False):
                if key == "cash_in" and r.days < 85:
                    continue  # the spec's cash view is the 90-day one
                rows.append(
                    f'<tr data-outlook="{key}-{r.days}"><td>{labels[key]}, next {r.days} days</td>'
                    f'<td class="num">{format_kpi_value(r.lo_80, "currency")}</td>'
                    f'<td class="num qd-likely">{format_kpi_value(r.value, "currency")}</td>'
                    f'<td class="num">{format_kpi_value(r.hi_80, "currency")}</td>'
                    f"<td>{r.target_start:%d %b} &ndash; {r.target_end:%d %b %Y}</td>"
                    f"<td>forecast of {r.as_of:%d %b %Y}</td></tr>")
        if not rows:
            body = ('<div class="qd-empty">No forecast recorded yet: the scheduled revenue_forecast and '
                    "cashflow_forecast reports record one each run.</div>")
        else:
            body = ('<table class="qd-table"><thead><tr><th></th><th>Worst (10 %)</th><th>Likely</th>'
                    "<th>Best (90 %)</th><th>Period</th><th>Source</th></tr></thead>"
                    f'<tbody>{"".join(rows)}</tbody></table><div class="qd-note">Company-wide; worst and '
                    "best are the forecasts' 80 % interval. The filters above do not apply.</div>")
        return f'<div class="qd-panel qd-outlook"><h2>Outlook</h2>{body}</div>'

    def _header_html(self, start: dt.date, end: dt.date, filters: Filters) -> str:
        days = (end - start).days + 1
        tech_names = {tid: label for label, tid in self.technicians}
        slice_ = ", ".join(tech_names.get(v, v) if k == "technician_id" else v
                           for k, v in filters.active().items()) or "all service lines and regions"
        company = html.escape(self.company or "All data")
        return (f'<div class="qd-header"><h1>{company}</h1>'
                f'<div class="qd-sub">{start:%d %b %Y} &ndash; {end:%d %b %Y} ({days} days) &middot; '
                f"{html.escape(slice_)} &middot; data as of {self.as_of:%d %b %Y} &middot; trends vs the "
                f"previous {days} days</div></div>")

    def close(self) -> None:
        """Close the gold connection (and the widgets, if built)."""
        if self._widget is not None:
            for child in self._widget.children:
                child.close()
            self._widget.close()
        self.con.close()


def _job_where(filters: Filters) -> tuple[str, list]:
    # job_facts columns, as the registry's job-based KPIs use them (the job's region).
    sql, params = "", []
    for name, value in filters.active().items():
        sql += f" AND {name} = ?"
        params.append(value)
    return sql, params


def _finite(value) -> bool:
    return value is not None and isinstance(value, (int, float)) and math.isfinite(value)


def _fmt_or_dash(value, unit: str) -> str:
    return format_kpi_value(value, unit) if _finite(value) else "&ndash;"


def dashboard_from_parameters(company: str = "mixed_trades", lake: str | None = None, as_of=None,
                              environ: dict | None = None) -> ExecutiveDashboard:
    """The dashboard of the app notebook's parameters, with environment overrides.

    Voila cannot inject notebook parameters, so ``quant apps`` passes them as
    environment variables, which win over the notebook's defaults: ``QUANT_COMPANY``,
    ``QUANT_LAKE`` (lake root) and ``QUANT_AS_OF``. The values are then validated by
    :class:`quantlib.parameters.NotebookParameters` (known company; the lake
    defaults to ``data/demo/<company>/lake`` under the project root).

    Raises
    ------
    quantlib.parameters.ParameterError
        Unknown company or a malformed date, in one line.
    FileNotFoundError
        The lake has no gold database yet.
    """
    params, gold = gold_from_parameters(company, lake, as_of, environ)
    return ExecutiveDashboard(gold, as_of=params.as_of)
