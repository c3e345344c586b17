"""The operations dashboard: technicians, equipment and customers, with the executive dashboard's filters.

The specification's OPERATIONS_DASHBOARD: technician efficiency, utilisation, quality and
rating; equipment utilisation, preventive-maintenance rate, ROI and downtime; customer
acquisition, retention, lifetime value and churn risk. Every card is a KPI of the registry
(:mod:`quantlib.kpi`) with the window set to the chosen range, so the dashboard agrees with
reports and with the executive dashboard; a KPI that cannot be computed for a slice says so.
Filters, trends against the previous period, targets, the alerts panel and the debounce are
the executive dashboard's (:class:`~quantlib.apps.executive_dashboard.ExecutiveDashboard`).
Below the alerts: the technician scorecard, the equipment table and new customers per month.

The Voila app is ``notebooks/apps/operations_dashboard.ipynb``.
"""

from __future__ import annotations

import datetime as dt
import html

import altair as alt
import pandas as pd

from quantlib.apps.base import gold_from_parameters
from quantlib.apps.executive_dashboard import Card, ExecutiveDashboard, _fmt_or_dash
from quantlib.kpi import Filters, customer_acquisition_by_month, get_kpi
from quantlib.views.theme import PALETTE, house_theme

__all__ = ["OPERATIONS_SECTIONS", "OperationsDashboard", "operations_from_parameters"]


def _cards(pairs) -> tuple[Card, ...]:
    return tuple(Card(name, label, get_kpi(name).unit, get_kpi(name).direction) for name, label in pairs)


#: The specification's three groups of operational KPIs.
OPERATIONS_SECTIONS: tuple[tuple[str, tuple[Card, ...]], ...] = (
    ("Technicians", _cards([("technician_efficiency", "Efficiency"), ("technician_utilisation", "Utilisation"),
                            ("quality_rate", "Quality rate"), ("technician_rating", "Rating")])),
    ("Equipment", _cards([("equipment_utilisation", "Utilisation"), ("pm_completion_rate", "Preventive maint."),
                          ("equipment_roi", "ROI"), ("equipment_downtime_hours", "Downtime")])),
    ("Customers", _cards([("customer_acquisition", "New customers"), ("customer_retention", "Retention"),
                          ("customer_lifetime_value", "Lifetime value"), ("churn_risk_share", "Churn-risk share")])),
)


class OperationsDashboard(ExecutiveDashboard):
    """Operational KPIs by section, with the technician scorecard, the equipment table and acquisition.

    Parameters are :class:`~quantlib.apps.executive_dashboard.ExecutiveDashboard`'s.
    """

    sections = OPERATIONS_SECTIONS
    root_class = "od-root"
    dashboard_name = "operations_dashboard"
    title = "Operations dashboard"
    comment_charts = ()
    n_panels = 3

    def equipment(self, start, end, filters: Filters | None = None) -> pd.DataFrame:
        """Per unit in the range and slice (``equipment_kpis_between``): utilisation, preventive
        completion, ROI, downtime, failures, jobs; units of other service lines or regions left out.

        A technician filter does not apply to equipment (units are not assigned to technicians).
        """
        filters = filters or Filters()
        return self.con.execute(
            "SELECT equipment_id, name, service_line, region, utilisation, preventive_completion_rate, roi, "
            "downtime_hours, failures, jobs FROM equipment_kpis_between(?::DATE, ?::DATE, line := ?, reg := ?) "
            "ORDER BY downtime_hours DESC, equipment_id",
            [start, end, filters.service_line, filters.region]).df()

    def acquisition(self, start, end, filters: Filters | None = None) -> pd.DataFrame:
        """New customers per month (first completed job) for the months the range touches.

        A technician filter does not apply (a customer's first job says nothing of who they belong to).
        """
        filters = filters or Filters()
        frame = customer_acquisition_by_month(self.con, Filters(service_line=filters.service_line,
                                                                region=filters.region))
        first = pd.Timestamp(start).to_period("M").to_timestamp()
        months = pd.to_datetime(frame["month"])
        return frame[(months >= first) & (months <= pd.Timestamp(end))].reset_index(drop=True)

    def equipment_html(self, frame: pd.DataFrame) -> str:
        """The equipment table (preventive completion below target in red)."""
        if frame.empty:
            return '<div class="qd-empty">No equipment in this slice.</div>'
        pm_target = get_kpi("pm_completion_rate").target_from(self.targets)
        head = ("<tr><th>Unit</th><th>Line</th><th>Region</th><th>Utilisation</th><th>Preventive</th>"
                "<th>ROI</th><th>Downtime (h)</th><th>Failures</th><th>Jobs</th></tr>")
        rows = []
        for r in frame.itertuples(index=False):
            low = (pm_target is not None and pd.notna(r.preventive_completion_rate)
                   and r.preventive_completion_rate < pm_target)
            rows.append(
                f'<tr data-equipment="{html.escape(r.equipment_id)}"><td>{html.escape(str(r.name))}</td>'
                f"<td>{html.escape(str(r.service_line))}</td><td>{html.escape(str(r.region))}</td>"
                f"<td>{_fmt_or_dash(r.utilisation, 'ratio')}</td>"
                f"<td class=\"{'low' if low else ''}\">{_fmt_or_dash(r.preventive_completion_rate, 'ratio')}</td>"
                f"<td>{_fmt_or_dash(r.roi, 'ratio')}</td><td>{_fmt_or_dash(r.downtime_hours, 'hours')}</td>"
                f"<td>{int(r.failures or 0)}</td><td>{int(r.jobs or 0)}</td></tr>")
        return f'<table class="qd-table"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'

    def acquisition_svg(self, frame: pd.DataFrame) -> str:
        """New customers per month as SVG bars."""
        import vl_convert as vlc

        if frame.empty:
            return '<div class="qd-empty">No new customers in these months.</div>'
        return vlc.vegalite_to_svg(self.acquisition_spec(frame))

    def acquisition_spec(self, frame: pd.DataFrame) -> dict:
        """The Vega-Lite spec of :meth:`acquisition_svg`."""
        chart = alt.Chart(frame.assign(month=pd.to_datetime(frame["month"]))).mark_bar(color=PALETTE[2]).encode(
            x=alt.X("yearmonth(month):O", title=None, axis=alt.Axis(format="%b %Y", labelAngle=0)),
            y=alt.Y("new_customers:Q", title="New customers"),
            tooltip=[alt.Tooltip("yearmonth(month):O", title="Month", format="%B %Y"), "new_customers:Q"])
        spec = chart.properties(width=720, height=200).to_dict()
        spec["config"] = {**house_theme()["config"], **spec.get("config", {})}
        return spec

    def export_charts(self, start, end, filters: Filters) -> list:
        """New customers per month, with the equipment table as its data sheet's neighbour."""
        from quantlib.views.chart_export import ExportChart

        months = self.acquisition(start, end, filters)
        charts = [ExportChart("New customers per month", self.acquisition_spec(months), data=months)] \
            if len(months) else []
        equipment = self.equipment(start, end, filters)
        if len(equipment):
            downtime = alt.Chart(equipment).mark_bar(color=PALETTE[3]).encode(
                y=alt.Y("name:N", sort="-x", title=None), x=alt.X("downtime_hours:Q", title="Downtime (h)"),
                tooltip=["name:N", "downtime_hours:Q", "failures:Q"]).properties(width=600)
            charts.append(ExportChart("Equipment downtime", downtime, data=equipment))
        return charts

    def panels_html(self, start: dt.date, end: dt.date, filters: Filters) -> list[str]:
        """The technician scorecard, the equipment table and new customers per month."""
        technicians = ('<div class="qd-panel"><h2>Technicians</h2>'
                       f"{self.table_html(self.scorecard(start, end, filters))}</div>")
        note = (' <span class="qd-note">(the technician filter does not apply here)</span>'
                if filters.technician_id else "")
        equipment = (f'<div class="qd-panel od-equipment"><h2>Equipment{note}</h2>'
                     f"{self.equipment_html(self.equipment(start, end, filters))}</div>")
        customers = (f'<div class="qd-panel od-customers"><h2>New customers per month{note}</h2>'
                     f"{self.acquisition_svg(self.acquisition(start, end, filters))}</div>")
        return [technicians, equipment, customers]

    def _header_html(self, start: dt.date, end: dt.date, filters: Filters) -> str:
        return super()._header_html(start, end, filters).replace(
            "<h1>", '<h1><span class="od-kind">Operations</span> &middot; ', 1)


def operations_from_parameters(company: str = "mixed_trades", lake: str | None = None, as_of=None,
                               environ: dict | None = None) -> OperationsDashboard:
    """The operations dashboard of the app notebook's parameters (``QUANT_COMPANY`` / ``QUANT_LAKE`` /
    ``QUANT_AS_OF`` win, as for the executive dashboard)."""
    params, gold = gold_from_parameters(company, lake, as_of, environ)
    return OperationsDashboard(gold, as_of=params.as_of)
