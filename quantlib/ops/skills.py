"""Skill matching: who can do what, where coverage is thin, and whether demand can be covered.

* :func:`skill_matrix` is the bipartite view (technicians x skills, True where qualified);
* :func:`skill_coverage` lists, per skill (and region), the qualified technicians, their hours,
  the hours demanded and the gaps: no one qualified, fewer than ``min_technicians``, a single
  key person, or fewer qualified hours than demanded;
* :func:`cover_demand` answers "can every skill's demand hours be covered at once?" as a
  maximum flow (source -> skill: demand hours; skill -> qualified technician; technician ->
  sink: hours available), with OR-Tools' max-flow. A technician with two skills is counted
  once, which the per-skill sums of :func:`skill_coverage` cannot do. The result gives the
  hours each technician should spend on each skill and the shortfall per skill.

Hours are counted in whole minutes inside the flow (OR-Tools' max flow is integral).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["skill_matrix", "skill_coverage", "key_person_dependencies", "cover_demand", "SkillFlow",
           "technicians_frame", "demand_hours"]


def technicians_frame(technicians) -> pd.DataFrame:
    """Normalise technicians to ``technician_id, name, region, skills (frozenset), hours``.

    Accepts a DataFrame with a ``skills`` column (``"hvac;plumbing"`` strings or sets) and
    ``weekly_hours`` (or ``hours``), or a list of :class:`quantlib.ops.problem.Technician`
    (hours = weekly hours).
    """
    if isinstance(technicians, pd.DataFrame):
        df = technicians.copy()
        missing = {"technician_id", "skills"} - set(df.columns)
        if missing:
            raise ValueError(f"technicians: missing column(s) {sorted(missing)}")
        df["skills"] = [frozenset(s.strip() for s in v.split(";") if s.strip()) if isinstance(v, str)
                        else frozenset(v) for v in df["skills"]]
        if "hours" not in df.columns:
            if "weekly_hours" not in df.columns:
                raise ValueError("technicians: need an 'hours' or 'weekly_hours' column")
            df["hours"] = df["weekly_hours"].astype(float)
    else:
        df = pd.DataFrame([{"technician_id": t.id, "name": t.name, "region": t.region,
                            "skills": frozenset(t.skills), "hours": float(t.weekly_hours)} for t in technicians])
    for col in ("name", "region"):
        if col not in df.columns:
            df[col] = ""
    if (df["hours"] < 0).any():
        bad = df.loc[df["hours"] < 0, "technician_id"].tolist()
        raise ValueError(f"technicians: negative hours for {bad}")
    return df[["technician_id", "name", "region", "skills", "hours"]].reset_index(drop=True)


def demand_hours(jobs) -> pd.DataFrame:
    """Hours demanded per skill (and region): from a jobs frame (``service_line``/``skill``, hours) or Job list."""
    if isinstance(jobs, pd.DataFrame):
        df = jobs.rename(columns={"service_line": "skill", "scheduled_hours": "hours"})
    else:
        df = pd.DataFrame([{"skill": j.skill, "region": j.region, "hours": j.hours} for j in jobs])
    if df.empty:
        return pd.DataFrame(columns=["skill", "region", "hours"])
    if "region" not in df.columns:
        df["region"] = ""
    return df.groupby(["skill", "region"], as_index=False)["hours"].sum()


def skill_matrix(technicians) -> pd.DataFrame:
    """Technicians x skills, True where the technician holds the skill (the bipartite graph)."""
    techs = technicians_frame(technicians)
    skills = sorted(set().union(*techs["skills"])) if len(techs) else []
    data = {s: [s in held for held in techs["skills"]] for s in skills}
    return pd.DataFrame(data, index=pd.Index(techs["technician_id"], name="technician_id"))


def skill_coverage(technicians, demand: pd.DataFrame | None = None, by_region: bool = False,
                   min_technicians: int = 2) -> pd.DataFrame:
    """Per skill (and region): qualified technicians, their hours, demand hours and the gaps.

    Parameters
    ----------
    technicians : DataFrame or list of Technician
    demand : DataFrame, optional
        ``skill, [region,] hours`` demanded (e.g. :func:`demand_hours` of a week's jobs).
        Skills demanded that no one holds appear with zero technicians.
    by_region : bool
        One row per skill and region (technicians counted in their own region only).
    min_technicians : int
        Fewer qualified technicians than this is a gap (``too_few``).

    Returns
    -------
    DataFrame
        ``skill, [region,] technicians, key_person, qualified_hours, demand_hours,
        hours_ratio, gap`` where ``gap`` is one of ``uncovered``, ``key person``,
        ``too few``, ``short of hours`` or empty, worst first.
    """
    techs = technicians_frame(technicians)
    keys = ["skill", "region"] if by_region else ["skill"]
    rows = []
    for r in techs.itertuples(index=False):
        for s in r.skills:
            rows.append({"skill": s, "region": r.region, "technician_id": r.technician_id, "name": r.name,
                         "hours": r.hours})
    held = pd.DataFrame(rows, columns=["skill", "region", "technician_id", "name", "hours"])
    cover = held.groupby(keys).agg(technicians=("technician_id", "nunique"), qualified_hours=("hours", "sum"),
                                   key_person=("name", "first"), key_id=("technician_id", "first")).reset_index()
    if demand is not None and len(demand):
        d = demand.copy()
        if "region" not in d.columns or not by_region:
            d = d.groupby("skill", as_index=False)["hours"].sum()
        d = d.groupby(keys, as_index=False)["hours"].sum().rename(columns={"hours": "demand_hours"})
        cover = cover.merge(d, on=keys, how="outer")
    else:
        cover["demand_hours"] = np.nan
    cover["technicians"] = cover["technicians"].fillna(0).astype(int)
    cover["qualified_hours"] = cover["qualified_hours"].fillna(0.0)
    one = cover["technicians"] == 1
    cover["key_person"] = np.where(one, cover["key_person"].fillna("").astype(str) + " ("
                                   + cover["key_id"].fillna("").astype(str) + ")", "")
    cover["hours_ratio"] = cover["qualified_hours"] / cover["demand_hours"].where(cover["demand_hours"] > 0)
    demanded = cover["demand_hours"].fillna(0) > 0
    gap = np.select(
        [cover["technicians"] == 0, one, cover["technicians"] < min_technicians,
         demanded & (cover["qualified_hours"] < cover["demand_hours"])],
        ["uncovered", "key person", "too few", "short of hours"], default="")
    cover["gap"] = gap
    rank = pd.Series(gap).map({"uncovered": 0, "key person": 1, "too few": 2, "short of hours": 3, "": 4}).to_numpy()
    cover = cover.assign(_rank=rank).sort_values(["_rank", *keys]).drop(columns=["_rank", "key_id"])
    return cover[[*keys, "technicians", "key_person", "qualified_hours", "demand_hours", "hours_ratio", "gap"]] \
        .reset_index(drop=True)


def key_person_dependencies(technicians, demand: pd.DataFrame | None = None, by_region: bool = False) -> pd.DataFrame:
    """Skills (per region when ``by_region``) held by exactly one technician, with the demand at stake."""
    cover = skill_coverage(technicians, demand, by_region=by_region)
    return cover[cover["technicians"] == 1].reset_index(drop=True)


@dataclass
class SkillFlow:
    """Result of :func:`cover_demand`."""

    #: ``skill, demand_hours, covered_hours, shortfall_hours``
    by_skill: pd.DataFrame
    #: ``technician_id, skill, hours``: a feasible split of the technicians' hours
    allocation: pd.DataFrame
    demand_total: float
    covered_total: float

    @property
    def feasible(self) -> bool:
        """Every skill's demand covered (to the minute)."""
        return bool(self.demand_total - self.covered_total < 1 / 60 + 1e-9)

    def validate(self, technicians) -> list[str]:
        """Re-check the allocation: only qualified technicians, within their hours, within demand."""
        techs = technicians_frame(technicians).set_index("technician_id")
        problems = []
        for r in self.allocation.itertuples(index=False):
            if r.technician_id not in techs.index:
                problems.append(f"{r.technician_id}: unknown technician")
            elif r.skill not in techs.loc[r.technician_id, "skills"]:
                problems.append(f"{r.technician_id}: allocated {r.hours:.2f} h of '{r.skill}' without the skill")
            if r.hours < 0:
                problems.append(f"{r.technician_id}: negative hours on '{r.skill}'")
        used = self.allocation.groupby("technician_id")["hours"].sum()
        for tid, h in used.items():
            if tid in techs.index and h > techs.loc[tid, "hours"] + 1e-6:
                problems.append(f"{tid}: allocated {h:.2f} h > {techs.loc[tid, 'hours']:.2f} h available")
        keys = ["skill", "region"] if "region" in self.by_skill.columns else ["skill"]
        if "region" in keys:
            for r in self.allocation.itertuples(index=False):
                if r.technician_id in techs.index and techs.loc[r.technician_id, "region"] != r.region:
                    problems.append(f"{r.technician_id}: works in {r.region}, not in their region")
        per_cell = self.allocation.groupby(keys)["hours"].sum()
        dem = self.by_skill.set_index(keys)["demand_hours"]
        for cell, h in per_cell.items():
            if h > dem.get(cell, 0.0) + 1e-6:
                problems.append(f"{cell}: allocated {h:.2f} h > {dem.get(cell, 0.0):.2f} h demanded")
        return problems


def cover_demand(technicians, demand: pd.DataFrame, by_region: bool = False) -> SkillFlow:
    """Maximum flow of demand hours per skill onto qualified technicians' hours.

    Parameters
    ----------
    technicians : DataFrame or list of Technician
        With the hours each can give (``hours`` or ``weekly_hours``).
    demand : DataFrame
        ``skill, [region,] hours``.
    by_region : bool
        Demand of a region can only go to technicians of that region (otherwise regions are summed).

    Returns
    -------
    SkillFlow
        ``by_skill`` has a ``region`` column when ``by_region``.
    """
    from ortools.graph.python import max_flow

    techs = technicians_frame(technicians)
    if not {"skill", "hours"} <= set(demand.columns):
        raise ValueError("demand: need columns 'skill' and 'hours'")
    if by_region and "region" not in demand.columns:
        raise ValueError("demand: by_region needs a 'region' column")
    keys = ["skill", "region"] if by_region else ["skill"]
    need = demand.groupby(keys)["hours"].sum()
    if (need < 0).any():
        raise ValueError(f"demand: negative hours for {need[need < 0].index.tolist()}")
    cells = list(need.index)
    n_s, n_t = len(cells), len(techs)
    source, sink = 0, 1 + n_s + n_t
    flow = max_flow.SimpleMaxFlow()
    to_min = lambda h: int(round(float(h) * 60))  # noqa: E731
    big = to_min(need.sum() + techs["hours"].sum() + 1)
    for i, cell in enumerate(cells):
        flow.add_arc_with_capacity(source, 1 + i, to_min(need[cell]))
    arcs = []
    for k, r in enumerate(techs.itertuples(index=False)):
        flow.add_arc_with_capacity(1 + n_s + k, sink, to_min(r.hours))
        for i, cell in enumerate(cells):
            skill, region = (cell if by_region else (cell, None))
            if skill in r.skills and (not by_region or region == r.region):
                arcs.append((flow.add_arc_with_capacity(1 + i, 1 + n_s + k, big), r.technician_id, skill, region))
    status = flow.solve(source, sink)
    if status != flow.OPTIMAL:
        raise RuntimeError(f"max flow failed with status {status}")
    alloc = pd.DataFrame([{"technician_id": tid, "skill": s, "region": reg, "hours": flow.flow(a) / 60}
                          for a, tid, s, reg in arcs if flow.flow(a) > 0],
                         columns=["technician_id", "skill", "region", "hours"])
    covered = alloc.groupby(keys)["hours"].sum().reindex(need.index, fill_value=0.0)
    by_skill = need.rename("demand_hours").astype(float).reset_index()
    by_skill["covered_hours"] = covered.to_numpy(dtype=float)
    by_skill["shortfall_hours"] = (by_skill["demand_hours"] - by_skill["covered_hours"]).clip(lower=0).round(4)
    if not by_region:
        alloc = alloc.drop(columns="region")
    return SkillFlow(by_skill, alloc, float(need.sum()), flow.optimal_flow() / 60)
