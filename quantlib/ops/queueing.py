"""Capacity planning with queueing theory: how many on-call technicians (or agents) are needed.

* :func:`erlang_c` (M/M/c): probability that an arrival waits, the service level
  ``P(wait <= t) = 1 - C exp(-(c mu - lambda) t)``, mean wait ``C / (c mu - lambda)``;
* :func:`erlang_a` (M/M/c+M, impatient callers who abandon at rate ``theta``): probability of
  waiting, of abandoning and the mean wait, from the birth-death chain's stationary
  distribution (truncated where its tail is negligible);
* :func:`servers_needed`: the fewest servers meeting a service level;
* :func:`staffing_plan`: per period of the day, from forecast arrival rates (pointwise
  stationary: each period staffed as if it were in steady state);
* :func:`simulate_fcfs`: a discrete-event check: first-come-first-served, ``c(t)`` servers on
  duty per period (a call in progress at the end of a shift is finished), exact for any
  arrival and service times, so it tests the Erlang assumptions (steady state, Poisson,
  exponential) on real arrivals;
* :func:`bank_call_arrivals` / :func:`emergency_arrivals`: the two data sources (the real
  5-minute bank call-centre counts, the company's emergency jobs).

Rates are per hour and times in hours unless a function says otherwise.
"""

from __future__ import annotations

import heapq
import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import gammaln

__all__ = ["erlang_c", "service_level", "mean_wait", "erlang_a", "servers_needed", "staffing_plan",
           "simulate_fcfs", "simulate_mmc", "bank_call_arrivals", "arrival_profile", "arrivals_from_counts",
           "emergency_arrivals", "emergency_staffing", "replay_emergencies"]


def _check(arrival_rate: float, service_rate: float) -> None:
    if arrival_rate < 0:
        raise ValueError(f"arrival_rate must be >= 0, got {arrival_rate}")
    if service_rate <= 0:
        raise ValueError(f"service_rate must be > 0, got {service_rate}")


def erlang_c(arrival_rate: float, service_rate: float, servers: int) -> float:
    """Probability that an arrival has to wait in an M/M/c queue (1.0 when the queue is unstable).

    Computed in log space (stable for hundreds of servers).
    """
    _check(arrival_rate, service_rate)
    c = int(servers)
    if c < 1:
        raise ValueError(f"servers must be >= 1, got {servers}")
    a = arrival_rate / service_rate
    if a == 0:
        return 0.0
    if a >= c:
        return 1.0
    k = np.arange(c)
    log_terms = k * math.log(a) - gammaln(k + 1)
    log_last = c * math.log(a) - gammaln(c + 1) + math.log(c / (c - a))
    m = max(log_terms.max(), log_last)
    last = math.exp(log_last - m)
    return float(last / (np.exp(log_terms - m).sum() + last))


def service_level(arrival_rate: float, service_rate: float, servers: int, target_wait: float) -> float:
    """``P(wait <= target_wait)`` in an M/M/c queue (0 when unstable)."""
    c = int(servers)
    if arrival_rate / service_rate >= c:
        return 0.0
    pw = erlang_c(arrival_rate, service_rate, c)
    return float(1.0 - pw * math.exp(-(c * service_rate - arrival_rate) * target_wait))


def mean_wait(arrival_rate: float, service_rate: float, servers: int) -> float:
    """Mean wait in queue of all arrivals (``inf`` when unstable)."""
    c = int(servers)
    if arrival_rate / service_rate >= c:
        return math.inf
    return erlang_c(arrival_rate, service_rate, c) / (c * service_rate - arrival_rate)


def erlang_a(arrival_rate: float, service_rate: float, abandon_rate: float, servers: int,
             tol: float = 1e-12) -> dict:
    """M/M/c+M (Erlang A): callers abandon after an exponential patience of mean ``1 / abandon_rate``.

    Returns
    -------
    dict
        ``p_wait`` (an arrival finds all servers busy), ``p_abandon``, ``mean_wait`` (queue time of
        all arrivals), ``occupancy``. Always stable when ``abandon_rate > 0``.
    """
    _check(arrival_rate, service_rate)
    if abandon_rate <= 0:
        raise ValueError("abandon_rate must be > 0 (use erlang_c without abandonment)")
    c = int(servers)
    # Unnormalised log stationary probabilities of the birth-death chain, grown until the tail is negligible.
    logs = [0.0]
    n = 0
    while True:
        n += 1
        death = min(n, c) * service_rate + max(n - c, 0) * abandon_rate
        logs.append(logs[-1] + math.log(arrival_rate) - math.log(death) if arrival_rate > 0 else -math.inf)
        if n > c and (logs[-1] - max(logs) < math.log(tol) or n > c + 100_000):
            break
    logp = np.array(logs)
    p = np.exp(logp - logp.max())
    p /= p.sum()
    states = np.arange(len(p))
    queue = np.maximum(states - c, 0)
    expected_queue = float((queue * p).sum())
    lam = max(arrival_rate, 1e-300)
    return {"p_wait": float(p[states >= c].sum()), "p_abandon": abandon_rate * expected_queue / lam,
            "mean_wait": expected_queue / lam, "occupancy": float((np.minimum(states, c) * p).sum()) / c}


def servers_needed(arrival_rate: float, service_rate: float, target_wait: float, target_level: float = 0.8,
                   min_servers: int = 1, max_servers: int = 10_000) -> int:
    """The fewest servers with ``P(wait <= target_wait) >= target_level`` (Erlang C)."""
    _check(arrival_rate, service_rate)
    if not 0 < target_level < 1:
        raise ValueError(f"target_level must be in (0, 1), got {target_level}")
    c = max(int(min_servers), math.floor(arrival_rate / service_rate) + 1)
    while c <= max_servers:
        if service_level(arrival_rate, service_rate, c, target_wait) >= target_level:
            return c
        c += 1
    raise ValueError(f"no staffing up to {max_servers} servers meets the service level")


def staffing_plan(arrivals: pd.DataFrame, service_hours: float, target_wait: float, target_level: float = 0.8,
                  min_servers: int = 1) -> pd.DataFrame:
    """Servers per period from forecast arrival rates (pointwise stationary Erlang C).

    Parameters
    ----------
    arrivals : DataFrame
        ``period`` (label or start) and ``rate`` (arrivals per hour).
    service_hours : float
        Mean handling time.

    Returns
    -------
    DataFrame
        The input's columns and ``load`` (erlangs), ``servers``, ``service_level``, ``p_wait``,
        ``mean_wait``, ``occupancy``.
    """
    if not {"period", "rate"} <= set(arrivals.columns):
        raise ValueError("arrivals: need columns 'period' and 'rate'")
    if service_hours <= 0:
        raise ValueError(f"service_hours must be > 0, got {service_hours}")
    mu = 1.0 / service_hours
    rows = []
    for r in arrivals.itertuples(index=False):
        c = servers_needed(float(r.rate), mu, target_wait, target_level, min_servers=min_servers)
        rows.append({**r._asdict(), "rate": float(r.rate), "load": float(r.rate) * service_hours, "servers": c,
                     "service_level": service_level(r.rate, mu, c, target_wait),
                     "p_wait": erlang_c(r.rate, mu, c), "mean_wait": mean_wait(r.rate, mu, c),
                     "occupancy": float(r.rate) * service_hours / c})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------- simulation
def simulate_fcfs(arrival_times, service_times, servers, period_starts=None) -> np.ndarray:
    """Waiting times of a first-come-first-served queue with ``servers`` on duty.

    Parameters
    ----------
    arrival_times, service_times : array
        Same length; arrivals need not be sorted.
    servers : int or array of int
        A constant number of servers, or the number on duty in each period (then
        ``period_starts`` gives the periods' start times, increasing; the last period lasts
        forever). Server ``k`` is on duty when ``k < servers[period]``; a server going off duty
        finishes the call in hand.

    Returns
    -------
    ndarray
        Each arrival's wait (same order as the input).
    """
    arr = np.asarray(arrival_times, dtype=float)
    svc = np.asarray(service_times, dtype=float)
    if arr.shape != svc.shape:
        raise ValueError("arrival_times and service_times differ in length")
    if (svc < 0).any():
        raise ValueError("service_times must be >= 0")
    order = np.argsort(arr, kind="stable")
    waits = np.empty(len(arr))
    if np.ndim(servers) == 0:
        c = int(servers)
        if c < 1:
            raise ValueError("servers must be >= 1")
        free = [0.0] * c  # heap of the times each server becomes free
        for i in order:
            t = arr[i]
            soonest = heapq.heappop(free)
            start = max(t, soonest)
            waits[i] = start - t
            heapq.heappush(free, start + svc[i])
        return waits
    staff = np.asarray(servers, dtype=int)
    starts = np.asarray(period_starts, dtype=float)
    if starts.shape != staff.shape:
        raise ValueError("servers and period_starts differ in length")
    if staff.max() < 1:
        raise ValueError("no server is ever on duty")
    n_srv, n_per = int(staff.max()), len(staff)
    on = np.arange(n_srv)[:, None] < staff[None, :]  # on[k, p]
    # next_on[k, p]: first period >= p in which server k is on duty (n_per when never).
    next_on = np.full((n_srv, n_per + 1), n_per)
    for p in range(n_per - 1, -1, -1):
        next_on[:, p] = np.where(on[:, p], p, next_on[:, p + 1])
    period_time = np.append(starts, np.inf)
    free = np.full(n_srv, -np.inf)
    rows = np.arange(n_srv)
    for i in order:
        t = arr[i]
        ready = np.maximum(free, t)
        p = np.clip(np.searchsorted(starts, ready, side="right") - 1, 0, n_per - 1)
        nxt = next_on[rows, p]
        start = np.where(on[rows, p], ready, period_time[nxt])
        k = int(np.argmin(start))
        waits[i] = start[k] - t
        free[k] = start[k] + svc[i]
    return waits


def simulate_mmc(arrival_rate: float, service_rate: float, servers: int, n_arrivals: int = 50_000,
                 seed: int = 0, warmup: float = 0.1) -> np.ndarray:
    """Waits of an M/M/c queue simulated with :func:`simulate_fcfs` (first ``warmup`` share dropped)."""
    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(1 / arrival_rate, n_arrivals))
    waits = simulate_fcfs(arrivals, rng.exponential(1 / service_rate, n_arrivals), servers)
    return waits[int(warmup * n_arrivals):]


# ---------------------------------------------------------------------- data: bank calls
def bank_call_arrivals(path: str | Path) -> pd.DataFrame:
    """The 5-minute call counts (``ds``: local time of the interval start, ``day``, ``slot``, ``calls``)."""
    df = pd.read_csv(path)
    missing = {"DateTime", "Calls"} - set(df.columns)
    if missing:
        raise ValueError(f"{path}: missing column(s) {sorted(missing)}")
    # The file writes local clock times with a 'Z' suffix; the suffix is dropped, not converted.
    ds = pd.to_datetime(df["DateTime"].str.rstrip("Z"))
    out = pd.DataFrame({"ds": ds, "calls": df["Calls"].astype(float)})
    out["day"] = out["ds"].dt.normalize()
    out["slot"] = out["ds"].dt.hour * 12 + out["ds"].dt.minute // 5
    return out


def arrival_profile(counts: pd.DataFrame, slot_minutes: float = 5.0, quantile: float | None = None) -> pd.DataFrame:
    """Arrivals per hour for each slot of the day: ``period`` (slot), ``rate``, ``start_hour``.

    The mean over the days by default; with ``quantile`` (e.g. 0.8) that quantile of the days'
    counts, a buffer against busier-than-average days (staffing at 95 % occupancy is fragile).
    """
    grouped = counts.groupby("slot")["calls"]
    prof = (grouped.mean() if quantile is None else grouped.quantile(quantile)).reset_index()
    prof["rate"] = prof["calls"] * 60.0 / slot_minutes
    prof["start_hour"] = prof["slot"] * slot_minutes / 60.0
    return prof.rename(columns={"slot": "period"})[["period", "start_hour", "rate"]]


def arrivals_from_counts(counts: pd.DataFrame, slot_minutes: float = 5.0, seed: int = 0) -> np.ndarray:
    """Arrival times (hours of the day) from one day's counts: uniform within each slot.

    Given the count, arrivals of a Poisson process in an interval are uniform on it.
    """
    rng = np.random.default_rng(seed)
    width = slot_minutes / 60.0
    n = counts["calls"].round().astype(int).to_numpy()
    starts = (counts["slot"] * width).to_numpy()
    return np.sort(np.repeat(starts, n) + rng.uniform(0, width, n.sum()))


# ---------------------------------------------------------------------- data: emergencies
def emergency_arrivals(con, as_of=None, history_days: int = 365,
                       block_hours: int = 4) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Emergency arrival rates per block of the day and the emergencies themselves.

    Returns
    -------
    (rates, jobs)
        ``rates``: ``period`` (block start hour), ``rate`` (emergencies an hour in that block,
        averaged over the days of the history). ``jobs``: ``created_at, hour, service_hours``
        (labour hours + travel of completed emergencies).
    """
    if 24 % block_hours:
        raise ValueError(f"block_hours must divide 24, got {block_hours}")
    if as_of is None:
        as_of = con.execute("SELECT as_of FROM build_params").fetchone()[0]
    as_of = pd.Timestamp(as_of)
    since = as_of - pd.Timedelta(days=history_days)
    jobs = con.execute(
        """SELECT created_at, labor_hours + travel_minutes / 60.0 AS service_hours
           FROM jobs WHERE urgency = 'emergency' AND status = 'completed'
             AND created_at >= ? AND created_at < ? + INTERVAL 1 DAY ORDER BY created_at""",
        [since, as_of]).df()
    jobs["hour"] = jobs["created_at"].dt.hour + jobs["created_at"].dt.minute / 60.0
    days = max(1, (as_of - since).days)
    block = (jobs["hour"] // block_hours).astype(int) * block_hours
    counts = block.value_counts().reindex(range(0, 24, block_hours), fill_value=0)
    rates = pd.DataFrame({"period": counts.index, "rate": counts.to_numpy() / (days * block_hours)})
    return rates, jobs


def emergency_staffing(con, as_of=None, target_wait_hours: float = 2.0, target_level: float = 0.8,
                       history_days: int = 365, block_hours: int = 4, min_servers: int = 1) -> pd.DataFrame:
    """On-call technicians per block of the day so that ``P(wait <= target) >= target_level``.

    The service time of an emergency is its labour hours plus its travel (mean over the history).
    Returns :func:`staffing_plan`'s columns plus ``hours`` (block start-end label).
    """
    rates, jobs = emergency_arrivals(con, as_of, history_days, block_hours)
    if jobs.empty:
        raise ValueError("no completed emergency jobs in the history: nothing to plan on-call staffing from")
    plan = staffing_plan(rates, float(jobs["service_hours"].mean()), target_wait_hours, target_level, min_servers)
    plan["hours"] = [f"{p:02d}:00-{p + block_hours:02d}:00" for p in plan["period"]]
    plan["service_hours"] = float(jobs["service_hours"].mean())
    return plan


def replay_emergencies(con, staffing: pd.DataFrame, as_of=None, history_days: int = 365,
                       target_wait_hours: float = 2.0) -> dict:
    """Replay the history's emergencies (real call times and hours) against an on-call plan.

    ``staffing`` is :func:`emergency_staffing`'s table (``period`` = block start hour, ``rate``,
    ``servers``), repeated every day. The simulation is :func:`simulate_fcfs`, so nothing of Erlang's
    assumptions (Poisson arrivals, exponential hours, steady state) is assumed.

    Returns
    -------
    dict
        ``emergencies``, ``service_level`` (share reached within ``target_wait_hours``),
        ``mean_wait`` and ``p_wait`` (hours / share), and ``erlang_service_level``: the plan's
        Erlang C figure weighted by arrivals, to compare.
    """
    block_hours = int(staffing["period"].diff().dropna().iloc[0]) if len(staffing) > 1 else 24
    _, jobs = emergency_arrivals(con, as_of, history_days, block_hours)
    if jobs.empty:
        raise ValueError("no completed emergency jobs in the history to replay")
    t0 = jobs["created_at"].min().normalize()
    arrivals = (jobs["created_at"] - t0).dt.total_seconds().to_numpy() / 3600.0
    n_days = int(np.ceil(arrivals.max() / 24.0)) + 1
    per_day = staffing.sort_values("period")
    starts = (np.arange(n_days)[:, None] * 24.0 + per_day["period"].to_numpy()[None, :]).ravel()
    servers = np.tile(per_day["servers"].to_numpy(dtype=int), n_days)
    waits = simulate_fcfs(arrivals, jobs["service_hours"].to_numpy(dtype=float), servers, starts)
    block = (jobs["hour"] // block_hours).astype(int) * block_hours
    mu = 1.0 / float(jobs["service_hours"].mean())
    erlang_of = {r.period: service_level(float(r.rate), mu, int(r.servers), target_wait_hours)
                 for r in per_day.itertuples(index=False)}
    erlang = block.map(erlang_of).mean()
    return {"emergencies": int(len(jobs)), "service_level": float((waits <= target_wait_hours).mean()),
            "mean_wait": float(waits.mean()), "p_wait": float((waits > 0).mean()),
            "erlang_service_level": float(erlang)}
