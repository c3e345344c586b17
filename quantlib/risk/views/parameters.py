"""Parameter model of the daily ``risk_alerts`` report notebook."""

from __future__ import annotations

from pydantic import Field

from quantlib.parameters import NotebookParameters, register_parameters

__all__ = ["RiskAlertsParameters"]


@register_parameters("risk_alerts")
class RiskAlertsParameters(NotebookParameters):
    """Daily risk and alerts report: the register as of ``as_of``, ``months`` of level history and the
    alerts of the last ``history_days`` days."""

    months: int = Field(6, ge=2, le=24, description="month ends in the risk level history")
    history_days: int = Field(30, ge=1, le=365, description="days of alert history summarised")
