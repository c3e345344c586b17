"""GoldSource: one computation per answer under concurrency, the warm-up, a new data version on rebuild."""

from __future__ import annotations

import os
import shutil
import threading
import time

import pytest

from quantlib.api.sources import GoldSource, WarehouseMissing


@pytest.fixture
def gold(demo_lake, tmp_path):
    path = tmp_path / "gold.duckdb"
    shutil.copy(demo_lake.gold, path)
    return path


def test_concurrent_misses_compute_an_answer_once(gold):
    source = GoldSource(gold)
    calls, answers = [], []

    def compute(con):
        calls.append(1)
        time.sleep(0.3)  # long enough for every thread to arrive while it runs
        return con.execute("SELECT count(*) FROM job_facts").fetchone()[0]

    threads = [threading.Thread(target=lambda: answers.append(source.cached(("jobs",), compute)))
               for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert len({value for value, _ in answers}) == 1 and sorted(hit for _, hit in answers) == [False] + [True] * 7
    source.close()


def test_a_failed_computation_is_not_cached(gold):
    source = GoldSource(gold)

    def broken(con):
        raise ValueError("no")

    for _ in range(2):
        with pytest.raises(ValueError):
            source.cached(("broken",), broken)
    assert source.cached(("broken",), lambda con: 1) == (1, False)
    source.close()


def test_the_warm_up_runs_for_each_new_data_version(gold):
    versions = []
    source = GoldSource(gold, warm=lambda s: versions.append(s.cached(("v",), lambda con: s.version())[0]))
    source.cursor()[0].close()
    assert source.warmed.wait(30) and len(versions) == 1
    assert source.cached(("v",), lambda con: "recomputed") == (versions[0], True)
    copy = gold.with_suffix(".new")
    shutil.copy(gold, copy)
    os.replace(copy, gold)  # a rebuild: a new file
    source.cursor()[0].close()
    assert source.warmed.wait(30)
    deadline = time.monotonic() + 30
    while len(versions) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(versions) == 2 and versions[1] != versions[0]
    source.close()


def test_no_warehouse_says_so(tmp_path):
    with pytest.raises(WarehouseMissing, match="quant warehouse build"):
        GoldSource(tmp_path / "gold.duckdb").cursor()
