"""benchmarks.routing: the one-instance contract through the product's router, on a tiny Solomon file."""

import json

import numpy as np
import pytest

from benchmarks import routing as bench

# A Solomon-format file: 8 customers, 3 vehicles of capacity 30; the depot's window is the horizon.
TINY = """TINY8

VEHICLE
NUMBER     CAPACITY
   3         30

CUSTOMER
CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME

    0      40         50          0          0       240          0
    1      45         68         10          0        60         10
    2      45         70         10         20        90         10
    3      42         66         10          0       200         10
    4      42         68         10         40       120         10
    5      25         85         10         30       150         10
    6      22         75         10          0       180         10
    7      55         30         10         10       100         10
    8      60         20         10         70       200         10
"""


@pytest.fixture()
def tiny(tmp_path):
    path = tmp_path / "TINY8.txt"
    path.write_text(TINY)
    return path


def test_instance_contract_goes_through_the_router(tiny, tmp_path):
    out = tmp_path / "routes.json"
    assert bench.main(["--instance", str(tiny), "--seconds", "1", "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert set(doc) >= {"routes", "distance"}
    assert doc["solver"] == "router"
    routes = doc["routes"]
    assert all(isinstance(r, list) and r and all(isinstance(c, int) for c in r) for r in routes)
    visits = sorted(c for r in routes for c in r)
    assert visits == list(range(1, 9)), "every customer exactly once"
    inst = bench.read_instance(tiny)
    assert len(routes) <= inst.vehicles
    # Independent check: capacity, time windows (start of service), distance recomputed in floats.
    node = {cid: k for k, cid in enumerate(inst.ids)}
    total = 0.0
    for r in routes:
        path = [0] + [node[c] for c in r] + [0]
        assert inst.demand[path].sum() <= inst.capacity
        now = 0.0
        for a, b in zip(path, path[1:]):
            leg = float(np.hypot(*(inst.xy[a] - inst.xy[b])))
            total += leg
            now = max(now + (inst.service[a] if a else 0.0) + leg, inst.ready[b])
            assert now <= inst.due[b] + 1e-6
    assert doc["distance"] == pytest.approx(total, rel=1e-9)
    assert doc["feasible"] is True


def test_router_problem_maps_the_instance(tiny):
    inst = bench.read_instance(tiny)
    problem, tm = bench.router_problem(inst)
    assert len(problem.technicians) == 3 and len(problem.jobs) == 8
    assert all(j.required for j in problem.jobs)
    assert {t.capacity for t in problem.technicians} == {30}
    j1 = problem.job("c1")
    scale = bench.SCALE
    assert (j1.window_start, j1.window_end, j1.duration, j1.demand) == (0, 60 * scale, 10 * scale, 10)
    # travel time = distance at the router's time scale; arc cost = distance x scale in cents
    d01 = float(np.hypot(5, 18))
    assert tm.time("start:v1", "job:c1") == pytest.approx(d01 * scale)
    assert tm.distance("start:v1", "job:c1") * problem.objective.fuel_cost_per_mile * 100 == pytest.approx(d01 * scale)
