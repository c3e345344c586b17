"""Slow sources keep their value per gold build in the operational store."""

from __future__ import annotations

import datetime as dt
import shutil

import duckdb

from quantlib.alerts import MetricContext, Observation
from quantlib.alerts.sources import metric_source, per_build
from quantlib.data.gold import open_gold
from tests.alerts.helpers import engine, rule

CALLS: list[str] = []


@metric_source("test:slow")
def _slow(context, r):
    return per_build(context, "test:slow", r, lambda: _compute(r))


def _compute(r):
    CALLS.append(r.name)
    return [Observation("company", 12.5 + len(CALLS), direction="higher", unit="days", detail="computed")]


def _slow_rule(**params):
    return rule("slow", {"kind": "threshold", "op": "<", "value": 0.0, "level": "warning"},
                metric="test:slow", params=params)


def test_a_second_check_on_the_same_build_reuses_the_value(demo_lake, tmp_path):
    CALLS.clear()
    eng = engine(tmp_path, [_slow_rule()])
    with open_gold(demo_lake) as con:
        first = per_build(_context(con, eng), "test:slow", eng.rules["slow"], lambda: _compute(eng.rules["slow"]))
        again = per_build(_context(con, eng), "test:slow", eng.rules["slow"], lambda: _compute(eng.rules["slow"]))
        assert again == first and len(CALLS) == 1
        # other parameters or another as-of date are another question
        other = _slow_rule(horizon=30)
        per_build(_context(con, eng), "test:slow", other, lambda: _compute(other))
        assert len(CALLS) == 2
        eng.check(MetricContext(con, None))  # the engine hands its store to the sources
        eng.check(MetricContext(con, None))
    assert len(CALLS) == 3


def test_a_rebuilt_gold_is_computed_again(demo_lake, tmp_path):
    CALLS.clear()
    copy = tmp_path / "gold.duckdb"
    shutil.copy(demo_lake.gold, copy)
    eng = engine(tmp_path, [_slow_rule()])
    with duckdb.connect(str(copy)) as con:
        eng.check(MetricContext(con, None))
        eng.check(MetricContext(con, None))
        assert len(CALLS) == 1
        con.execute("UPDATE build_info SET built_at = built_at + INTERVAL 1 HOUR")
        eng.check(MetricContext(con, None))
    assert len(CALLS) == 2


def test_a_dry_run_reads_but_never_writes_the_cache(demo_lake, tmp_path):
    CALLS.clear()
    eng = engine(tmp_path, [_slow_rule()])
    with open_gold(demo_lake) as con:
        eng.check(MetricContext(con, None), dry_run=True)
        assert eng.store.get_meta("metric_cache:test:slow") is None
        eng.check(MetricContext(con, None), dry_run=True)
        assert len(CALLS) == 2
        eng.check(MetricContext(con, None))
        eng.check(MetricContext(con, None), dry_run=True)
    assert len(CALLS) == 3


def test_without_a_build_identity_it_computes_every_time(tmp_path):
    CALLS.clear()
    eng = engine(tmp_path, [_slow_rule()])
    con = duckdb.connect()
    context = MetricContext(con, None)
    context.as_of = dt.date(2026, 1, 1)
    context.store = eng.store
    for _ in range(2):
        per_build(context, "test:slow", eng.rules["slow"], lambda: _compute(eng.rules["slow"]))
    assert len(CALLS) == 2


def _context(con, eng):
    context = MetricContext(con, None)
    context.store = eng.store
    return context

