"""Predictive maintenance (issue 15): equipment life models, the recurrence of repairs, early
warning from telemetry (per-unit baselines, control charts, an isolation forest, the
fixed-threshold baseline), vibration in the frequency domain (waveform features, spectral peak
trends), usage as a Markov chain over operating states and its drift, performance degradation
(each unit's energy-efficiency loss per year since its last service, by regression), time to
failure by landmark Cox models, equipment health with work orders, and maintenance decisions
(preventive against failure cost, the age-replacement interval per kind, the interval when a
visit restores only part of the wear, a fleet schedule within technician capacity, maintenance
visits placed around the booked jobs); the ``equipment_monitor`` app
(``quantlib.apps.equipment_monitor``) shows them.

Engines only: nothing here imports a delivery package.
"""

from quantlib.maintenance.degradation import (
    DegradationDataError,
    DegradationModel,
    calendar_trend_rates,
    compare_rates,
)
from quantlib.maintenance.failure_modes import FailureModeClassifier, failure_mode_report, failure_windows
from quantlib.maintenance.failure_time import AgeWeibullModel, TimeToFailureModel, evaluate_time_to_failure
from quantlib.maintenance.health import (
    HEALTH_THRESHOLD,
    FleetHealth,
    equipment_health,
    plan_work_orders,
    record_slots,
    work_orders,
)
from quantlib.maintenance.policy import (
    AgeReplacementPolicy,
    FleetSchedule,
    MaintenanceCosts,
    MaintenancePolicyError,
    age_replacement_cost_rate,
    fleet_schedule,
    maintenance_costs,
    technician_capacity,
    unit_plan,
)
from quantlib.maintenance.repair import (
    PeriodicMaintenancePolicy,
    VirtualAgeModel,
    maintenance_history,
    periodic_cost_rate,
    virtual_ages,
)
from quantlib.maintenance.sensors import (
    SIGNALS,
    ControlChartDetector,
    FixedThresholdDetector,
    IsolationForestDetector,
    SensorDataError,
    SensorFeatures,
    alert_episodes,
    alert_lead_times,
    daily_readings,
)
from quantlib.maintenance.survival import (
    LifeDataError,
    WeibullLifeModel,
    mean_cumulative_function,
)
from quantlib.maintenance.usage import (
    TransitionMatrices,
    UsageChain,
    UsageDataError,
    stationary_distribution,
    transition_matrices,
)
from quantlib.maintenance.vibration import (
    DEFAULT_ORDERS,
    SPECTRAL_PEAKS,
    SpectralTrend,
    VibrationDataError,
    spectral_alarms,
    spectral_daily,
    waveform_features,
    waveform_matrix,
)
from quantlib.maintenance.windows import (
    MaintenanceSchedule,
    MaintenanceScheduleError,
    naive_schedule,
    schedule_maintenance,
)

__all__ = [
    "DegradationDataError", "DegradationModel", "calendar_trend_rates", "compare_rates",
    "AgeWeibullModel", "TimeToFailureModel", "evaluate_time_to_failure",
    "FailureModeClassifier", "failure_mode_report", "failure_windows",
    "HEALTH_THRESHOLD", "FleetHealth", "equipment_health", "plan_work_orders", "record_slots", "work_orders",
    "AgeReplacementPolicy", "FleetSchedule", "MaintenanceCosts", "MaintenancePolicyError",
    "age_replacement_cost_rate", "fleet_schedule", "maintenance_costs", "technician_capacity", "unit_plan",
    "SIGNALS", "ControlChartDetector", "FixedThresholdDetector", "IsolationForestDetector", "LifeDataError",
    "SensorDataError", "SensorFeatures", "WeibullLifeModel", "alert_episodes", "alert_lead_times", "daily_readings",
    "mean_cumulative_function",
    "PeriodicMaintenancePolicy", "VirtualAgeModel", "maintenance_history", "periodic_cost_rate",
    "virtual_ages",
    "TransitionMatrices", "UsageChain", "UsageDataError", "stationary_distribution", "transition_matrices",
    "DEFAULT_ORDERS", "SPECTRAL_PEAKS", "SpectralTrend", "VibrationDataError", "spectral_alarms", "spectral_daily",
    "waveform_features", "waveform_matrix",
    "MaintenanceSchedule", "MaintenanceScheduleError", "naive_schedule", "schedule_maintenance",
]
