"""The behaviour processor's state feeds the churn scores between warehouse builds."""

from datetime import timedelta

import pandas as pd
import pytest

from quantlib.apps.churn_explorer import ChurnExplorer, stream_feed
from quantlib.customers.features import customer_snapshot
from quantlib.customers.views.churn import score_customers
from quantlib.data.gold import gold_as_of, open_gold
from quantlib.data.opstore import OpsStore
from quantlib.stream import views
from quantlib.stream.live import LiveStore
from quantlib.stream.processors import get_processor
from tests.stream.test_processors import checked


def test_contacts_after_the_build_reach_the_churn_scores(demo_lake, tmp_path):
    with open_gold(demo_lake.root) as con:
        day = gold_as_of(con)
        snap = customer_snapshot(con, day, active_only=True)
    silent = snap.loc[snap["no_contact_90d"], "customer_id"].iloc[0]
    other = snap.loc[snap["customer_id"] != silent, "customer_id"].iloc[0]
    morning = pd.Timestamp(day).to_pydatetime() + timedelta(days=1, hours=9)
    rows = [(silent, "complaint", "inbound", morning), (other, "marketing", "outbound", morning + timedelta(hours=1)),
            (silent, "inquiry", "inbound", morning + timedelta(hours=2))]
    events = [checked("interactions", {"interaction_id": f"L{i}", "customer_id": c, "job_id": None, "ts": t,
                                       "channel": "phone", "kind": k, "direction": d, "satisfaction": None}, t)
              for i, (c, k, d, t) in enumerate(rows)]
    store = OpsStore(tmp_path / "ops.sqlite")
    LiveStore(store).apply(get_processor("behaviour")(None), "customer_interactions", 0, list(enumerate(events)))

    frame, until = views.recent_interactions(store)
    # The company's marketing e-mail is not the customer's contact.
    assert list(zip(frame["customer_id"], frame["complaint"])) == [(silent, True), (silent, False)]
    assert until == pd.Timestamp(morning + timedelta(hours=2))
    feed, feed_until = stream_feed(day, {"QUANT_OPS_DB": str(tmp_path / "ops.sqlite")})
    pd.testing.assert_frame_equal(feed, frame)
    assert stream_feed(day + timedelta(days=1), {"QUANT_OPS_DB": str(tmp_path / "ops.sqlite")}) == (None, None)

    nightly = score_customers(demo_lake.root, scorer="rule", segments=False)
    live = score_customers(demo_lake.root, scorer="rule", segments=False, live_interactions=feed,
                           live_until=feed_until)
    assert (live.live_customers, live.live_until) == (1, feed_until) and nightly.live_until is None
    before, after = (r.scored.set_index("customer_id")["score"] for r in (nightly, live))
    # In touch again: the 90-day no-contact rule (0.20) no longer fires.
    assert after[silent] == pytest.approx(before[silent] - 0.20)
    assert after.drop(silent).equals(before.drop(silent))
    assert live.snapshot.set_index("customer_id").at[silent, "live_complaints"] == 1
    # The explorer says the scores are live, and until when.
    header = ChurnExplorer(live)._header_html()
    assert "Live: contacts and complaints from the stream up to" in header and "1 customer in touch" in header
    assert "Live:" not in ChurnExplorer(nightly)._header_html()
