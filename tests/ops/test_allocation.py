"""Resource allocation MIP: brute-force optimum on a tiny instance, each constraint can fail validate()."""

from __future__ import annotations

import datetime as dt
import itertools

import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from quantlib.ops.allocation import (
    AllocationPlan,
    AllocationProblem,
    AllocEquipment,
    AllocTechnician,
    allocation_problem_from_gold,
    sla_diagnosis,
    solve_allocation,
)

WEEKS = [dt.date(2025, 1, 6), dt.date(2025, 1, 13)]


def tiny(sla=0.5, demand=None):
    techs = [AllocTechnician("A", "north", frozenset({"hvac"}), 40.0, 40.0),
             AllocTechnician("B", "south", frozenset({"hvac", "plumbing"}), 40.0, 50.0, available_weeks=(0,))]
    equipment = [AllocEquipment("E1", "hvac", "north", 20.0), AllocEquipment("E2", "hvac", "south", 16.0)]
    demand = demand if demand is not None else pd.DataFrame({
        "service_line": ["hvac", "hvac", "plumbing", "hvac"],
        "region": ["north", "south", "south", "south"],
        "week": [0, 0, 0, 1], "hours": [30.0, 35.0, 10.0, 50.0]})
    return AllocationProblem(WEEKS, techs, equipment, demand, {"hvac": 120.0, "plumbing": 110.0},
                             {"hvac": 0.5}, sla_share=sla, relocation_cost=300.0, equipment_move_cost=100.0)


def brute_force(p: AllocationProblem):
    """Enumerate every placement of technicians and equipment; solve the hours as an LP (scipy HiGHS)."""
    regions = p.regions
    slots = [(t, w) for t in p.technicians for w in p.weeks_of(t)]
    demand = p.demand_of()
    best = -np.inf
    for tech_regions in itertools.product(regions + [None], repeat=len(slots)):
        where = {(t.technician_id, w): r for (t, w), r in zip(slots, tech_regions)}
        for eq_regions in itertools.product(regions, repeat=len(p.equipment) * p.n_weeks):
            loc = {(e.equipment_id, w): eq_regions[i * p.n_weeks + w] for i, e in enumerate(p.equipment)
                   for w in range(p.n_weeks)}
            arcs = [(t, line, where[t.technician_id, w], w) for (t, w) in slots if where[t.technician_id, w]
                    for line in sorted(t.skills) if demand.get((line, where[t.technician_id, w], w), 0) > 0]
            a_ub, b_ub = [], []
            for (t, w) in slots:
                a_ub.append([1.0 if (a[0] is t and a[3] == w) else 0.0 for a in arcs])
                b_ub.append(t.weekly_hours)
            for (line, r, w), d in demand.items():
                row = [1.0 if (a[1], a[2], a[3]) == (line, r, w) else 0.0 for a in arcs]
                a_ub.append(row)
                b_ub.append(d)
                a_ub.append([-v for v in row])
                b_ub.append(-p.sla_share * d)
                cap = sum(e.hours_per_week for e in p.equipment
                          if e.service_line == line and loc[e.equipment_id, w] == r)
                a_ub.append([p.equipment_share.get(line, 0.0) * v for v in row])
                b_ub.append(cap)
            c = [-(p.margin_per_hour[a[1]] - a[0].hourly_rate) for a in arcs]
            if arcs:
                res = linprog(c, A_ub=a_ub, b_ub=b_ub, bounds=(0, None), method="highs")
                if res.status != 0:
                    continue
                value = -res.fun
            else:
                if any(b < -1e-9 for b in b_ub):
                    continue
                value = 0.0
            away = sum(1 for (t, w), r in zip(slots, tech_regions) if r is not None and r != t.home_region)
            moves = 0
            for e in p.equipment:
                prev = e.home_region
                for w in range(p.n_weeks):
                    moves += loc[e.equipment_id, w] != prev
                    prev = loc[e.equipment_id, w]
            best = max(best, value - p.relocation_cost * away - p.equipment_move_cost * moves)
    return best


@pytest.mark.parametrize("backend", ["SCIP", "HIGHS"])
def test_tiny_instance_equals_brute_force(backend):
    p = tiny()
    plan = solve_allocation(p, backend=backend, mip_gap=0.0)
    assert plan.status == "OPTIMAL" and plan.validate() == []
    assert plan.profit() == pytest.approx(brute_force(p), abs=1e-4)


def test_tiny_instance_with_a_tight_sla_equals_brute_force():
    p = tiny(sla=0.8)
    plan = solve_allocation(p, mip_gap=0.0)
    assert plan.status == "OPTIMAL" and plan.validate() == []
    assert plan.profit() == pytest.approx(brute_force(p), abs=1e-4)
    # Meeting 80 % of hvac south in week 1 takes A (north) there, and the hvac equipment with it.
    moved = plan.technician_regions.set_index(["technician_id", "week"])["region"]
    assert moved[("A", 1)] == "south"
    assert plan.kpis()["equipment_moves"] >= 1


def _copy(plan, **tables):
    return AllocationPlan(plan.problem, tables.get("hours", plan.hours.copy()),
                          tables.get("technician_regions", plan.technician_regions.copy()),
                          tables.get("equipment_locations", plan.equipment_locations.copy()),
                          plan.status, plan.objective_value, 0.0)


def test_each_constraint_can_fail_validate():
    plan = solve_allocation(tiny(), mip_gap=0.0)
    assert plan.validate() == []
    h = plan.hours.copy()
    first = h.index[h["technician_id"] == "A"][0]
    skill = h.copy()
    skill.loc[first, "service_line"] = "plumbing"
    assert any("without the skill" in m for m in _copy(plan, hours=skill).validate())
    over = h.copy()
    over.loc[first, "hours"] = 60.0
    problems = _copy(plan, hours=over).validate()
    assert any("> 40 h" in m for m in problems) and any("> demand" in m for m in problems)
    region = h.copy()
    region.loc[first, "region"] = "south" if region.loc[first, "region"] == "north" else "north"
    assert any("is placed in" in m for m in _copy(plan, hours=region).validate())
    twice = pd.concat([plan.technician_regions, plan.technician_regions.iloc[:1]], ignore_index=True)
    assert any("two regions" in m for m in _copy(plan, technician_regions=twice).validate())
    unavailable = pd.concat([h, pd.DataFrame([{"technician_id": "B", "service_line": "hvac", "region": "south",
                                               "week": 1, "hours": 1.0}])], ignore_index=True)
    assert any("not available" in m for m in _copy(plan, hours=unavailable).validate())
    short = h[h["hours"] < 0]  # nothing served: the SLA breaks everywhere
    assert any("SLA broken" in m for m in _copy(plan, hours=short).validate())
    no_eq = plan.equipment_locations.assign(region="nowhere")
    assert any("equipment hours" in m for m in _copy(plan, equipment_locations=no_eq).validate())
    lost = plan.equipment_locations.iloc[1:]
    assert any("no location" in m for m in _copy(plan, equipment_locations=lost).validate())
    wrong = _copy(plan)
    wrong.objective_value += 500.0
    assert any("objective" in m for m in wrong.validate())


def test_infeasible_sla_is_reported_with_a_reason():
    demand = pd.DataFrame({"service_line": ["hvac", "plumbing"], "region": ["north", "north"], "week": [0, 0],
                           "hours": [20.0, 10.0]})
    p = tiny(sla=0.9, demand=demand)
    p.technicians = [p.technicians[0]]  # nobody left with plumbing
    plan = solve_allocation(p)
    assert plan.status == "INFEASIBLE"
    row = plan.sla_breaches.set_index("service_line").loc["plumbing"]
    assert row["short_hours"] == pytest.approx(9.0)
    assert "can give 0 of the 9 SLA hours" in row["reason"]
    diag = sla_diagnosis(p).set_index("service_line")
    assert diag.loc["plumbing", "shortfall_hours"] == pytest.approx(9.0) and diag.loc["hvac", "shortfall_hours"] == 0


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="margin_per_hour"):
        AllocationProblem(WEEKS, [], [], pd.DataFrame({"service_line": ["roofing"], "region": ["x"], "week": [0],
                                                       "hours": [1.0]}), {"hvac": 1.0})
    with pytest.raises(ValueError, match="week"):
        AllocationProblem(WEEKS, [], [], pd.DataFrame({"service_line": ["hvac"], "region": ["x"], "week": [5],
                                                       "hours": [1.0]}), {"hvac": 1.0})


def test_allocation_from_gold(demo_lake):
    con = duckdb.connect(str(demo_lake.gold), read_only=True)
    p = allocation_problem_from_gold(con, weeks=2, sla_share=0.5)
    con.close()
    assert p.technicians and p.equipment and p.demand["hours"].sum() > 0
    assert all(m > 0 for m in p.margin_per_hour.values())
    plan = solve_allocation(p, time_limit=20)
    assert plan.validate() == []
    # The small company has one electrician per region at most: the SLA may be out of reach,
    # and then every breached cell carries a reason.
    assert plan.status in ("OPTIMAL", "FEASIBLE", "INFEASIBLE")
    if plan.status == "INFEASIBLE":
        assert len(plan.sla_breaches) and plan.sla_breaches["reason"].str.len().gt(0).all()
    k = plan.kpis()
    assert 0 < k["served_share"] <= 1 and k["profit"] > 0


def test_stay_home_baseline_is_never_better():
    p = tiny(sla=0.5)
    best = solve_allocation(p, mip_gap=0.0)
    p.allow_relocation = p.allow_equipment_moves = False
    home = solve_allocation(p, mip_gap=0.0)
    assert home.kpis()["technician_weeks_away"] == 0 and home.kpis()["equipment_moves"] == 0
    assert home.validate() == [] or home.status == "INFEASIBLE"
    assert home.profit() <= best.profit() + 1e-6
