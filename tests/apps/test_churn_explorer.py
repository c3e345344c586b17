"""The churn explorer's cache, without a browser, on the demo lake: the warehouse's scoring run is kept
(signed) and loaded by the next kernel; a rebuilt warehouse, other parameters or a tampered file are
scored again; the stream's live feed is applied on top of the cached run, never cached.

Fits are the engine's own (:func:`score_customers`), compared frame by frame.
"""

from __future__ import annotations

import pickle
import shutil
from datetime import timedelta

import duckdb
import pandas as pd
import pytest

from quantlib.apps import churn_explorer as ce
from quantlib.apps.churn_explorer import explorer_from_parameters, run_cache_path, warehouse_run, with_live_feed
from quantlib.customers.views.churn import score_customers

FRAMES = ("snapshot", "scored", "explained", "alerts")


def assert_same_run(got, expected):
    for name in FRAMES:
        pd.testing.assert_frame_equal(getattr(got, name), getattr(expected, name), check_exact=True, obj=name)
    assert (got.as_of, got.scorer, got.report, got.live_until) == (expected.as_of, expected.scorer,
                                                                   expected.report, expected.live_until)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("churn_cache")


@pytest.fixture(scope="module")
def first(demo_lake, cache_dir):
    """The first kernel: scores the warehouse and fills the cache."""
    return explorer_from_parameters(live=False, environ={"QUANT_LAKE": str(demo_lake.root),
                                                         "QUANT_CHURN_CACHE": str(cache_dir)})


def test_the_next_kernel_loads_the_scores_and_shows_the_same(first, demo_lake, cache_dir):
    assert not first.from_cache_ and run_cache_path(demo_lake.root, cache_dir=cache_dir).is_file()
    again = explorer_from_parameters(live=False, environ={"QUANT_LAKE": str(demo_lake.root),
                                                          "QUANT_CHURN_CACHE": str(cache_dir)})
    assert again.from_cache_ and again.fit_seconds_ < first.fit_seconds_
    assert_same_run(again.run, first.run)
    assert again.company == first.company and again._header_html() == first._header_html()
    # What the page lists: the same customers, scores and reasons.
    for app in (first, again):
        app.widget  # noqa: B018 - builds and fills the widgets
    assert again.table.value == first.table.value and again.reasons.value == first.reasons.value


def contacts_after_the_build(run, store_path):
    """A complaint and a call from a silent customer and a call from another, the day after the build,
    through the stream's behaviour processor into the operational store; returns (customers, watermark)."""
    from quantlib.data.opstore import OpsStore
    from quantlib.stream.live import LiveStore
    from quantlib.stream.processors import get_processor
    from tests.stream.test_processors import checked

    snap = run.snapshot
    silent = snap.loc[snap["no_contact_90d"], "customer_id"].iloc[0]
    other = snap.loc[snap["customer_id"] != silent, "customer_id"].iloc[3]
    morning = pd.Timestamp(run.as_of).to_pydatetime() + timedelta(days=1, hours=9)
    rows = [(silent, "complaint", morning), (other, "inquiry", morning + timedelta(hours=1)),
            (silent, "inquiry", morning + timedelta(hours=2))]
    events = [checked("interactions", {"interaction_id": f"L{i}", "customer_id": c, "job_id": None, "ts": t,
                                       "channel": "phone", "kind": k, "direction": "inbound", "satisfaction": None}, t)
              for i, (c, k, t) in enumerate(rows)]
    LiveStore(OpsStore(store_path)).apply(get_processor("behaviour")(None), "customer_interactions", 0,
                                          list(enumerate(events)))
    return {silent, other}, pd.Timestamp(rows[-1][2])


def test_the_live_feed_is_applied_on_top_of_the_cached_scores(first, demo_lake, cache_dir, tmp_path):
    from quantlib.stream.views import recent_interactions

    cached = run_cache_path(demo_lake.root, cache_dir=cache_dir)
    written = cached.stat().st_mtime_ns
    store = tmp_path / "ops.sqlite"
    touched, until = contacts_after_the_build(first.run, store)
    live = explorer_from_parameters(environ={"QUANT_LAKE": str(demo_lake.root), "QUANT_CHURN_CACHE": str(cache_dir),
                                             "QUANT_OPS_DB": str(store)})
    assert live.from_cache_ and live.run.live_until == until and live.run.live_customers == len(touched)
    assert "Live: contacts and complaints from the stream" in live._header_html()
    # Exactly what scoring the warehouse with the feed gives.
    from quantlib.data.opstore import OpsStore

    feed, _ = recent_interactions(OpsStore(store))
    assert_same_run(live.run, score_customers(demo_lake.root, live_interactions=feed, live_until=until))
    before, after = (r.scored.set_index("customer_id")["score"].sort_index() for r in (first.run, live.run))
    assert set(before.index[before != after]) <= touched and (before != after).any()
    # The feed is not cached: the file still holds the warehouse's scores alone.
    assert cached.stat().st_mtime_ns == written
    assert_same_run(warehouse_run(demo_lake.root, cache_dir=cache_dir)[0], first.run)


def test_the_live_feed_on_the_rule_score_is_the_engines(demo_lake):
    run, cached = warehouse_run(demo_lake.root, scorer="rule")
    assert not cached  # no cache folder: nothing cached
    silent = run.snapshot.loc[run.snapshot["no_contact_90d"], "customer_id"]
    day = pd.Timestamp(run.as_of)
    feed = pd.DataFrame({"customer_id": [*silent.iloc[:3], "NOT-A-CUSTOMER"], "complaint": [False, True, False, True],
                         "ts": [day + timedelta(days=1, hours=h) for h in range(4)]})
    for frame in (feed, feed.iloc[:0]):  # an empty feed still marks the scores live
        expected = score_customers(demo_lake.root, scorer="rule", live_interactions=frame, live_until=day)
        assert_same_run(with_live_feed(run, frame, day), expected)


def test_other_parameters_are_not_read_from_the_cache(first, demo_lake, cache_dir, monkeypatch):
    calls = []

    def scoring(gold, as_of=None, scorer="learned", horizon_days=180):
        calls.append((as_of, scorer, horizon_days))
        return first.run  # the engine is tested above; here only which file is read

    monkeypatch.setattr(ce, "score_customers", scoring)
    env = {"QUANT_LAKE": str(demo_lake.root), "QUANT_CHURN_CACHE": str(cache_dir)}
    day = first.run.as_of - timedelta(days=7)
    for values in ({"scorer": "rule"}, {"horizon_days": 90}, {"as_of": day.isoformat()}):
        assert not explorer_from_parameters(live=False, environ=env, **values).from_cache_
        assert explorer_from_parameters(live=False, environ=env, **values).from_cache_
    assert calls == [(None, "rule", 180), (None, "learned", 90), (day, "learned", 180)]
    # QUANT_AS_OF (what quant apps --as-of sets) is a parameter too.
    assert explorer_from_parameters(live=False, environ={**env, "QUANT_AS_OF": day.isoformat()}).from_cache_
    assert len(calls) == 3
    assert explorer_from_parameters(live=False, environ=env).from_cache_  # the first one's file is still there


def test_a_rebuilt_warehouse_is_scored_again(demo_lake, tmp_path):
    lake = tmp_path / "lake"
    lake.mkdir()
    shutil.copy(demo_lake.gold, lake / "gold.duckdb")
    env = {"QUANT_LAKE": str(lake), "QUANT_CHURN_CACHE": str(tmp_path / "cache")}
    before = explorer_from_parameters(scorer="rule", live=False, environ=env)
    assert not before.from_cache_ and explorer_from_parameters(scorer="rule", live=False, environ=env).from_cache_
    top = before.run.scored["customer_id"].iloc[0]
    with duckdb.connect(str(lake / "gold.duckdb")) as con:  # new data in the same file, as a rebuild writes
        con.execute("UPDATE customers SET name = 'Rebuilt Customer' WHERE customer_id = ?", [top])
    after = explorer_from_parameters(scorer="rule", live=False, environ=env)
    assert not after.from_cache_
    assert after.run.scored.set_index("customer_id").at[top, "name"] == "Rebuilt Customer"
    assert explorer_from_parameters(scorer="rule", live=False, environ=env).from_cache_


def test_a_tampered_cache_is_refused_and_scored_again(first, cache_dir, demo_lake, tmp_path, caplog):
    from tests.apps.test_signed_cache import Exploit

    tampered = run_cache_path(demo_lake.root, cache_dir=tmp_path / "cache")
    tampered.parent.mkdir()
    marker = tmp_path / "pwned"
    tampered.write_bytes(pickle.dumps(Exploit(marker)))
    env = {"QUANT_LAKE": str(demo_lake.root), "QUANT_CHURN_CACHE": str(tampered.parent)}
    with caplog.at_level("WARNING", logger="quantlib.apps.churn_explorer"):
        again = explorer_from_parameters(live=False, environ=env)
    assert not marker.exists()
    assert not again.from_cache_ and "not a signed cache file" in caplog.text
    assert_same_run(again.run, first.run)
    # The refit replaced the file with a signed one that the next kernel loads.
    assert explorer_from_parameters(live=False, environ=env).from_cache_
