"""Risk thresholds and settings: ``parameters/risk.yaml``, validated by pydantic.

Thresholds live in the YAML file, not in code: each indicator has a ``warning`` and a
``critical`` threshold (either may be absent), an ``owner`` and its own window or options.
Satisfaction thresholds are written on the specification's 5-point scale
(``scale: five_point``) and mapped to our 0-10 ratings by
:func:`quantlib.kpi.to_ten_point` when read (:meth:`IndicatorSettings.thresholds`).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from quantlib.config import load_yaml_model, project_root
from quantlib.errors import QuantError
from quantlib.kpi.ratings import to_ten_point

__all__ = ["IndicatorSettings", "RiskParameters", "RiskParametersError", "SpcSettings", "default_risk_path",
           "load_risk_parameters"]


class RiskParametersError(QuantError, ValueError):
    """``parameters/risk.yaml`` (or another risk file) is missing or breaks its rules; says where."""


class IndicatorSettings(BaseModel):
    """One indicator's thresholds, owner and options (options unused by an indicator are ignored)."""

    model_config = ConfigDict(extra="forbid")

    warning: float | None = None
    critical: float | None = None
    owner: str
    scale: Literal["five_point"] | None = Field(None, description="thresholds on the spec's 5-point rating scale")
    window_days: int = Field(30, ge=1, le=3660)
    top_n: int = Field(5, ge=1)
    history_months: int = Field(24, ge=12, le=120)
    horizon_days: int = Field(90, ge=7, le=365)
    min_skill_hours: float = Field(40.0, ge=0)

    def thresholds(self) -> tuple[float | None, float | None]:
        """``(warning, critical)`` on the indicator's own scale (ratings mapped to 0-10)."""
        if self.scale == "five_point":
            return tuple(None if t is None else float(to_ten_point(t)) for t in (self.warning, self.critical))
        return self.warning, self.critical


class SpcSettings(BaseModel):
    """Statistical process control of the quality series (weekly, ending at the as-of date)."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["ewma", "cusum"] = "ewma"
    lam: float = Field(0.2, gt=0, le=1, description="EWMA smoothing constant")
    k: float = Field(0.5, ge=0, description="CUSUM allowance in standard deviations")
    baseline_weeks: int = Field(52, ge=8)
    monitor_weeks: int = Field(13, ge=1)


class RiskParameters(BaseModel):
    """Every risk indicator's settings, by indicator name, and the SPC settings."""

    model_config = ConfigDict(extra="forbid")

    info_margin: float = Field(0.1, ge=0, lt=1)
    drivers_top: int = Field(5, ge=1)
    dso: IndicatorSettings
    collection_efficiency: IndicatorSettings
    customer_concentration: IndicatorSettings
    seasonal_volatility: IndicatorSettings
    seasonal_cash_reserve: IndicatorSettings
    skill_concentration: IndicatorSettings
    single_qualified_skills: IndicatorSettings
    equipment_failure_exposure: IndicatorSettings
    satisfaction: IndicatorSettings
    complaint_rate: IndicatorSettings
    satisfaction_spc: IndicatorSettings
    complaint_spc: IndicatorSettings
    spc: SpcSettings = SpcSettings()

    def settings(self, name: str) -> IndicatorSettings:
        """The settings of indicator ``name``."""
        value = getattr(self, name, None)
        if not isinstance(value, IndicatorSettings):
            raise KeyError(f"no risk settings for {name!r}")
        return value


def default_risk_path() -> Path:
    """``<project root>/parameters/risk.yaml``."""
    return project_root() / "parameters" / "risk.yaml"


@lru_cache(maxsize=8)
def _load(path: str) -> RiskParameters:
    return load_yaml_model(path, RiskParameters, "risk parameters", RiskParametersError)


def load_risk_parameters(path: str | Path | None = None) -> RiskParameters:
    """The risk parameters in ``path`` (default :func:`default_risk_path`), read once per path.

    Raises
    ------
    RiskParametersError
        When the file is missing or breaks the model (one line naming the file and the fields).
    """
    return _load(str(Path(path) if path else default_risk_path()))
