"""Company profiles: the typed description the sample-company generator works from.

A profile is a YAML file under ``parameters/companies/``. It names the company, its
regions, its service lines with their seasonal factors, how big it is and how its
customers behave. The generator reads it through :class:`CompanyProfile`, so a typo
in a key or a wrong type is an error naming the field, not a silent default.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from quantlib.config import load_yaml_model
from quantlib.data.contracts import SERVICE_LINES

SEASONS = ("winter", "spring", "summer", "fall")
# Meteorological seasons: Dec-Feb winter, Mar-May spring, Jun-Aug summer, Sep-Nov fall.
MONTH_SEASON = {12: "winter", 1: "winter", 2: "winter", 3: "spring", 4: "spring", 5: "spring",
                6: "summer", 7: "summer", 8: "summer", 9: "fall", 10: "fall", 11: "fall"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RegionSpec(_Strict):
    """A service region: its centre, zip prefix and climate."""

    name: str
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    zip_prefix: str = Field(pattern=r"^\d{3}$")
    radius_km: float = Field(default=25.0, gt=0)
    temp_mean_c: float = 13.0
    temp_amplitude_c: float = 12.0
    # Probability that a storm starts on a given day of the storm season (April-August).
    storm_daily_rate: float = Field(default=0.02, ge=0, le=1)
    share: float = Field(default=1.0, gt=0)


class ServiceLineSpec(_Strict):
    """One trade: its share of demand, seasonal factors and prices."""

    share: float = Field(gt=0)
    seasonal: dict[str, float]
    avg_ticket: float = Field(gt=0)
    material_share: float = Field(default=0.25, ge=0, lt=1)
    contract_monthly_fee: float = Field(default=20.0, gt=0)
    contract_visits_per_year: int = Field(default=2, ge=1, le=12)
    emergency_share: float = Field(default=0.08, ge=0, lt=1)
    install_share: float = Field(default=0.12, ge=0, lt=1)

    @field_validator("seasonal")
    @classmethod
    def _four_seasons(cls, value: dict[str, float]) -> dict[str, float]:
        if set(value) != set(SEASONS):
            raise ValueError(f"seasonal needs exactly {', '.join(SEASONS)}; got {', '.join(value)}")
        if any(v <= 0 for v in value.values()):
            raise ValueError("seasonal factors must be positive")
        return value


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class WorkforceSpec(_Strict):
    """How the technicians work: shifts, days off, leave, sickness and the on-call rota.

    The generator books jobs into these shifts (``booking_hours`` of work plus travel a
    day, less for the technician on call that week) and writes every technician-day's
    availability to the ground truth.
    """

    working_days: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri")
    # Share of the technicians working any given Saturday (a rota), with the Friday before off.
    saturday_share: float = Field(default=0.0, ge=0, le=1)
    shift_start_hour: float = Field(default=8.0, ge=0, lt=24)
    shift_end_hour: float = Field(default=17.0, gt=0, le=24)
    booking_hours: float = Field(default=8.0, gt=0, le=16, description="work + travel booked a day")
    on_call_booking_hours: float = Field(default=6.0, gt=0, le=16,
                                         description="work + travel booked a day in an on-call week")
    vacation_blocks_per_year: tuple[int, int] = (2, 3)
    vacation_block_days: int = Field(default=5, ge=1, le=15)
    sick_day_rate: float = Field(default=0.025, ge=0, lt=0.5, description="share of working days off sick")
    holidays_off: bool = True

    @field_validator("working_days")
    @classmethod
    def _known_days(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = set(value) - set(WEEKDAYS)
        if unknown or not value:
            raise ValueError(f"working_days must be some of {', '.join(WEEKDAYS)}; got {', '.join(value)}")
        return value

    @model_validator(mode="after")
    def _shift(self) -> "WorkforceSpec":
        if self.shift_end_hour <= self.shift_start_hour:
            raise ValueError("shift_end_hour must be after shift_start_hour")
        lo, hi = self.vacation_blocks_per_year
        if not 0 <= lo <= hi:
            raise ValueError("vacation_blocks_per_year must be (low, high) with 0 <= low <= high")
        return self


class CompanyProfile(_Strict):
    """Everything the generator needs to make one company.

    The ``targets`` mapping (e.g. ``monthly_revenue``) is what the KPIs compare against.
    """

    name: str
    slug: str = Field(pattern=r"^[a-z0-9_]+$")
    start: date
    end: date
    seed: int = 7
    technicians: int = Field(ge=2)
    jobs_per_technician_day: float = Field(default=3.0, gt=0)
    annual_growth: float = Field(default=0.08, ge=-0.5, le=1.0)
    commercial_share: float = Field(default=0.2, ge=0, le=1)
    contract_share: float = Field(default=0.15, ge=0, le=1)
    late_payer_share: float = Field(default=0.12, ge=0, le=1)
    base_annual_churn: float = Field(default=0.12, ge=0, le=1)
    labor_rate: float = Field(default=38.0, gt=0, description="mean technician hourly wage")
    regions: list[RegionSpec]
    service_lines: dict[str, ServiceLineSpec]
    targets: dict[str, float] = Field(default_factory=dict)
    workforce: WorkforceSpec = Field(default_factory=WorkforceSpec)

    @field_validator("service_lines")
    @classmethod
    def _known_lines(cls, value: dict[str, ServiceLineSpec]) -> dict[str, ServiceLineSpec]:
        unknown = set(value) - set(SERVICE_LINES)
        if unknown:
            raise ValueError(f"unknown service lines {sorted(unknown)}; known: {', '.join(SERVICE_LINES)}")
        return value

    @model_validator(mode="after")
    def _period(self) -> "CompanyProfile":
        if (self.end - self.start).days < 90:
            raise ValueError("the period from start to end must be at least 90 days")
        return self


def load_profile(path: str | Path) -> CompanyProfile:
    """Read and validate a company profile YAML file.

    Raises
    ------
    ValueError
        Naming the file and every field that is wrong.
    """
    return load_yaml_model(path, CompanyProfile, "profile")
