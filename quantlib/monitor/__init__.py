"""Model monitoring: what the engines predicted, scored as the actuals arrive.

A scheduled run of an engine (revenue, demand and cash-flow forecasts, churn risk, customer lifetime value)
records its predictions as rows of one long table (:data:`PREDICTION_COLUMNS`): the
model, its version and parameter hash, the data window it learned from, and per subject
the quantity predicted over a target period. :func:`realised` looks up what happened in
gold for the rows whose period has ended, :func:`score_predictions` scores them per
model, quantity and horizon, and :func:`decay_flags` says where accuracy fell below its
target or its own rolling baseline.

>>> rows = revenue_prediction_rows(model, run_id="r1")            # a fitted RevenueModel
>>> record_predictions(rows)                                       # into the operational store
>>> scores = score_predictions(realised(gold, rows))
"""

from quantlib.monitor.check import MonitorResult, monitor_predictions
from quantlib.monitor.records import (
    PREDICTION_COLUMNS,
    cash_in_prediction_rows,
    churn_prediction_rows,
    churn_run_rows,
    clv_prediction_rows,
    demand_prediction_rows,
    params_hash,
    revenue_prediction_rows,
    run_label,
)
from quantlib.monitor.scoring import (
    ACCURACY_TARGETS,
    REALISERS,
    decay_flags,
    horizon_bucket,
    realised,
    score_predictions,
)

__all__ = [
    "PREDICTION_COLUMNS",
    "params_hash",
    "revenue_prediction_rows",
    "demand_prediction_rows",
    "cash_in_prediction_rows",
    "churn_prediction_rows",
    "churn_run_rows",
    "clv_prediction_rows",
    "run_label",
    "record_predictions",
    "REALISERS",
    "ACCURACY_TARGETS",
    "realised",
    "score_predictions",
    "decay_flags",
    "horizon_bucket",
    "MonitorResult",
    "monitor_predictions",
]


def record_predictions(frame, store=None) -> int:
    """Record prediction rows (:data:`PREDICTION_COLUMNS`) in the operational store.

    Parameters
    ----------
    frame : DataFrame
        Rows from one of the builders (:func:`revenue_prediction_rows`, :func:`churn_run_rows`,
        :func:`clv_prediction_rows`...).
    store : OpsStore, optional
        Default :func:`~quantlib.data.opstore.open_ops_store` (``$QUANT_OPS_DB``, else
        ``reports/.ops.sqlite``).

    Returns
    -------
    int
        The number of rows written.
    """
    from quantlib.data.opstore import open_ops_store

    return (store or open_ops_store()).record_predictions(frame)
