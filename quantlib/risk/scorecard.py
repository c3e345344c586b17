"""The specification's success scorecard: each metric in a baseline year and now, against its target.

Baseline = the calendar year the company chooses; current = the year ending as_of (the
calendar year when as_of is 31 December).
``kind`` says how the target reads (``parameters/scorecard.yaml``): ``relative`` compares
``current / baseline - 1`` with it (+20 % revenue growth, -20 % job completion time),
``points`` compares ``current - baseline`` (+5 points of profit margin), ``level`` compares the
current value itself (4.5 satisfaction on the 5-point scale, 80 % churn accuracy). A metric
the data cannot measure is a row with no values and the reason in ``note``; nothing is faked.

>>> success_scorecard("data/demo/mixed_trades/lake", baseline_year=2023)     # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import duckdb
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from quantlib.config import load_yaml_model, project_root
from quantlib.customers.features import churn_labels
from quantlib.data.gold import as_of_date, open_gold
from quantlib.errors import QuantError
from quantlib.kpi.formulas import CHURN_RISK_THRESHOLD
from quantlib.kpi.ratings import to_five_point
from quantlib.kpi.registry import REGISTRY as KPIS
from quantlib.kpi.registry import KpiUnavailable

__all__ = ["SCORECARD_COLUMNS", "METRICS", "ScorecardError", "ScorecardParameters", "load_scorecard_parameters",
           "recorded_accuracy", "success_scorecard"]

SCORECARD_COLUMNS = ["metric", "label", "unit", "kind", "baseline", "current", "change", "target", "met", "note"]
#: Days after the churn score's date in which a lapse is looked for (the realised window).
CHURN_WINDOW_DAYS = 90

Con = duckdb.DuckDBPyConnection


class ScorecardError(QuantError, ValueError):
    """The scorecard cannot be computed as asked (baseline year not before as_of, before the data, bad file)."""


class Unmeasured(QuantError):
    """A metric without a value in a period; the message says why."""


class MetricTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["relative", "points", "level"]
    target: float


class ScorecardParameters(BaseModel):
    """``parameters/scorecard.yaml``: the targets, and which expense categories are administrative."""

    model_config = ConfigDict(extra="forbid")

    metrics: dict[str, MetricTarget]
    administrative_categories: list[str] = Field(default_factory=list)


@lru_cache(maxsize=8)
def _load(path: str) -> ScorecardParameters:
    params = load_yaml_model(path, ScorecardParameters, "scorecard parameters", ScorecardError)
    unknown = sorted(set(params.metrics) - set(METRICS))
    missing = sorted(set(METRICS) - set(params.metrics) - UNTARGETED)
    if unknown or missing:
        raise ScorecardError(f"{path}: metrics: unknown {unknown or '-'}, missing {missing or '-'}")
    return params


def load_scorecard_parameters(path: str | Path | None = None) -> ScorecardParameters:
    """The scorecard parameters (default ``<project root>/parameters/scorecard.yaml``)."""
    return _load(str(Path(path) if path else project_root() / "parameters" / "scorecard.yaml"))


@dataclass(frozen=True)
class Metric:
    """One success metric: how to measure it over a period and which way is better."""

    name: str
    label: str
    unit: str
    direction: str
    func: Callable[[Con, dt.date, dt.date, ScorecardParameters], float] | None
    unavailable: str = ""
    #: ``(model, quantity, horizon_days)`` of recorded predictions scored as they arrived
    #: (:mod:`quantlib.monitor`), for the accuracy metrics; ``func`` is then None.
    recorded: tuple[str, str, int] | None = None


def _kpi(name: str):
    def measure(con: Con, start: dt.date, end: dt.date, params) -> float:
        try:
            return KPIS[name].compute(con, end, window=start)
        except KpiUnavailable as reason:
            raise Unmeasured(str(reason)) from None
    measure.__doc__ = f"The ``{name}`` KPI over the period."
    return measure


def revenue(con: Con, start: dt.date, end: dt.date, params) -> float:
    """Revenue of the jobs completed in the period."""
    value = con.execute("SELECT sum(revenue) FROM job_facts WHERE is_completed AND completed_date BETWEEN ? AND ?",
                        [start, end]).fetchone()[0]
    if not value:
        raise Unmeasured("no revenue in the period")
    return float(value)


def job_completion_time(con: Con, start: dt.date, end: dt.date, params) -> float:
    """Mean labour hours (time on the job) of the jobs completed in the period."""
    value = con.execute("SELECT avg(labor_hours) FROM job_facts WHERE is_completed AND completed_date BETWEEN ? AND ?",
                        [start, end]).fetchone()[0]
    if value is None:
        raise Unmeasured("no completed job in the period")
    return float(value)


def satisfaction(con: Con, start: dt.date, end: dt.date, params) -> float:
    """The ``customer_satisfaction`` KPI (revenue-weighted, 0-10) over the period, on the 5-point scale (/ 2)."""
    return float(to_five_point(_kpi("customer_satisfaction")(con, start, end, params)))


def operational_costs(con: Con, start: dt.date, end: dt.date, params) -> float:
    """Direct costs of the jobs completed in the period + overhead expenses accrued in it."""
    direct = con.execute("SELECT coalesce(sum(direct_cost), 0) FROM job_facts WHERE is_completed "
                         "AND completed_date BETWEEN ? AND ?", [start, end]).fetchone()[0]
    overhead = con.execute("SELECT coalesce(sum(amount), 0) FROM expense_accruals WHERE date BETWEEN ? AND ?",
                           [start, end]).fetchone()[0]
    if not direct and not overhead:
        raise Unmeasured("no costs in the period")
    return float(direct + overhead)


def administrative_overhead(con: Con, start: dt.date, end: dt.date, params) -> float:
    """Expenses accrued in the period in the categories ``administrative_categories`` names."""
    if not params.administrative_categories:
        raise Unmeasured("no expense category is marked administrative (administrative_categories in "
                         "parameters/scorecard.yaml is empty)")
    value = con.execute("SELECT coalesce(sum(amount), 0) FROM expense_accruals WHERE date BETWEEN ? AND ? "
                        "AND category IN (SELECT unnest(?))", [start, end, params.administrative_categories]
                        ).fetchone()[0]
    return float(value)


def churn_classification(con: Con, end: dt.date) -> tuple[float, float]:
    """Accuracy and AUC of the churn rule score taken ``CHURN_WINDOW_DAYS`` before ``end``, over the realised window.

    Scored: the customers active at ``end - 90 days`` (``churn_labels``' population), with the
    rule score of ``customer_features_at`` that date (reproducible: the rule learns nothing);
    predicted churn = score >= the intervention threshold (0.7); realised = lapsed in the 90
    days to ``end`` (:func:`~quantlib.customers.features.churn_labels`). Accuracy = the share
    classified correctly; AUC of the score (NaN with a single realised class).
    """
    origin = end - dt.timedelta(days=CHURN_WINDOW_DAYS)
    try:
        labels = churn_labels(con, origin, CHURN_WINDOW_DAYS)
    except ValueError as reason:
        raise Unmeasured(str(reason)) from None
    if labels.empty:
        raise Unmeasured(f"no active customer at {origin}")
    scores = con.execute("SELECT customer_id, churn_score FROM customer_features_at(?::DATE)", [origin]).df()
    frame = labels.merge(scores, on="customer_id", how="left")
    # Rule points are sums of fixed decimals: rounding removes float noise (1e-16) that would
    # otherwise break ties differently from one summation order to another and move the AUC.
    score = np.round(frame["churn_score"].fillna(0.0).to_numpy(float), 9)
    realised = frame["churned"].to_numpy(bool)
    accuracy = float(np.mean((score >= CHURN_RISK_THRESHOLD) == realised))
    auc = math.nan
    if realised.any() and not realised.all():
        from sklearn.metrics import roc_auc_score

        auc = float(roc_auc_score(realised, score))
    return accuracy, auc


def churn_accuracy(con: Con, start: dt.date, end: dt.date, params) -> float:
    """Share of customers correctly classified at the intervention threshold (:func:`churn_classification`)."""
    return churn_classification(con, end)[0]


def churn_auc(con: Con, start: dt.date, end: dt.date, params) -> float:
    """AUC of the churn rule score over the same customers and window (:func:`churn_classification`)."""
    value = churn_classification(con, end)[1]
    if math.isnan(value):
        raise Unmeasured("a single realised class: AUC undefined")
    return value


#: Metrics reported without a target (the AUC shown next to churn accuracy).
UNTARGETED = {"churn_prediction_auc"}

def recorded_accuracy(scores: pd.DataFrame | None, model: str, quantity: str, horizon_days: int,
                      start: dt.date, end: dt.date) -> tuple[float, int]:
    """Mean accuracy of ``model``'s recorded runs whose ``horizon_days`` period ended in [start, end].

    ``scores`` is :func:`quantlib.monitor.score_predictions` output (one row per run and
    horizon, the spec's accuracy of the predicted total). Returns the mean and the number of
    runs. Forecasts made at the time and compared with what happened: a backtest is not
    the realised accuracy, so without recorded runs the metric is unmeasured.
    """
    if scores is None or scores.empty:
        raise Unmeasured(f"no {model} prediction recorded in the operational store yet (each scheduled run "
                         "records its own; a backtest is not the realised accuracy)")
    runs = scores[(scores["model"] == model) & (scores["quantity"] == quantity)
                  & (scores["horizon_days"] == horizon_days)]
    ends = [a + dt.timedelta(days=int(horizon_days)) for a in runs["as_of"]]
    inside = runs[[start <= e <= end for e in ends]]
    values = inside["accuracy"].dropna() if "accuracy" in inside else pd.Series(dtype=float)
    if values.empty:
        raise Unmeasured(f"no recorded {model} run whose {horizon_days}-day period ended in {start}..{end}")
    return float(values.mean()), int(len(values))


#: The success metrics, in the specification's order (``churn_prediction_auc`` is reported next to accuracy).
METRICS: dict[str, Metric] = {m.name: m for m in [
    Metric("revenue_growth", "Revenue (completed jobs)", "currency", "higher", revenue),
    Metric("profit_margin", "Profit margin", "ratio", "higher", _kpi("profit_margin")),
    Metric("customer_lifetime_value", "Customer lifetime value", "currency", "higher",
           _kpi("customer_lifetime_value")),
    Metric("technician_utilisation", "Technician utilisation", "ratio", "higher", _kpi("technician_utilisation")),
    Metric("job_completion_time", "Job completion time (labour hours per job)", "hours", "lower",
           job_completion_time),
    Metric("satisfaction", "Customer satisfaction (5-point scale; ours / 2)", "rating5", "higher", satisfaction),
    Metric("demand_forecast_accuracy", "Demand forecast accuracy (jobs over 4 weeks, recorded runs)", "ratio",
           "higher", None, recorded=("demand_forecast", "jobs", 28)),
    Metric("revenue_forecast_accuracy_30d", "30-day revenue forecast accuracy (recorded runs)", "ratio", "higher",
           None, recorded=("revenue_forecast", "revenue", 30)),
    Metric("churn_prediction_accuracy", "Churn prediction accuracy (rule at 0.7, 90 days)", "ratio", "higher",
           churn_accuracy),
    Metric("churn_prediction_auc", "Churn prediction AUC (same customers)", "ratio", "higher", churn_auc),
    Metric("operational_costs", "Operational costs (direct + overhead)", "currency", "lower", operational_costs),
    Metric("equipment_downtime", "Equipment downtime hours", "hours", "lower", _kpi("equipment_downtime_hours")),
    Metric("administrative_overhead", "Administrative overhead", "currency", "lower", administrative_overhead),
]}


def _met(kind: str, direction: str, change: float, current: float, target: float) -> bool:
    """A level target is reached on the metric's better side; a change target on the target's sign."""
    if kind == "level":
        return bool(current >= target) if direction == "higher" else bool(current <= target)
    return bool(change >= target) if target >= 0 else bool(change <= target)


def _monitored_scores(con: Con, store, end: dt.date) -> pd.DataFrame | None:
    """The scores of every recorded prediction due by ``end`` (None when no store exists yet).

    ``store`` None: the default store (``$QUANT_OPS_DSN``, ``$QUANT_OPS_DB``, ``reports/.ops.sqlite``),
    never created here; a report only reads.
    """
    import os

    from quantlib.data.opstore import OPS_DSN_ENV, default_ops_path, open_ops_store
    from quantlib.monitor import monitor_predictions

    if store is None:
        if not os.environ.get(OPS_DSN_ENV) and not default_ops_path().is_file():
            return None
        store = open_ops_store()
    return monitor_predictions(con, store, end).scores


def success_scorecard(source, baseline_year: int, as_of=None, params: ScorecardParameters | None = None,
                      store=None) -> pd.DataFrame:
    """One row per success metric: baseline year, the year to as_of, change, target, met.

    Parameters
    ----------
    source : connection, report context, Lake or path
        Gold.
    baseline_year : int
        The calendar year the company compares with; it must end before the current period
        starts and start on or after the data's first day.
    as_of : date-like, optional
        End of the current period (default gold's build date).
    params : ScorecardParameters, optional
        Default ``parameters/scorecard.yaml``.
    store : OpsStore, optional
        Where the forecasts' recorded predictions are read for the two forecast accuracies
        (:func:`recorded_accuracy`); default the operational store of the environment.

    Returns
    -------
    DataFrame
        ``metric, label, unit, kind, baseline, current, change, target, met, note``. ``change``
        is relative (``relative``) or a difference (``points``, ``level``); ``met`` is None when
        there is no target or no value; ``note`` says why a value is missing. ``attrs`` holds
        the two periods.

    Raises
    ------
    ScorecardError
        When the baseline year does not fit the data and the date.
    """
    params = params or load_scorecard_parameters()
    with open_gold(source) as con:
        end = as_of_date(con, as_of)
        # The year ending as_of: 1 Jan to 31 Dec when as_of is 31 Dec (leap years included).
        start = (pd.Timestamp(end) - pd.DateOffset(years=1)).date() + dt.timedelta(days=1)
        base_start, base_end = dt.date(baseline_year, 1, 1), dt.date(baseline_year, 12, 31)
        data_start = con.execute("SELECT data_start FROM build_params").fetchone()[0]
        if base_end >= start:
            raise ScorecardError(f"baseline year {baseline_year} overlaps the current period {start}..{end}; "
                                 f"choose {start.year - 1} or earlier")
        if base_start < data_start:
            raise ScorecardError(f"baseline year {baseline_year} starts before the data ({data_start}); "
                                 f"choose {data_start.year + (data_start > dt.date(data_start.year, 1, 1))} or later")
        rows = []
        monitored: list = []  # scored once, on first use
        for metric in METRICS.values():
            setting = params.metrics.get(metric.name)
            kind = setting.kind if setting else "level"
            target = setting.target if setting else None
            row = {"metric": metric.name, "label": metric.label, "unit": metric.unit, "kind": kind,
                   "baseline": math.nan, "current": math.nan, "change": math.nan, "target": target, "met": None,
                   "note": metric.unavailable}
            if metric.func is not None or metric.recorded is not None:
                notes, runs = [], {}
                for column, (a, b) in (("baseline", (base_start, base_end)), ("current", (start, end))):
                    try:
                        if metric.recorded is not None:
                            if not monitored:
                                monitored.append(_monitored_scores(con, store, end))
                            row[column], runs[column] = recorded_accuracy(monitored[0], *metric.recorded, a, b)
                        else:
                            row[column] = float(metric.func(con, a, b, params))
                    except Unmeasured as reason:
                        notes.append(f"{column}: {reason}")
                reasons = {note.split(": ", 1)[1] for note in notes}
                row["note"] = reasons.pop() if len(notes) == 2 and len(reasons) == 1 else "; ".join(notes)
                if "current" in runs:
                    counted = f"current: mean of {runs['current']} recorded run{'s' * (runs['current'] != 1)}"
                    row["note"] = "; ".join(filter(None, [row["note"], counted]))
                base, now = row["baseline"], row["current"]
                if kind == "relative" and math.isfinite(base) and math.isfinite(now) and base != 0:
                    row["change"] = now / base - 1
                elif kind != "relative" and math.isfinite(base) and math.isfinite(now):
                    row["change"] = now - base
                measured = now if kind == "level" else row["change"]
                if target is not None and math.isfinite(measured):
                    row["met"] = _met(kind, metric.direction, row["change"], now, target)
            rows.append(row)
    frame = pd.DataFrame(rows, columns=SCORECARD_COLUMNS)
    frame.attrs.update({"baseline": (base_start, base_end), "current": (start, end), "as_of": end})
    return frame
