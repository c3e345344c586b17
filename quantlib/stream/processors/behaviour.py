"""``behaviour``: customers' interaction patterns (complaints, bursts, silences) → behavior_insights.

Per interaction from the customer (the company's outbound follow-ups and marketing are not the
customer's behaviour, as in the churn features), with the customer's recent contacts kept in the
processor's state:

* a **complaint** adds to the region's ``complaints`` (1-day and 7-day windows: a spike is a
  day's rate well above the week's);
* a **burst** is a third contact within 48 hours;
* a **silence** is a contact after a gap longer than three times the customer's usual gap and
  at least 60 days (detected when the customer comes back: the stream sees contacts, not their
  absence; the nightly churn features measure the ongoing silences).

Each complaint, burst and silence is published to ``behavior_insights`` (keyed by customer,
with the counts the churn features use: complaints in 90 days, contacts in 30 days).

The state keeps each customer's contacts and complaints of the last 90 days; that is what feeds
the churn features between nightly warehouse builds: :func:`quantlib.stream.views.recent_interactions`
reads it and :func:`quantlib.customers.features.with_recent_interactions` brings a snapshot up to
the stream's time (``score_customers(live_interactions=...)``, the churn explorer's live scores).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from quantlib.stream.live import BatchResult, Contribution, Output, Processor
from quantlib.stream.processors import register
from quantlib.stream.windows import hopping

BURST_CONTACTS, BURST_WINDOW = 3, timedelta(hours=48)
SILENCE_FACTOR, SILENCE_MIN = 3.0, timedelta(days=60)
KEEP = timedelta(days=90)


@register
class BehaviourProcessor(Processor):
    name = "behaviour"
    topic = "customer_interactions"
    tables = ("interactions",)
    windows = (hopping("1d", 24 * 60, 6 * 60), hopping("7d", 7 * 24 * 60, 24 * 60))
    grace = timedelta(hours=1)
    rules = ("complaint_spike",)

    def state_keys(self, events) -> set[str]:
        return {f"customer/{c.row['customer_id']}" for c in events}

    def _region(self, customer_id: str) -> str:
        customers = getattr(self.reference, "customers", None)
        if customers is not None and not customers.empty and customer_id in customers.index:
            return f"region={customers.at[customer_id, 'region']}"
        return "region=unknown"

    def process(self, events, state) -> BatchResult:
        result = BatchResult()
        for index, checked in enumerate(events):
            row = checked.row
            if row.get("direction") == "outbound":
                continue
            customer = row["customer_id"]
            when: datetime = checked.event_time
            memory = state.setdefault(f"customer/{customer}", {"contacts": [], "complaints": [], "gaps": 0,
                                                               "mean_gap_days": None})
            contacts = [datetime.fromisoformat(t) for t in memory["contacts"]]
            insights = []
            if contacts:
                gap = when - contacts[-1]
                usual = memory["mean_gap_days"]
                if usual is not None and gap >= SILENCE_MIN and gap.total_seconds() / 86400 > SILENCE_FACTOR * usual:
                    insights.append(("silence", {"silent_days": round(gap.total_seconds() / 86400, 1)}))
                days = gap.total_seconds() / 86400
                memory["gaps"] += 1
                memory["mean_gap_days"] = days if usual is None else usual + (days - usual) / memory["gaps"]
            recent = [t for t in contacts if when - t <= BURST_WINDOW]
            if len(recent) + 1 == BURST_CONTACTS:
                insights.append(("burst", {"contacts_48h": BURST_CONTACTS}))
            complaints = [t for t in map(datetime.fromisoformat, memory["complaints"]) if when - t <= KEEP]
            if row["kind"] == "complaint":
                complaints.append(when)
                insights.append(("complaint", {"channel": row["channel"]}))
                result.contributions.append((index, Contribution("complaints", self._region(customer), 1.0)))
            result.contributions.append((index, Contribution("contacts", self._region(customer), 1.0)))
            contacts = [t for t in contacts if when - t <= KEEP] + [when]
            memory["contacts"] = [t.isoformat() for t in contacts]
            memory["complaints"] = [t.isoformat() for t in complaints]
            for kind, detail in insights:
                result.outputs.append(Output("behavior_insights", customer, {
                    "customer_id": customer, "insight": kind, "at": when.isoformat(),
                    "complaints_90d": len(complaints),
                    "contacts_30d": sum(1 for t in contacts if when - t <= timedelta(days=30)), **detail}))
        return result
