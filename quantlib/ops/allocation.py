"""Resource allocation: technicians and equipment across service lines and regions, week by week (MIP).

Decisions, for each of the coming weeks ``w``:

* ``y[i, r, w]`` (binary): technician ``i`` works in region ``r`` that week (at most one region);
* ``h[i, l, r, w] >= 0``: hours technician ``i`` gives to service line ``l`` in region ``r``
  (only lines they are skilled for, at most their weekly hours, only in the region they are in);
* where each piece of equipment is that week (exactly one region); a move from the previous
  week's region (week 0: its home region) costs ``equipment_move_cost``. Identical pieces
  (same line, home region and weekly hours) are one integer count per region, which removes
  their symmetry; pieces get their identities back after the solve, moving as few as possible.

``allow_relocation`` / ``allow_equipment_moves`` = False keep everyone / everything at home
(the baseline a planner compares against).

Constraints: served hours ``s[l, r, w] = sum_i h <= demand``; the SLA ``s >= sla_share x demand``
in every cell; equipment: ``equipment_share[l] x s[l, r, w] <=`` the hours of the line's
equipment located in ``r`` that week.

Objective (maximised): ``sum margin_per_hour[l] x s - sum hourly_rate[i] x h
- relocation_cost x (technician-weeks away from home) - equipment_move_cost x moves``.

When the SLA cannot be met, :func:`solve_allocation` says so (status ``INFEASIBLE``) and
re-solves with the SLA as a penalised soft constraint (1,000 $ an hour short) to report which
cells fall short and by how many hours (``AllocationPlan.sla_breaches``), each with a reason
from :func:`sla_diagnosis` (a max-flow bound per week and line), instead of failing without
one. The soft re-solve is degenerate (many plans leave the same hours short) and may stop at
the time limit with the best plan found.

Solved with OR-Tools' linear solver wrapper (SCIP by default; ``HIGHS`` and ``CBC`` also work).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["AllocTechnician", "AllocEquipment", "AllocationProblem", "AllocationPlan", "solve_allocation",
           "sla_diagnosis", "allocation_problem_from_gold"]


@dataclass(frozen=True)
class AllocTechnician:
    technician_id: str
    home_region: str
    skills: frozenset
    weekly_hours: float
    hourly_rate: float
    available_weeks: tuple | None = None  # None = every week
    name: str = ""


@dataclass(frozen=True)
class AllocEquipment:
    equipment_id: str
    service_line: str
    home_region: str
    hours_per_week: float
    name: str = ""


@dataclass
class AllocationProblem:
    """The coming weeks' demand (hours per service line, region, week) and the resources to meet it.

    ``demand`` has columns ``service_line, region, week, hours`` with ``week`` = 0 .. n_weeks-1.
    """

    week_starts: list[dt.date]
    technicians: list[AllocTechnician]
    equipment: list[AllocEquipment]
    demand: pd.DataFrame
    margin_per_hour: dict[str, float]
    equipment_share: dict[str, float] = field(default_factory=dict)
    sla_share: float = 0.9
    relocation_cost: float = 400.0
    equipment_move_cost: float = 150.0
    allow_relocation: bool = True
    allow_equipment_moves: bool = True

    def __post_init__(self) -> None:
        missing = {"service_line", "region", "week", "hours"} - set(self.demand.columns)
        if missing:
            raise ValueError(f"demand: missing column(s) {sorted(missing)}")
        if (self.demand["hours"] < 0).any():
            raise ValueError("demand: negative hours in row(s) "
                             f"{self.demand.index[self.demand['hours'] < 0].tolist()}")
        bad_weeks = set(self.demand["week"]) - set(range(self.n_weeks))
        if bad_weeks:
            raise ValueError(f"demand: week(s) {sorted(bad_weeks)} outside 0..{self.n_weeks - 1}")
        unknown = set(self.demand["service_line"]) - set(self.margin_per_hour)
        if unknown:
            raise ValueError(f"margin_per_hour: no margin for service line(s) {sorted(unknown)}")
        if not 0 <= self.sla_share <= 1:
            raise ValueError(f"sla_share must be in [0, 1], got {self.sla_share}")
        self.demand = self.demand.groupby(["service_line", "region", "week"], as_index=False)["hours"].sum()

    @property
    def n_weeks(self) -> int:
        return len(self.week_starts)

    @property
    def regions(self) -> list[str]:
        return sorted(set(self.demand["region"]) | {t.home_region for t in self.technicians}
                      | {e.home_region for e in self.equipment})

    @property
    def lines(self) -> list[str]:
        return sorted(set(self.demand["service_line"]))

    def demand_of(self) -> dict[tuple[str, str, int], float]:
        return {(r.service_line, r.region, int(r.week)): float(r.hours) for r in self.demand.itertuples(index=False)}

    def weeks_of(self, tech: AllocTechnician) -> list[int]:
        return list(range(self.n_weeks)) if tech.available_weeks is None else \
            [w for w in tech.available_weeks if 0 <= w < self.n_weeks]


@dataclass
class AllocationPlan:
    """The allocation: technician hours, technician regions, equipment locations, and its KPIs."""

    problem: AllocationProblem
    hours: pd.DataFrame            # technician_id, service_line, region, week, hours
    technician_regions: pd.DataFrame  # technician_id, week, region
    equipment_locations: pd.DataFrame  # equipment_id, week, region
    status: str
    objective_value: float
    solve_seconds: float
    sla_breaches: pd.DataFrame = field(default_factory=pd.DataFrame)

    def served(self) -> pd.DataFrame:
        """Per service line, region and week: demand, served hours, share served."""
        d = self.problem.demand.rename(columns={"hours": "demand_hours"})
        s = self.hours.groupby(["service_line", "region", "week"], as_index=False)["hours"].sum() \
            .rename(columns={"hours": "served_hours"})
        out = d.merge(s, on=["service_line", "region", "week"], how="outer").fillna({"demand_hours": 0.0,
                                                                                    "served_hours": 0.0})
        out["served_share"] = out["served_hours"] / out["demand_hours"].where(out["demand_hours"] > 0)
        return out

    def profit(self) -> float:
        """The objective recomputed from the plan's tables."""
        p = self.problem
        rate = {t.technician_id: t.hourly_rate for t in p.technicians}
        home = {t.technician_id: t.home_region for t in p.technicians}
        h = self.hours
        hours = h["hours"].to_numpy(dtype=float)
        revenue = float((hours * h["service_line"].map(p.margin_per_hour).to_numpy(dtype=float)).sum())
        labour = float((hours * h["technician_id"].map(rate).to_numpy(dtype=float)).sum())
        away = int((self.technician_regions["region"] != self.technician_regions["technician_id"].map(home)).sum())
        return revenue - labour - p.relocation_cost * away - p.equipment_move_cost * self.equipment_moves()

    def equipment_moves(self) -> int:
        home = {e.equipment_id: e.home_region for e in self.problem.equipment}
        moves = 0
        for eid, g in self.equipment_locations.sort_values("week").groupby("equipment_id"):
            prev = home[eid]
            for region in g["region"]:
                moves += region != prev
                prev = region
        return moves

    def validate(self) -> list[str]:
        """Every broken constraint (empty when feasible), re-derived from the problem's raw fields."""
        p, eps = self.problem, 1e-6
        techs = {t.technician_id: t for t in p.technicians}
        equip = {e.equipment_id: e for e in p.equipment}
        problems = []
        where = {}
        for r in self.technician_regions.itertuples(index=False):
            key = (r.technician_id, int(r.week))
            if key in where:
                problems.append(f"{r.technician_id}: in two regions in week {r.week}")
            where[key] = r.region
        for r in self.hours.itertuples(index=False):
            t = techs.get(r.technician_id)
            if t is None:
                problems.append(f"{r.technician_id}: unknown technician")
                continue
            if r.hours < -eps:
                problems.append(f"{r.technician_id}: negative hours in week {r.week}")
            if r.service_line not in t.skills:
                problems.append(f"{r.technician_id}: {r.hours:.1f} h of {r.service_line} without the skill")
            if int(r.week) not in p.weeks_of(t):
                problems.append(f"{r.technician_id}: works in week {r.week}, when not available")
            if where.get((r.technician_id, int(r.week))) != r.region:
                problems.append(f"{r.technician_id}: works in {r.region} in week {r.week} but is placed in "
                                f"{where.get((r.technician_id, int(r.week)))}")
        per_tech = self.hours.groupby(["technician_id", "week"])["hours"].sum()
        for (tid, w), h in per_tech.items():
            if tid in techs and h > techs[tid].weekly_hours + eps:
                problems.append(f"{tid}: {h:.1f} h in week {w} > {techs[tid].weekly_hours:g} h")
        loc = {}
        for r in self.equipment_locations.itertuples(index=False):
            key = (r.equipment_id, int(r.week))
            if r.equipment_id not in equip:
                problems.append(f"{r.equipment_id}: unknown equipment")
            if key in loc:
                problems.append(f"{r.equipment_id}: in two regions in week {r.week}")
            loc[key] = r.region
        for e in p.equipment:
            for w in range(p.n_weeks):
                if (e.equipment_id, w) not in loc:
                    problems.append(f"{e.equipment_id}: no location in week {w}")
        served = self.served()
        for r in served.itertuples(index=False):
            if r.served_hours > r.demand_hours + eps:
                problems.append(f"{r.service_line}/{r.region} week {r.week}: served {r.served_hours:.1f} h > "
                                f"demand {r.demand_hours:.1f} h")
            if r.served_hours < p.sla_share * r.demand_hours - 1e-4 and self.status != "INFEASIBLE":
                problems.append(f"{r.service_line}/{r.region} week {r.week}: SLA broken, served "
                                f"{r.served_hours:.1f} h < {p.sla_share:.0%} of {r.demand_hours:.1f} h")
            share = p.equipment_share.get(r.service_line, 0.0)
            cap = sum(e.hours_per_week for e in p.equipment
                      if e.service_line == r.service_line and loc.get((e.equipment_id, int(r.week))) == r.region)
            if share * r.served_hours > cap + 1e-4:
                problems.append(f"{r.service_line}/{r.region} week {r.week}: needs {share * r.served_hours:.1f} "
                                f"equipment hours, {cap:.1f} h located there")
        if self.status in ("OPTIMAL", "FEASIBLE") and abs(self.profit() - self.objective_value) > 1e-3 * max(
                1.0, abs(self.objective_value)):
            problems.append(f"objective: solver reports {self.objective_value:.2f}, "
                            f"plan recomputes {self.profit():.2f}")
        return problems

    def kpis(self) -> dict:
        p = self.problem
        served = self.served()
        cap = sum(t.weekly_hours * len(p.weeks_of(t)) for t in p.technicians)
        home = {t.technician_id: t.home_region for t in p.technicians}
        away = int((self.technician_regions["region"] != self.technician_regions["technician_id"].map(home)).sum())
        return {"status": self.status, "profit": self.profit(), "demand_hours": float(served["demand_hours"].sum()),
                "served_hours": float(served["served_hours"].sum()),
                "served_share": float(served["served_hours"].sum() / max(served["demand_hours"].sum(), 1e-9)),
                "technician_utilisation": float(self.hours["hours"].sum() / cap) if cap else np.nan,
                "technician_weeks_away": away, "equipment_moves": self.equipment_moves(),
                "sla_cells_breached": int(len(self.sla_breaches)), "solve_seconds": self.solve_seconds}


def solve_allocation(problem: AllocationProblem, backend: str = "SCIP", time_limit: float = 60.0,
                     mip_gap: float = 1e-3, soft_sla_penalty: float | None = None) -> AllocationPlan:
    """Solve the allocation MIP (see the module docstring).

    Parameters
    ----------
    backend : str
        OR-Tools linear-solver backend: ``SCIP``, ``HIGHS`` or ``CBC``.
    time_limit : float
        Seconds.
    mip_gap : float
        Relative optimality gap at which the search stops (0.1 % of the profit by default:
        many plans differ by less than one relocation, and proving the last dollar is slow).
    soft_sla_penalty : float, optional
        Solve with the SLA as a soft constraint at this cost per hour short (used internally
        to explain an infeasible SLA).
    """
    from ortools.linear_solver import pywraplp

    start = time.perf_counter()
    solver = pywraplp.Solver.CreateSolver(backend)
    if solver is None:
        raise ValueError(f"OR-Tools backend {backend!r} is not available")
    solver.SetTimeLimit(int(time_limit * 1000))
    p = problem
    regions, weeks = p.regions, range(p.n_weeks)
    demand = p.demand_of()
    lines = p.lines
    y, h = {}, {}
    obj = solver.Objective()
    for t in p.technicians:
        for w in p.weeks_of(t):
            for r in (regions if p.allow_relocation else [t.home_region]):
                y[t.technician_id, r, w] = solver.BoolVar(f"y_{t.technician_id}_{r}_{w}")
                if r != t.home_region:
                    obj.SetCoefficient(y[t.technician_id, r, w], -p.relocation_cost)
                here = []
                for line in lines:
                    d = demand.get((line, r, w), 0.0)
                    if line in t.skills and d > 0:
                        cap = min(t.weekly_hours, d)
                        v = solver.NumVar(0, cap, f"h_{t.technician_id}_{line}_{r}_{w}")
                        h[t.technician_id, line, r, w] = v
                        obj.SetCoefficient(v, p.margin_per_hour[line] - t.hourly_rate)
                        # Tight big-M (the smaller of the week and the cell's demand): a stronger relaxation.
                        solver.Add(v <= cap * y[t.technician_id, r, w])
                        here.append(v)
                if here:
                    solver.Add(sum(here) <= t.weekly_hours * y[t.technician_id, r, w])
            solver.Add(sum(v for (tid, _, ww), v in y.items() if tid == t.technician_id and ww == w) <= 1)
            solver.Add(sum(v for (tid, _, _, ww), v in h.items() if tid == t.technician_id and ww == w)
                       <= t.weekly_hours)
    # Equipment in interchangeable groups (same line, home region and weekly hours): integer
    # counts per region instead of one binary per piece, which removes the symmetry between
    # identical pieces; pieces are given back their identities after the solve.
    groups: dict[tuple, list[AllocEquipment]] = {}
    for e in p.equipment:
        groups.setdefault((e.service_line, e.home_region, float(e.hours_per_week)), []).append(e)
    k = {}
    for g, (key, members) in enumerate(groups.items()):
        n = len(members)
        for w in weeks:
            for r in regions:
                lo = hi = (n if r == key[1] else 0)
                if p.allow_equipment_moves:
                    lo, hi = 0, n
                k[g, r, w] = solver.IntVar(lo, hi, f"k_{g}_{r}_{w}")
            solver.Add(sum(k[g, r, w] for r in regions) == n)
            for r in regions:
                prev = (n if r == key[1] else 0) if w == 0 else k[g, r, w - 1]
                arrive = solver.NumVar(0, n, f"arrive_{g}_{r}_{w}")  # pieces moved into r this week
                solver.Add(arrive >= k[g, r, w] - prev)
                obj.SetCoefficient(arrive, -p.equipment_move_cost)
    short = {}
    for (line, r, w), d in demand.items():
        served = sum(v for (tid, ll, rr, ww), v in h.items() if ll == line and rr == r and ww == w)
        solver.Add(served <= d)
        if soft_sla_penalty is None:
            solver.Add(served >= p.sla_share * d)
        else:
            s = solver.NumVar(0, p.sla_share * d, f"short_{line}_{r}_{w}")
            short[line, r, w] = s
            obj.SetCoefficient(s, -soft_sla_penalty)
            solver.Add(served + s >= p.sla_share * d)
        share = p.equipment_share.get(line, 0.0)
        if share > 0:
            cap = sum(key[2] * k[g, r, w] for g, key in enumerate(groups) if key[0] == line)
            solver.Add(share * served <= cap)
    obj.SetMaximization()
    params = pywraplp.MPSolverParameters()
    params.SetDoubleParam(pywraplp.MPSolverParameters.RELATIVE_MIP_GAP, float(mip_gap))
    code = solver.Solve(params)
    seconds = time.perf_counter() - start
    names = {pywraplp.Solver.OPTIMAL: "OPTIMAL", pywraplp.Solver.FEASIBLE: "FEASIBLE",
             pywraplp.Solver.INFEASIBLE: "INFEASIBLE", pywraplp.Solver.UNBOUNDED: "UNBOUNDED",
             pywraplp.Solver.ABNORMAL: "ABNORMAL", pywraplp.Solver.NOT_SOLVED: "NOT_SOLVED"}
    status = names.get(code, str(code))
    if code not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
        if soft_sla_penalty is None and status == "INFEASIBLE":
            soft = solve_allocation(problem, backend, time_limit, mip_gap, soft_sla_penalty=1_000.0)
            soft.status = "INFEASIBLE"
            soft.solve_seconds += seconds
            return soft
        empty = pd.DataFrame()
        return AllocationPlan(problem,
                              pd.DataFrame(columns=["technician_id", "service_line", "region", "week", "hours"]),
                              pd.DataFrame(columns=["technician_id", "week", "region"]),
                              pd.DataFrame(columns=["equipment_id", "week", "region"]), status, np.nan, seconds, empty)
    hours = pd.DataFrame([{"technician_id": tid, "service_line": line, "region": r, "week": w,
                           "hours": v.solution_value()}
                          for (tid, line, r, w), v in h.items() if v.solution_value() > 1e-6],
                         columns=["technician_id", "service_line", "region", "week", "hours"])
    tech_regions = pd.DataFrame([{"technician_id": tid, "week": w, "region": r}
                                 for (tid, r, w), v in y.items() if v.solution_value() > 0.5],
                                columns=["technician_id", "week", "region"])
    # A technician placed in a region but given no hours there stays home (costs nothing, changes nothing).
    worked = set(zip(hours["technician_id"], hours["week"]))
    home = {t.technician_id: t.home_region for t in p.technicians}
    tech_regions = tech_regions[[(tid, w) in worked or home[tid] == r
                                 for tid, w, r in tech_regions.itertuples(index=False)]].reset_index(drop=True)
    eq_loc = _place_pieces(groups, {key: int(round(v.solution_value())) for key, v in k.items()}, regions, weeks)
    breaches = pd.DataFrame([{"service_line": k[0], "region": k[1], "week": k[2], "short_hours": v.solution_value(),
                              "demand_hours": demand[k]} for k, v in short.items() if v.solution_value() > 1e-6],
                            columns=["service_line", "region", "week", "short_hours", "demand_hours"])
    if len(breaches):
        diagnosis = sla_diagnosis(p)
        breaches["reason"] = [_breach_reason(diagnosis, r.service_line, int(r.week)) for r in breaches.itertuples()]
    value = obj.Value() + sum(soft_sla_penalty * v.solution_value() for v in short.values()) if short else obj.Value()
    return AllocationPlan(problem, hours, tech_regions, eq_loc, status, float(value), seconds, breaches)


def _place_pieces(groups: dict, counts: dict, regions: list[str], weeks) -> pd.DataFrame:
    """Pieces per region and week from the group counts, moving as few pieces as possible."""
    rows = []
    for g, (key, members) in enumerate(groups.items()):
        where = {e.equipment_id: key[1] for e in members}
        for w in weeks:
            want = {r: counts[g, r, w] for r in regions}
            stay, movers = {}, []
            for e in members:
                r = where[e.equipment_id]
                if stay.get(r, 0) < want.get(r, 0):
                    stay[r] = stay.get(r, 0) + 1
                else:
                    movers.append(e.equipment_id)
            for r in regions:
                while stay.get(r, 0) < want[r]:
                    where[movers.pop(0)] = r
                    stay[r] = stay.get(r, 0) + 1
            rows.extend({"equipment_id": e.equipment_id, "week": w, "region": where[e.equipment_id]} for e in members)
    return pd.DataFrame(rows, columns=["equipment_id", "week", "region"])


def sla_diagnosis(problem: AllocationProblem) -> pd.DataFrame:
    """Per week and service line: can the SLA hours be covered at all? (max flow, regions pooled).

    A relaxation of the MIP (technicians may split their week between regions), so a shortfall
    here proves the SLA infeasible. Columns: ``week, service_line, sla_hours, coverable_hours,
    shortfall_hours, equipment_hours_needed, equipment_hours, reason``.
    """
    from quantlib.ops.skills import cover_demand

    p = problem
    rows = []
    for w in range(p.n_weeks):
        need = p.demand[p.demand["week"] == w].groupby("service_line", as_index=False)["hours"].sum()
        need["hours"] *= p.sla_share
        techs = pd.DataFrame([{"technician_id": t.technician_id, "skills": t.skills, "hours": t.weekly_hours}
                              for t in p.technicians if w in p.weeks_of(t)],
                             columns=["technician_id", "skills", "hours"])
        flow = cover_demand(techs, need.rename(columns={"service_line": "skill"})).by_skill.set_index("skill")
        for r in need.itertuples(index=False):
            covered = float(flow.loc[r.service_line, "covered_hours"])
            eq_need = p.equipment_share.get(r.service_line, 0.0) * r.hours
            eq_have = sum(e.hours_per_week for e in p.equipment if e.service_line == r.service_line)
            reasons = []
            if covered < r.hours - 1 / 60:
                reasons.append(f"qualified technicians can give {covered:.0f} of the {r.hours:.0f} SLA hours")
            if eq_need > eq_have + 1e-6:
                reasons.append(f"needs {eq_need:.0f} equipment hours, {eq_have:.0f} exist")
            rows.append({"week": w, "service_line": r.service_line, "sla_hours": r.hours, "coverable_hours": covered,
                         "shortfall_hours": r.hours - covered if covered < r.hours - 1 / 60 else 0.0,
                         "equipment_hours_needed": eq_need,
                         "equipment_hours": eq_have, "reason": "; ".join(reasons)})
    return pd.DataFrame(rows, columns=["week", "service_line", "sla_hours", "coverable_hours", "shortfall_hours",
                                       "equipment_hours_needed", "equipment_hours", "reason"])


def _breach_reason(diagnosis: pd.DataFrame, line: str, week: int) -> str:
    """Why a cell misses its SLA, in words."""
    hit = diagnosis[(diagnosis["week"] == week) & (diagnosis["service_line"] == line)]
    if len(hit) and hit["reason"].iloc[0]:
        return f"{line} in week {week}: " + hit["reason"].iloc[0]
    return (f"{line} in week {week}: the technicians who could cover it are fully booked on other "
            "lines or regions that week")


# ---------------------------------------------------------------------- builder from gold
def allocation_problem_from_gold(con, as_of=None, weeks: int = 4, sla_share: float = 0.9,
                                 demand_scale: dict[str, float] | float = 1.0, recent_weeks: int = 8,
                                 relocation_cost: float = 400.0, equipment_move_cost: float = 150.0
                                 ) -> AllocationProblem:
    """The coming ``weeks`` after ``as_of`` from the gold warehouse.

    Demand (technician hours = scheduled hours + travel, per service line, region and week) is
    the same week a year earlier scaled by the recent trend (the last ``recent_weeks`` weeks
    against the same weeks a year earlier), a seasonal-naive forecast; without a year of history,
    the mean of the last ``recent_weeks`` weeks. ``demand_scale`` multiplies it (a number, or
    per region) for scenarios. Margin per hour and equipment share per line come from the
    completed jobs of the last year.
    """
    if as_of is None:
        as_of = con.execute("SELECT as_of FROM build_params").fetchone()[0]
    as_of = pd.Timestamp(as_of).normalize()
    first = as_of + pd.Timedelta(days=1)
    week_starts = [(first + pd.Timedelta(weeks=k)).date() for k in range(weeks)]
    hist = con.execute(
        """SELECT service_line, region, scheduled_start::DATE AS day,
                  scheduled_hours + travel_minutes / 60.0 AS hours
           FROM jobs WHERE status <> 'cancelled' AND scheduled_start < ? AND scheduled_start >= ?""",
        [first, first - pd.Timedelta(days=364 + 7 * max(recent_weeks, weeks) + 7)]).df()
    hist["age_days"] = (first - pd.to_datetime(hist["day"])).dt.days
    cells = hist[["service_line", "region"]].drop_duplicates()
    rows = []
    recent = hist[hist["age_days"] <= 7 * recent_weeks]
    year_ago = hist[(hist["age_days"] > 364) & (hist["age_days"] <= 364 + 7 * recent_weeks)]
    have_year = len(year_ago) > 0
    for c in cells.itertuples(index=False):
        mine = (hist["service_line"] == c.service_line) & (hist["region"] == c.region)
        rec = recent.loc[(recent["service_line"] == c.service_line) & (recent["region"] == c.region), "hours"].sum()
        ago = year_ago.loc[(year_ago["service_line"] == c.service_line) & (year_ago["region"] == c.region),
                           "hours"].sum()
        for k in range(weeks):
            if have_year and ago > 0:
                lo, hi = 364 - 7 * k - 7, 364 - 7 * k  # the same 7 days a year earlier
                same = hist.loc[mine & (hist["age_days"] > lo) & (hist["age_days"] <= hi), "hours"].sum()
                value = same * rec / ago
            else:
                value = rec / recent_weeks
            scale = demand_scale.get(c.region, 1.0) if isinstance(demand_scale, dict) else float(demand_scale)
            rows.append({"service_line": c.service_line, "region": c.region, "week": k, "hours": value * scale})
    demand = pd.DataFrame(rows, columns=["service_line", "region", "week", "hours"])
    econ = con.execute(
        """SELECT service_line,
                  sum(revenue - material_cost) / nullif(sum(scheduled_hours + travel_minutes / 60.0), 0) AS margin,
                  sum(labor_hours) FILTER (WHERE equipment_id IS NOT NULL) / nullif(sum(labor_hours), 0) AS eq_share
           FROM jobs WHERE status = 'completed' AND scheduled_start >= ? AND scheduled_start < ?
           GROUP BY 1""", [first - pd.Timedelta(days=365), first]).df()
    techs = con.execute(
        """SELECT technician_id, name, region, skills, weekly_hours, hourly_rate FROM technicians
           WHERE hire_date <= ? AND (termination_date IS NULL OR termination_date >= ?) ORDER BY 1""",
        [first, first]).df()
    equipment = con.execute(
        """SELECT equipment_id, name, service_line, region, available_hours_per_week FROM equipment
           WHERE purchase_date <= ? ORDER BY 1""", [first]).df()
    return AllocationProblem(
        week_starts=week_starts,
        technicians=[AllocTechnician(r.technician_id, r.region, frozenset(s for s in str(r.skills).split(";") if s),
                                     float(r.weekly_hours), float(r.hourly_rate), name=r.name)
                     for r in techs.itertuples(index=False)],
        equipment=[AllocEquipment(r.equipment_id, r.service_line, r.region, float(r.available_hours_per_week), r.name)
                   for r in equipment.itertuples(index=False)],
        demand=demand, margin_per_hour=dict(zip(econ["service_line"], econ["margin"].astype(float))),
        equipment_share=dict(zip(econ["service_line"], econ["eq_share"].fillna(0.0).astype(float))),
        sla_share=sla_share, relocation_cost=relocation_cost, equipment_move_cost=equipment_move_cost)
