"""``live_operations``: the stream's live tables, refreshed every few seconds (Voila app).

Jobs and revenue per hour, utilisation and wrench time per region, the last day's hourly trend,
the open alerts and the equipment anomalies of the day, with each processor's watermark and
counts, all read from the operational store the stream processors write
(:mod:`quantlib.stream.views`). The page re-reads them every ``refresh_seconds`` in the kernel
(an asyncio task on the kernel's loop), so it follows ``quant stream up`` and a replay without
a reload. Charts are SVG rendered in the kernel: nothing loads from the network.
"""

from __future__ import annotations

import asyncio
import html
import logging

import pandas as pd

from quantlib.apps.base import TABLE_CSS, WidgetApp, chart_svg, frame_html
from quantlib.stream import views

__all__ = ["LiveOperations", "live_operations_from_parameters"]

log = logging.getLogger(__name__)

CSS = TABLE_CSS + """
<style>
.lo-root { font-family: Liberation Sans, Helvetica, Arial, sans-serif; color: #333; }
.lo-root h1 { font-size: 22px; font-weight: 600; margin: 4px 0 2px 0; }
.lo-root h2 { font-size: 16px; font-weight: 600; margin: 12px 0 4px 0; }
.lo-sub { font-size: 13px; color: #666; }
.lo-empty { color: #666; font-style: italic; }
.lo-big { font-size: 22px; font-weight: 600; margin-right: 6px; }
.lo-critical td { color: #a8352e; font-weight: 600; }
.lo-warning td { color: #9a6700; }
</style>
"""


def trend_chart(trend: pd.DataFrame):
    """Jobs and revenue per hour over the last day of stream time (two panels, Altair)."""
    import altair as alt

    long = trend.melt("window_end", ["jobs", "revenue"], var_name="measure", value_name="value")
    return alt.Chart(long).mark_line(point=True).encode(
        x=alt.X("window_end:T", title="Hour ending (stream time)"),
        y=alt.Y("value:Q", title=None),
        color=alt.Color("measure:N", legend=None),
    ).properties(width=520, height=120).facet(row=alt.Row("measure:N", title=None)).resolve_scale(y="independent")


class LiveOperations(WidgetApp):
    """The live operations page over one operational store.

    Parameters
    ----------
    store : OpsStore
        The store the stream processors write.
    company : str
    refresh_seconds : float
        How often the page re-reads the live tables.
    """

    def __init__(self, store, company: str = "", refresh_seconds: float = 5.0):
        self.store = store
        self.company = company
        self.refresh_seconds = refresh_seconds
        self._widget = None
        self._task = None
        self.refreshes_ = 0

    def _build(self) -> None:
        import ipywidgets as w

        self.header, self.status, self.rates = w.HTML(), w.HTML(), w.HTML()
        self.trend, self.alerts, self.anomalies = w.HTML(), w.HTML(), w.HTML()
        self.outlook = w.HTML()
        self._widget = w.VBox([
            w.HTML(CSS), self.header,
            w.HTML("<h2>Now, by region</h2>"), self.rates,
            w.HTML("<h2>Revenue, next 30 days</h2>"), self.outlook,
            w.HTML("<h2>The last day</h2>"), self.trend,
            w.HTML("<h2>Open alerts</h2>"), self.alerts,
            w.HTML("<h2>Equipment anomalies today</h2>"), self.anomalies,
            w.HTML("<h2>Processors</h2>"), self.status,
        ], layout=w.Layout(padding="8px 16px", max_width="1300px"))
        self._widget.add_class("lo-root")

    def refresh(self) -> None:
        """Re-read every panel from the live tables."""
        status = views.processor_status(self.store)
        title = html.escape(self.company or "Live operations")
        if status.empty:
            self.header.value = (f'<h1>{title}: live operations</h1><div class="lo-sub lo-waiting">No live data yet: '
                                 "start the stream (<code>quant stream up</code>) and replay or connect events.</div>")
        else:
            now = status["watermark"].max()
            self.header.value = (f'<h1>{title}: live operations</h1><div class="lo-sub" data-watermark="{now}">'
                                 f"Stream time {now:%d %b %Y %H:%M}; refreshed every {self.refresh_seconds:g} s."
                                 "</div>")
        self.status.value = frame_html(status, "lo-status", row_attrs=lambda r: {"processor": r.processor})
        rates = views.regional_rates(self.store)
        self.rates.value = (frame_html(rates, "lo-rates", row_attrs=lambda r: {
            "region": r.region, "jobs-per-hour": "" if pd.isna(r.jobs_per_hour) else f"{r.jobs_per_hour:.6g}"})
            if len(rates) else '<div class="lo-empty">No completed jobs in the current windows.</div>')
        outlook = views.revenue_outlook(self.store)
        if outlook is None:
            self.outlook.value = ('<div class="lo-empty">No revenue forecast covers the stream time yet (the '
                                  "scheduled revenue_forecast report records one).</div>")
        else:
            band = (f" (80 %: ${outlook['lo_80']:,.0f} to ${outlook['hi_80']:,.0f})"
                    if outlook["lo_80"] is not None else "")
            self.outlook.value = (
                f'<div class="lo-outlook" data-outlook="{outlook["outlook"]:.2f}"><span class="lo-big">'
                f"${outlook['outlook']:,.0f}</span>{band}: the forecast of {html.escape(outlook['as_of'])} "
                f"(${outlook['forecast']:,.0f}) times {outlook['ratio']:.2f}, the revenue the stream saw in its "
                f"{outlook['days_seen']:.1f} days (${outlook['seen']:,.0f}) against what it expected "
                f"(${outlook['expected']:,.0f}).</div>")
        trend = views.hourly_trend(self.store)
        self.trend.value = chart_svg(trend_chart(trend)) if len(trend) else '<div class="lo-empty">No jobs yet.</div>'
        alerts = views.open_stream_alerts(self.store)
        self.alerts.value = (frame_html(alerts.drop(columns=["message"]), "lo-alerts",
                                        row_attrs=lambda r: {"rule": r.rule, "subject": r.subject},
                                        row_class=lambda r: f"lo-{r.level}")
                             if len(alerts) else '<div class="lo-empty">No open alerts.</div>')
        anomalies = views.equipment_anomalies(self.store)
        self.anomalies.value = (frame_html(anomalies, "lo-anomalies", row_attrs=lambda r: {"unit": r.equipment_id})
                                if len(anomalies) else '<div class="lo-empty">No anomalies today.</div>')
        self.refreshes_ += 1

    def start(self) -> LiveOperations:
        """Refresh every ``refresh_seconds`` on the running event loop (the kernel's, under Voila)."""
        async def loop():
            while True:
                await asyncio.sleep(self.refresh_seconds)
                try:
                    self.refresh()
                except Exception:  # noqa: BLE001 - a failed read is retried at the next tick
                    log.exception("live operations: refresh failed")

        if self._task is None:
            try:
                running = asyncio.get_running_loop()  # the kernel's: cells run on it
            except RuntimeError:
                log.warning("live operations: no running event loop; the page refreshes only when asked")
                return self
            self._task = running.create_task(loop())
        return self

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None


def live_operations_from_parameters(company: str = "mixed_trades", refresh_seconds: float = 5.0,
                                    environ=None) -> LiveOperations:
    """The app on the operational store of the environment (``QUANT_OPS_DSN`` / ``QUANT_OPS_DB``), refreshing."""
    import os

    from quantlib.data.opstore import open_ops_store

    env = os.environ if environ is None else environ
    company = env.get("QUANT_COMPANY") or company
    seconds = float(env.get("QUANT_LIVE_REFRESH_SECONDS") or refresh_seconds)
    app = LiveOperations(open_ops_store(env=env), company=company, refresh_seconds=seconds)
    app.widget  # build and fill once before the loop starts  # noqa: B018
    return app.start()
