"""Capacity demand: technician hours needed per skill (service line) vs hours available.

For the next 7, 30 and 90 days (``periods``):

* jobs needed per service line and job type = the daily rate of the same season and
  weekday kind (weekday / weekend) over the last ``history_days``, scaled by the recent
  growth (last 91 days vs the same 91 days a year earlier, when there is a year);
* hours per job per service line and job type = mean labour hours (+ travel when
  ``include_travel``) of the completed jobs of the same history;
* hours available = ``weekly_hours / 7`` a day of the technicians active at ``as_of``
  having the skill; a technician with several skills is split evenly between them
  (``hours_available``); ``hours_available_any`` counts all their hours for each skill
  (the most that skill could get).

``gap = hours_needed - hours_available`` (positive: short of technicians).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from quantlib.forecast.cashflow import SEASON_OF_MONTH
from quantlib.forecast.pipeline import active_technicians
from quantlib.forecast.revenue import _as_snapshot


class CapacityPlanner(BaseEstimator):
    """Technician hours needed per skill and period, against hours available.

    Parameters
    ----------
    periods : tuple of int
        Days ahead (default 7, 30, 90).
    history_days : int
        Days of history the job rates and hours per job are learned from.
    include_travel : bool
        Count travel time as hours needed.

    Attributes
    ----------
    hours_per_job_ : DataFrame
        ``service_line, job_type, jobs, hours_per_job``.
    daily_jobs_ : DataFrame
        Expected jobs per day: ``ds, service_line, job_type, jobs``.
    growth_ : float
    available_per_day_ : DataFrame
        ``skill, hours_available, hours_available_any, technicians`` (a day).
    """

    def __init__(self, periods=(7, 30, 90), history_days: int = 365, include_travel: bool = True) -> None:
        self.periods = periods
        self.history_days = history_days
        self.include_travel = include_travel

    def fit(self, data, as_of=None) -> "CapacityPlanner":
        """Learn rates, hours per job and availability from the data known at ``as_of``.

        Parameters
        ----------
        data : path, Lake, duckdb connection or Snapshot
        as_of : date-like, optional

        Returns
        -------
        self
        """
        if not self.periods or any(int(p) != p or p < 1 for p in self.periods):
            raise ValueError(f"periods must be positive whole numbers of days, got {self.periods}")
        snap = _as_snapshot(data, as_of)
        T = snap.as_of
        start = T - pd.Timedelta(days=self.history_days - 1)
        jobs = snap["jobs"]
        done = jobs[jobs["is_completed"] & (jobs["completed_date"] >= start)].copy()
        if done.empty:
            raise ValueError(f"no completed jobs in the {self.history_days} days before {T.date()}")
        hours = done["labor_hours"] + (done["travel_minutes"].fillna(0) / 60 if self.include_travel else 0)
        done["hours"] = hours
        self.hours_per_job_ = (done.groupby(["service_line", "job_type"])
                               .agg(jobs=("job_id", "size"), hours_per_job=("hours", "mean")).reset_index())
        # Growth: last 91 days vs the same 91 days a year earlier.
        allc = jobs[jobs["is_completed"]]
        recent = ((allc["completed_date"] > T - pd.Timedelta(days=91))).sum()
        before = ((allc["completed_date"] > T - pd.Timedelta(days=91 + 364))
                  & (allc["completed_date"] <= T - pd.Timedelta(days=364))).sum()
        self.growth_ = float(np.clip(recent / before, 0.5, 2.0)) if before >= 30 else 1.0
        days_hist = pd.date_range(start, T, freq="D")
        key = lambda idx: np.array([SEASON_OF_MONTH[m] for m in idx.month]) * 2 + (idx.day_of_week >= 5)  # noqa: E731
        n_by_key = pd.Series(key(days_hist)).value_counts()
        done["key"] = key(pd.DatetimeIndex(done["completed_date"]))
        counts = done.groupby(["service_line", "job_type", "key"]).size().rename("n").reset_index()
        counts["rate"] = counts["n"] / counts["key"].map(n_by_key) * self.growth_
        H = int(max(self.periods))
        ds = pd.date_range(T + pd.Timedelta(days=1), periods=H, freq="D")
        fut = pd.DataFrame({"ds": ds, "key": key(ds)})
        pairs = self.hours_per_job_[["service_line", "job_type"]]
        grid = fut.merge(pairs, how="cross").merge(counts[["service_line", "job_type", "key", "rate"]],
                                                   on=["service_line", "job_type", "key"], how="left")
        grid["jobs"] = grid["rate"].fillna(0.0)
        self.daily_jobs_ = grid[["ds", "service_line", "job_type", "jobs"]]
        # Availability.
        # The roster at T: technicians who leave later are on it, those hired later are not.
        techs = active_technicians(snap["technicians"], T)
        rows = []
        for _, t in techs.iterrows():
            skills = [s.strip() for s in str(t["skills"]).split(";") if s.strip()]
            for s in skills:
                rows.append({"skill": s, "even": t["weekly_hours"] / 7 / len(skills),
                             "any": t["weekly_hours"] / 7})
        av = pd.DataFrame(rows, columns=["skill", "even", "any"])
        self.available_per_day_ = (av.groupby("skill").agg(hours_available=("even", "sum"),
                                                            hours_available_any=("any", "sum"),
                                                            technicians=("any", "size")).reset_index())
        self.as_of_ = T
        return self

    def forecast(self) -> pd.DataFrame:
        """Hours needed vs available per skill and period.

        Returns
        -------
        DataFrame
            ``skill, period_days, start, end, jobs_needed, hours_needed, hours_available,
            hours_available_any, technicians, gap, utilisation_needed``.
        """
        check_is_fitted(self, "daily_jobs_")
        d = self.daily_jobs_.merge(self.hours_per_job_[["service_line", "job_type", "hours_per_job"]],
                                   on=["service_line", "job_type"])
        d["hours"] = d["jobs"] * d["hours_per_job"]
        skills = sorted(set(d["service_line"]) | set(self.available_per_day_["skill"]))
        av = self.available_per_day_.set_index("skill").reindex(skills).fillna(0.0)
        rows = []
        for p in sorted(int(x) for x in self.periods):
            sub = d[d["ds"] <= self.as_of_ + pd.Timedelta(days=p)]
            need = sub.groupby("service_line")[["jobs", "hours"]].sum().reindex(skills).fillna(0.0)
            for s in skills:
                avail = float(av.loc[s, "hours_available"]) * p
                rows.append({
                    "skill": s, "period_days": p, "start": self.as_of_ + pd.Timedelta(days=1),
                    "end": self.as_of_ + pd.Timedelta(days=p), "jobs_needed": need.loc[s, "jobs"],
                    "hours_needed": need.loc[s, "hours"], "hours_available": avail,
                    "hours_available_any": float(av.loc[s, "hours_available_any"]) * p,
                    "technicians": int(av.loc[s, "technicians"]),
                    "gap": need.loc[s, "hours"] - avail,
                    "utilisation_needed": need.loc[s, "hours"] / avail if avail else np.inf,
                })
        return pd.DataFrame(rows)

    predict = forecast
