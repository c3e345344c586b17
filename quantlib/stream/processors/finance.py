"""``finance``: the financial tracker, per invoice and payment.

* ``invoiced`` (invoice amounts at their issue date) and ``collected`` (payments at their
  date, also per payment method), in 1-day tumbling and 30-day hopping windows: daily revenue
  invoiced and cash received, updated per event;
* ``cash_position``: the cumulative collections since the processor started, kept in state
  and published to ``business_metrics`` with each payment.

Statistical process control on the daily invoiced total is read from the daily windows by the
alert rule ``revenue_out_of_control`` (metric ``live_control_chart``): the last closed day
against an exponentially weighted mean and variance of the days before it, so every partition's
invoices are in the day before it is judged.
"""

from __future__ import annotations

from datetime import timedelta

from quantlib.stream.live import BatchResult, Contribution, Output, Processor
from quantlib.stream.processors import register
from quantlib.stream.windows import hopping, tumbling

STATE_KEY = "company"


@register
class FinanceProcessor(Processor):
    name = "finance"
    topic = "financial_transactions"
    tables = ("invoices", "payments")
    windows = (tumbling("1d", 24 * 60), hopping("30d", 30 * 24 * 60, 24 * 60))
    grace = timedelta(hours=1)
    rules = ("revenue_out_of_control",)

    def state_keys(self, events) -> set[str]:
        return {STATE_KEY} if any(c.table == "payments" for c in events) else set()

    def process(self, events, state) -> BatchResult:
        result = BatchResult()
        add = result.contributions.append
        for index, checked in enumerate(events):
            amount = float(checked.row["amount"])
            if checked.table == "invoices":
                add((index, Contribution("invoiced", "company", amount)))
                continue
            company = state.setdefault(STATE_KEY, {"cash_position": 0.0})
            company["cash_position"] += amount
            add((index, Contribution("collected", "company", amount)))
            add((index, Contribution("collected", f"method={checked.row['method']}", amount)))
            result.outputs.append(Output("business_metrics", "cash_position", {
                "metric": "cash_position", "value": round(company["cash_position"], 2),
                "at": checked.event_time.isoformat()}))
        return result
