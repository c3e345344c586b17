"""Skill matching: bipartite view, gaps, key persons, and the max-flow coverage check."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from quantlib.ops.skills import cover_demand, key_person_dependencies, skill_coverage, skill_matrix

TECHS = pd.DataFrame({
    "technician_id": ["T1", "T2", "T3", "T4"],
    "name": ["Ann", "Bob", "Cy", "Di"],
    "region": ["north", "north", "south", "south"],
    "skills": ["hvac;plumbing", "hvac", "electrical;hvac", "plumbing"],
    "weekly_hours": [40.0, 40.0, 32.0, 40.0],
})


def test_matrix_is_the_bipartite_graph():
    m = skill_matrix(TECHS)
    assert list(m.columns) == ["electrical", "hvac", "plumbing"]
    assert m.loc["T1"].tolist() == [False, True, True]
    assert int(m.to_numpy().sum()) == 6


def test_coverage_flags_uncovered_key_person_too_few_and_short():
    demand = pd.DataFrame({"skill": ["hvac", "plumbing", "electrical", "roofing"], "hours": [90.0, 100.0, 10.0, 5.0]})
    cover = skill_coverage(TECHS, demand, min_technicians=3).set_index("skill")
    assert cover.loc["roofing", "gap"] == "uncovered" and cover.loc["roofing", "technicians"] == 0
    assert cover.loc["electrical", "gap"] == "key person" and "Cy (T3)" == cover.loc["electrical", "key_person"]
    assert cover.loc["plumbing", "gap"] == "too few"  # 2 < 3
    assert cover.loc["hvac", "gap"] == ""            # 3 technicians, 112 h >= 90 h
    short = skill_coverage(TECHS, pd.DataFrame({"skill": ["hvac"], "hours": [200.0]})).set_index("skill")
    assert short.loc["hvac", "gap"] == "short of hours"
    assert list(skill_coverage(TECHS, demand).index) == [0, 1, 2, 3]
    by_region = skill_coverage(TECHS, by_region=True).set_index(["skill", "region"])
    assert by_region.loc[("hvac", "south"), "gap"] == "key person"
    keys = key_person_dependencies(TECHS)
    assert keys["skill"].tolist() == ["electrical"]


def _lp_max_cover(techs, demand):
    """Independent check: the same transport problem as an LP (scipy HiGHS)."""
    skills = list(demand["skill"])
    arcs = [(k, i) for k, held in enumerate(techs["skills"]) for i, s in enumerate(skills) if s in held.split(";")]
    if not arcs:
        return 0.0
    a_ub, b_ub = [], []
    for k, h in enumerate(techs["weekly_hours"]):
        a_ub.append([1.0 if a[0] == k else 0.0 for a in arcs])
        b_ub.append(h)
    for i, d in enumerate(demand["hours"]):
        a_ub.append([1.0 if a[1] == i else 0.0 for a in arcs])
        b_ub.append(d)
    res = linprog(-np.ones(len(arcs)), A_ub=a_ub, b_ub=b_ub, bounds=(0, None), method="highs")
    return -res.fun


@pytest.mark.parametrize("seed", range(6))
def test_max_flow_equals_the_lp_optimum(seed):
    rng = np.random.default_rng(seed)
    names = ["hvac", "plumbing", "electrical", "roofing"]
    techs = pd.DataFrame({
        "technician_id": [f"T{i}" for i in range(5)],
        "skills": [";".join(rng.choice(names, size=rng.integers(1, 3), replace=False)) for _ in range(5)],
        "weekly_hours": rng.choice([16.0, 32.0, 40.0], size=5),
    })
    demand = pd.DataFrame({"skill": names, "hours": np.round(rng.uniform(0, 80, 4) * 4) / 4})
    flow = cover_demand(techs, demand)
    assert flow.covered_total == pytest.approx(_lp_max_cover(techs, demand), abs=1 / 60)
    assert flow.validate(techs) == []
    assert flow.feasible == (flow.by_skill["shortfall_hours"].sum() < 1 / 60)


def test_a_shared_technician_is_counted_once():
    # Each skill alone is covered by the per-skill sums, but T1 cannot work 80 h.
    techs = pd.DataFrame({"technician_id": ["T1"], "skills": ["hvac;plumbing"], "weekly_hours": [40.0]})
    demand = pd.DataFrame({"skill": ["hvac", "plumbing"], "hours": [30.0, 30.0]})
    assert (skill_coverage(techs, demand)["qualified_hours"] >= 30).all()
    flow = cover_demand(techs, demand)
    assert not flow.feasible and flow.covered_total == pytest.approx(40.0)
    assert flow.by_skill["shortfall_hours"].sum() == pytest.approx(20.0)


def test_regions_are_kept_apart_when_asked():
    demand = pd.DataFrame({"skill": ["electrical", "electrical"], "region": ["north", "south"], "hours": [10.0, 10.0]})
    flow = cover_demand(TECHS, demand, by_region=True).by_skill.set_index("region")
    assert flow.loc["north", "shortfall_hours"] == pytest.approx(10.0)  # only Cy (south) is an electrician
    assert flow.loc["south", "shortfall_hours"] == 0


def test_validate_catches_a_broken_allocation():
    demand = pd.DataFrame({"skill": ["hvac", "plumbing"], "hours": [30.0, 20.0]})
    flow = cover_demand(TECHS, demand)
    assert flow.validate(TECHS) == []
    flow.allocation.loc[len(flow.allocation)] = {"technician_id": "T2", "skill": "plumbing", "hours": 45.0}
    problems = flow.validate(TECHS)
    assert any("without the skill" in p for p in problems)
    assert any("available" in p for p in problems)
    assert any("demanded" in p for p in problems)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="skills"):
        skill_matrix(pd.DataFrame({"technician_id": ["T1"]}))
    with pytest.raises(ValueError, match="negative"):
        cover_demand(TECHS, pd.DataFrame({"skill": ["hvac"], "hours": [-1.0]}))
