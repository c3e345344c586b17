"""Prediction records: one long row per model, subject and target period.

Each builder turns an engine's output into rows of :data:`PREDICTION_COLUMNS`, the shape
the operational store keeps and :mod:`quantlib.monitor.scoring` scores. Dates are
calendar days; a target period is inclusive at both ends.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any, Mapping

import numpy as np
import pandas as pd

from quantlib import __version__

__all__ = ["PREDICTION_COLUMNS", "params_hash", "revenue_prediction_rows", "demand_prediction_rows",
           "cash_in_prediction_rows",
           "churn_prediction_rows", "churn_run_rows", "clv_prediction_rows", "run_label"]

#: The columns of a prediction record, in order.
PREDICTION_COLUMNS = [
    "run_id",            # the scheduled run (or any label) that made the prediction
    "model",             # engine name: revenue_forecast, demand_forecast, cashflow_forecast, churn_risk, clv
    "version",           # quantlib's version when predicted
    "params_hash",       # sha256 (first 16 hex) of the engine's parameters
    "as_of",             # the data's as-of date: nothing after it was seen
    "window_start",      # first day of the data the engine learned from
    "window_end",        # last day of it
    "quantity",          # what is predicted: revenue, jobs, cash_in, churn, value_90d
    "subject",           # service line or customer id; "all" for company totals
    "target_start",      # first day of the predicted period
    "target_end",        # last day of it
    "value",             # the point prediction (a probability for churn)
    "lo_80",             # 80 % interval, where the engine gives one
    "hi_80",
]


def params_hash(params: Mapping[str, Any]) -> str:
    """A stable short hash of an engine's parameters (``get_params()``), order-independent."""
    text = json.dumps({str(k): params[k] for k in sorted(params)}, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _day(value) -> dt.date:
    return pd.Timestamp(value).date()


def _frame(rows: dict) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    for col in PREDICTION_COLUMNS:
        if col not in frame:
            frame[col] = np.nan
    return frame[PREDICTION_COLUMNS]


def revenue_prediction_rows(model, run_id: str, *, model_name: str = "revenue_forecast") -> pd.DataFrame:
    """The company revenue a fitted :class:`~quantlib.forecast.RevenueModel` expects per horizon.

    One row per fitted horizon: ``quantity="revenue"``, ``subject="all"``, the likely
    total over ``start..end`` and its 80 % interval.
    """
    forecast = model.forecast(level=(80,))
    history = model.history_["ds"]
    window_start, window_end = _day(history.min()), _day(history.max())
    return _frame({
        "run_id": run_id, "model": model_name, "version": __version__,
        "params_hash": params_hash(model.get_params()), "as_of": window_end,
        "window_start": window_start, "window_end": window_end, "quantity": "revenue",
        "subject": "all", "target_start": [_day(d) for d in forecast["start"]],
        "target_end": [_day(d) for d in forecast["end"]], "value": forecast["likely"].to_numpy(float),
        "lo_80": forecast["lo_80"].to_numpy(float), "hi_80": forecast["hi_80"].to_numpy(float),
    })


def cash_in_prediction_rows(simulator, run_id: str, *, windows=(30, 60, 90),
                            model_name: str = "cashflow_forecast") -> pd.DataFrame:
    """The cash a fitted :class:`~quantlib.forecast.CashFlowSimulator` expects to collect.

    One row per window (days from the day after its as-of date, cut to its horizon):
    ``quantity="cash_in"``, ``subject="all"``, the expected payments received and their
    80 % interval from the simulated paths. Collections are what the model forecasts from the
    data; the cash position also depends on the starting cash the user typed, so it is not
    a prediction that can be scored.
    """
    totals = simulator.totals(windows).drop_duplicates("window")
    days = simulator.daily_["ds"]
    as_of = _day(simulator.as_of_)
    params = {k: v for k, v in simulator.get_params().items() if k != "starting_cash"}
    return _frame({
        "run_id": run_id, "model": model_name, "version": __version__, "params_hash": params_hash(params),
        "as_of": as_of, "window_start": as_of - dt.timedelta(days=int(simulator.history_days)),
        "window_end": as_of, "quantity": "cash_in", "subject": "all",
        "target_start": _day(days.iloc[0]), "target_end": [_day(days.iloc[int(w) - 1]) for w in totals["window"]],
        "value": totals["inflow"].to_numpy(float), "lo_80": totals["inflow_lo_80"].to_numpy(float),
        "hi_80": totals["inflow_hi_80"].to_numpy(float),
    })


def demand_prediction_rows(forecaster, forecast: pd.DataFrame, series: pd.DataFrame, run_id: str, *,
                           horizons=(4, 13), model_name: str = "demand_forecast") -> pd.DataFrame:
    """The jobs a fitted :class:`~quantlib.forecast.DemandForecaster` expects, per service line.

    One row per service line and horizon: ``quantity="jobs"``, the forecast total over the
    first ``k`` periods for each ``k`` in ``horizons`` (weeks for a weekly forecast, days for
    a daily one) that the forecast covers. Totals of several periods have no interval
    (summed quantiles are not a quantile of the sum), so ``lo_80`` / ``hi_80`` are empty.
    Scored together, the rows of one run give the accuracy of the company total (the spec's
    demand accuracy) and the WAPE across service lines.

    Parameters
    ----------
    forecaster : DemandForecaster
        Fitted.
    forecast : DataFrame
        Its :meth:`~quantlib.forecast.DemandForecaster.predict` output (``series_id, ds, yhat``).
    series : DataFrame
        The series it was fitted on (:func:`~quantlib.forecast.demand_series` output); its
        ``service_line`` column groups series, else each series is a subject.
    run_id : str
    horizons : sequence of int
        Periods ahead whose cumulative totals are recorded.
    """
    step = dt.timedelta(days=1 if forecaster.freq_ == "D" else 7)
    last_day = _day(forecaster.last_ds_) + step - dt.timedelta(days=1)  # a week covers Monday..Sunday
    ids = series["series_id"].unique()
    lines = (series[["series_id", "service_line"]].drop_duplicates() if "service_line" in series
             else pd.DataFrame({"series_id": ids, "service_line": ids}))
    fc = forecast.merge(lines, on="series_id", how="left").sort_values("ds")
    periods = sorted(fc["ds"].unique())
    start = _day(periods[0]) if periods else None
    parts = []
    for k in sorted({int(h) for h in horizons if 0 < int(h) <= len(periods)}):
        inside = fc[fc["ds"] <= periods[k - 1]]
        totals = inside.groupby("service_line")["yhat"].sum()
        parts.append(pd.DataFrame({"subject": totals.index.astype(str), "value": totals.to_numpy(float),
                                   "target_start": start,
                                   "target_end": _day(periods[k - 1]) + step - dt.timedelta(days=1)}))
    rows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["subject", "value", "target_start", "target_end"])
    return _frame({
        "run_id": run_id, "model": model_name, "version": __version__,
        "params_hash": params_hash(forecaster.get_params()), "as_of": last_day,
        "window_start": _day(pd.to_datetime(series["ds"]).min()), "window_end": last_day, "quantity": "jobs",
        "subject": rows["subject"].to_numpy(object), "target_start": rows["target_start"].to_numpy(object),
        "target_end": rows["target_end"].to_numpy(object), "value": rows["value"].to_numpy(float),
    })


def churn_prediction_rows(scores: pd.DataFrame, run_id: str, *, as_of, horizon_days: int,
                          params: Mapping[str, Any], window_start=None,
                          model_name: str = "churn_risk") -> pd.DataFrame:
    """Each customer's churn probability over ``(as_of, as_of + horizon_days]``.

    Parameters
    ----------
    scores : DataFrame
        ``customer_id, score`` (a churn model's ``score_frame``); NaN scores (no history)
        are not predictions and are left out.
    as_of : date-like
        The snapshot date the scores describe.
    horizon_days : int
        The window the probability is about (the model's label window).
    params : mapping
        The model's parameters, hashed.
    window_start : date-like, optional
        The first day of the training data; default ``as_of``.
    """
    scored = scores[scores["score"].notna()]
    as_of = _day(as_of)
    return _frame({
        "run_id": run_id, "model": model_name, "version": __version__, "params_hash": params_hash(params),
        "as_of": as_of, "window_start": _day(window_start) if window_start is not None else as_of,
        "window_end": as_of, "quantity": "churn", "subject": scored["customer_id"].astype(str).to_numpy(),
        "target_start": as_of + dt.timedelta(days=1), "target_end": as_of + dt.timedelta(days=horizon_days),
        "value": scored["score"].to_numpy(float),
    })


def churn_run_rows(run, run_id: str, *, horizon_days: int, model_name: str = "churn_risk") -> pd.DataFrame:
    """:func:`churn_prediction_rows` of a churn report's run (:class:`~quantlib.customers.views.churn.ChurnRun`).

    The parameters hashed are the scorer's (``get_params()``) plus its name and the window;
    the data window starts at the learned model's first training snapshot (the rule score
    learns nothing: its window is the as-of date).
    """
    params = {"scorer": run.scorer, "horizon_days": horizon_days, **run.model.get_params()}
    train_dates = run.report.get("train_dates") if run.report else None
    window_start = min(train_dates) if train_dates is not None and len(train_dates) else None
    return churn_prediction_rows(run.scored[["customer_id", "score"]], run_id, as_of=run.as_of,
                                 horizon_days=horizon_days, params=params, window_start=window_start,
                                 model_name=model_name)


def run_label(model: str, now: dt.datetime | None = None) -> str:
    """A run id for predictions recorded from a notebook: ``<model>@<UTC time to the microsecond>``.

    papermill hands a kernel no id of the scheduled run, so the time the run recorded is the label.
    """
    now = now or dt.datetime.now(dt.timezone.utc)
    return f"{model}@{now.astimezone(dt.timezone.utc):%Y-%m-%dT%H:%M:%S.%fZ}"


def clv_prediction_rows(result, run_id: str, *, model_name: str = "clv") -> pd.DataFrame:
    """Each customer's expected spend over the next 90 days, from a ``CompanyCLV``.

    The value is ``expected_purchases_90d * expected_avg_value``: the part of the
    lifetime value that can be checked first, 90 days later.
    """
    customers = result.customers
    as_of = _day(result.as_of)
    params = {"horizon_months": result.horizon_months, "discount_rate": result.discount_rate,
              "unit_days": result.unit_days, "purchase_model": type(result.purchases).__name__}
    value = (customers["expected_purchases_90d"] * customers["expected_avg_value"]).to_numpy(float)
    return _frame({
        "run_id": run_id, "model": model_name, "version": __version__, "params_hash": params_hash(params),
        "as_of": as_of, "window_start": _day(customers["first_purchase"].min()), "window_end": as_of,
        "quantity": "value_90d", "subject": customers.index.astype(str).to_numpy(),
        "target_start": as_of + dt.timedelta(days=1), "target_end": as_of + dt.timedelta(days=90),
        "value": value,
    })

