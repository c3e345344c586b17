"""The cost of a job, built up from the company's own data by the specification's formulas.

* labour = hourly rate x estimated hours x skill multiplier
* equipment = (depreciation rate + maintenance cost) per usage hour x expected usage hours
* materials = market price x quantity x waste factor, from the company's price list when it
  covers the job; otherwise the historical material cost of that service line and job type
  (the data records no parts or market prices)
* overhead = fixed costs per month / completed jobs per month

Estimated hours are the history of that service line and job type (mean, with the 10th and
90th percentiles as the interval). Rates, multipliers, waste factors and depreciation come from
``parameters/pricing/<company>.yaml`` (:class:`PricingParameters`); a field left empty there is
learned from gold by :meth:`CostModel.fit`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from quantlib.config import load_yaml_model, project_root
from quantlib.data.gold import as_of_date, open_gold
from quantlib.errors import QuantError

__all__ = ["CostBuildUp", "CostModel", "PriceListItem", "PricingError", "PricingParameters",
           "load_pricing_parameters", "pricing_parameters_path"]


class PricingError(QuantError, ValueError):
    """A job whose cost cannot be built (unknown service, no history), or bad pricing parameters."""


class PriceListItem(BaseModel):
    """One part of a company's price list and how many of it each kind of job uses."""

    model_config = ConfigDict(extra="forbid")

    part: str
    unit_price: float = Field(ge=0)
    waste_factor: float = Field(1.0, ge=1.0, le=3.0)
    quantities: dict[str, float] = Field(description="'<service line>/<job type>' -> parts per job")

    @field_validator("quantities")
    @classmethod
    def _keys(cls, value: dict[str, float]) -> dict[str, float]:
        for key, qty in value.items():
            if key.count("/") != 1:
                raise ValueError(f"quantity key {key!r} must be '<service line>/<job type>'")
            if qty < 0:
                raise ValueError(f"quantity of {key!r} must be >= 0")
        return value


class PricingParameters(BaseModel):
    """``parameters/pricing/<company>.yaml``: the cost build-up's rates (empty = learned from data)."""

    model_config = ConfigDict(extra="forbid")

    hourly_rate: float | None = Field(None, gt=0)
    skill_multipliers: dict[str, float] = Field(default_factory=dict)
    equipment_life_years: float = Field(7.0, gt=0, le=50)
    history_months: int = Field(24, ge=3, le=120)
    overhead_months: int = Field(12, ge=1, le=60)
    price_list: list[PriceListItem] = Field(default_factory=list)


def pricing_parameters_path(company: str) -> Path:
    """Where ``company``'s pricing parameters live: ``parameters/pricing/<company>.yaml``."""
    return project_root() / "parameters" / "pricing" / f"{company}.yaml"


def load_pricing_parameters(company: str | None = None, path: str | Path | None = None, *,
                            missing_ok: bool = False) -> PricingParameters:
    """The pricing parameters of ``company`` (:func:`pricing_parameters_path`), or of ``path``;
    all defaults (everything from the data) when neither is given, or when the file does not
    exist and ``missing_ok``."""
    if path is None and company is None:
        return PricingParameters()
    path = Path(path) if path else pricing_parameters_path(company)
    if missing_ok and not path.is_file():
        return PricingParameters()
    return load_yaml_model(path, PricingParameters, "pricing parameters", PricingError)


@dataclass(frozen=True)
class CostBuildUp:
    """The cost of one job, line by line, with the hours behind it.

    Money per job; ``total_lo`` / ``total_hi`` use the 10th / 90th percentile hours and
    materials of the history.
    """

    service_line: str
    job_type: str
    hours: float
    hours_lo: float
    hours_hi: float
    hourly_rate: float
    skill_multiplier: float
    labour: float
    equipment: float
    materials: float
    materials_source: str
    overhead: float
    total: float
    total_lo: float
    total_hi: float
    history_jobs: int

    def lines(self) -> pd.DataFrame:
        """``component, amount, basis``: the build-up as a table."""
        return pd.DataFrame([
            {"component": "labour", "amount": self.labour,
             "basis": f"${self.hourly_rate:,.2f}/h x {self.hours:.2f} h x {self.skill_multiplier:.2f} skill"},
            {"component": "equipment", "amount": self.equipment, "basis": "depreciation + maintenance per usage hour"},
            {"component": "materials", "amount": self.materials, "basis": self.materials_source},
            {"component": "overhead", "amount": self.overhead, "basis": "fixed costs / jobs per month"},
            {"component": "total", "amount": self.total,
             "basis": f"${self.total_lo:,.0f} to ${self.total_hi:,.0f} (10th-90th percentile hours and materials)"},
        ])

    def as_dict(self) -> dict:
        return {k: (round(v, 2) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


class CostModel:
    """The cost build-up learned from gold.

    Parameters
    ----------
    params : PricingParameters, optional
        Rates and overrides; default everything from the data.

    Attributes
    ----------
    as_of_ : date
    hourly_rate_ : float
    history_ : DataFrame
        Per ``service_line, job_type``: ``jobs, hours, hours_lo, hours_hi, materials, materials_lo,
        materials_hi, skill_multiplier, usage_hours``.
    equipment_rate_ : Series
        Per service line: depreciation plus maintenance per equipment usage hour.
    overhead_per_job_ : float
    """

    def __init__(self, params: PricingParameters | None = None) -> None:
        self.params = params

    def fit(self, source, as_of=None) -> "CostModel":
        p = self.params or PricingParameters()
        with open_gold(source) as con:
            day = as_of_date(con, as_of)
            start = (pd.Timestamp(day) - pd.DateOffset(months=p.history_months)).date()
            base_rate = p.hourly_rate or con.execute(
                "SELECT median(hourly_rate) FROM technicians WHERE hire_date <= ?", [day]).fetchone()[0]
            if not base_rate:
                raise PricingError("no technician hourly rates in gold to learn hourly_rate from; set it in "
                                   "parameters/pricing/<company>.yaml")
            history = con.execute("""
                SELECT j.service_line, j.job_type, count(*) AS jobs,
                       avg(j.labor_hours) AS hours, quantile_cont(j.labor_hours, 0.1) AS hours_lo,
                       quantile_cont(j.labor_hours, 0.9) AS hours_hi,
                       avg(j.material_cost) AS materials, quantile_cont(j.material_cost, 0.1) AS materials_lo,
                       quantile_cont(j.material_cost, 0.9) AS materials_hi,
                       avg(j.technician_hourly_rate) AS mean_rate,
                       coalesce(sum(u.hours), 0) / count(*) AS usage_hours
                FROM job_facts j
                LEFT JOIN (SELECT job_id, sum(hours) AS hours FROM equipment_usage GROUP BY ALL) u USING (job_id)
                WHERE j.is_completed AND j.completed_date > ? AND j.completed_date <= ?
                GROUP BY ALL ORDER BY 1, 2""", [start, day]).df()
            year = (pd.Timestamp(day) - pd.DateOffset(years=1)).date()
            equipment = con.execute("""
                WITH usage AS (SELECT e.service_line, sum(u.hours) AS hours FROM equipment_usage u
                               JOIN equipment e USING (equipment_id) WHERE u.date > ? AND u.date <= ? GROUP BY ALL),
                     upkeep AS (SELECT e.service_line, sum(m.cost) AS cost FROM maintenance_events m
                                JOIN equipment e USING (equipment_id)
                                WHERE m.completed_date > ? AND m.completed_date <= ? GROUP BY ALL),
                     owned AS (SELECT service_line, sum(purchase_cost) AS cost FROM equipment
                               WHERE purchase_date <= ? GROUP BY ALL)
                SELECT o.service_line, o.cost AS purchase_cost, coalesce(k.cost, 0) AS maintenance,
                       coalesce(s.hours, 0) AS usage_hours
                FROM owned o LEFT JOIN usage s USING (service_line) LEFT JOIN upkeep k USING (service_line)
                """, [year, day, year, day, day]).df()
            overhead_start = (pd.Timestamp(day) - pd.DateOffset(months=p.overhead_months)).date()
            fixed = con.execute("SELECT coalesce(sum(amount), 0) FROM expenses WHERE kind = 'fixed' AND date > ? "
                                "AND date <= ?", [overhead_start, day]).fetchone()[0]
            jobs = con.execute("SELECT count(*) FROM job_facts WHERE is_completed AND completed_date > ? "
                               "AND completed_date <= ?", [overhead_start, day]).fetchone()[0]
        if history.empty:
            raise PricingError(f"no completed jobs between {start} and {day} to learn costs from")
        history["skill_multiplier"] = history["mean_rate"] / float(base_rate)
        for key, mult in p.skill_multipliers.items():
            history.loc[history["job_type"] == key, "skill_multiplier"] = mult
        equipment["rate"] = np.where(
            equipment["usage_hours"] > 0,
            (equipment["purchase_cost"] / p.equipment_life_years + equipment["maintenance"])
            / equipment["usage_hours"].where(equipment["usage_hours"] > 0), 0.0)
        self.as_of_ = day
        self.hourly_rate_ = float(base_rate)
        self.history_ = history.set_index(["service_line", "job_type"])
        self.equipment_rate_ = equipment.set_index("service_line")["rate"]
        self.overhead_per_job_ = float(fixed) / p.overhead_months / (jobs / p.overhead_months) if jobs else 0.0
        self.params_ = p
        return self

    def _price_list_materials(self, service_line: str, job_type: str) -> float | None:
        key = f"{service_line}/{job_type}"
        items = [i for i in self.params_.price_list if key in i.quantities]
        if not items:
            return None
        return float(sum(i.unit_price * i.quantities[key] * i.waste_factor for i in items))

    def build(self, service_line: str, job_type: str) -> CostBuildUp:
        """The cost build-up of one job of ``service_line`` and ``job_type``.

        Raises
        ------
        PricingError
            The line or job type is unknown, or has no completed jobs in the history window.
        """
        if not hasattr(self, "history_"):
            raise PricingError("the cost model is not fitted: call fit(gold) first")
        try:
            h = self.history_.loc[(service_line, job_type)]
        except KeyError:
            lines = sorted(self.history_.index.get_level_values(0).unique())
            types = sorted(self.history_.index.get_level_values(1).unique())
            if service_line not in lines:
                raise PricingError(f"unknown service line {service_line!r}: no completed jobs of it in the last "
                                   f"{self.params_.history_months} months; known: {', '.join(lines)}") from None
            raise PricingError(f"no completed {service_line} jobs of type {job_type!r} in the last "
                               f"{self.params_.history_months} months to estimate hours from; known types: "
                               f"{', '.join(types)}") from None
        rate = float(self.equipment_rate_.get(service_line, 0.0))
        listed = self._price_list_materials(service_line, job_type)
        materials, mat_lo, mat_hi = ((listed, listed, listed) if listed is not None else
                                     (float(h["materials"]), float(h["materials_lo"]), float(h["materials_hi"])))
        source = "price list" if listed is not None else (
            f"historical mean of {int(h['jobs'])} {service_line} {job_type} jobs")
        per_hour = self.hourly_rate_ * float(h["skill_multiplier"])
        equipment = rate * float(h["usage_hours"])
        fixed = equipment + self.overhead_per_job_
        labour = per_hour * float(h["hours"])
        return CostBuildUp(
            service_line=service_line, job_type=job_type, hours=float(h["hours"]), hours_lo=float(h["hours_lo"]),
            hours_hi=float(h["hours_hi"]), hourly_rate=self.hourly_rate_,
            skill_multiplier=float(h["skill_multiplier"]), labour=labour, equipment=equipment, materials=materials,
            materials_source=source, overhead=self.overhead_per_job_, total=labour + materials + fixed,
            total_lo=per_hour * float(h["hours_lo"]) + mat_lo + fixed,
            total_hi=per_hour * float(h["hours_hi"]) + mat_hi + fixed, history_jobs=int(h["jobs"]))

    def build_frame(self, jobs: pd.DataFrame) -> pd.DataFrame:
        """Vectorised :meth:`build` for many jobs (``service_line, job_type`` columns): adds
        ``labour, equipment, materials, overhead, cost``. Unknown pairs raise like :meth:`build`."""
        keys = pd.MultiIndex.from_frame(jobs[["service_line", "job_type"]])
        missing = keys.difference(self.history_.index)
        if len(missing):
            self.build(*missing[0])  # raises the error naming it
        h = self.history_.reindex(keys)
        out = jobs.copy()
        out["labour"] = self.hourly_rate_ * h["skill_multiplier"].to_numpy() * h["hours"].to_numpy()
        out["equipment"] = (self.equipment_rate_.reindex(jobs["service_line"]).fillna(0.0).to_numpy()
                            * h["usage_hours"].to_numpy())
        listed = [self._price_list_materials(s, t) for s, t in zip(jobs["service_line"], jobs["job_type"])] \
            if self.params_.price_list else [None] * len(jobs)
        out["materials"] = np.where(pd.isna(pd.Series(listed, dtype=float)), h["materials"].to_numpy(),
                                    pd.Series(listed, dtype=float).to_numpy())
        out["overhead"] = self.overhead_per_job_
        out["cost"] = out[["labour", "equipment", "materials", "overhead"]].sum(axis=1)
        return out


