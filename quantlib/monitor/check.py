"""One monitoring pass: the recorded predictions whose period has ended, scored, and the decays.

:func:`monitor_predictions` is what ``quant monitor``, the ``model_decay`` alert source and
the monthly review's model cards share: read the operational store, keep the predictions
whose target period ended by the as-of date, realise them from gold, score them and flag
the models that decayed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from quantlib.data.gold import gold_as_of, open_gold, to_date
from quantlib.monitor.records import PREDICTION_COLUMNS
from quantlib.monitor.scoring import decay_flags, realised, score_predictions

__all__ = ["MonitorResult", "monitor_predictions"]


@dataclass
class MonitorResult:
    """What one monitoring pass found.

    Attributes
    ----------
    as_of : date
        Predictions whose period ended on or before it were scored.
    predictions : DataFrame
        Every recorded prediction read (:data:`PREDICTION_COLUMNS` plus ``id`` and ``recorded_at``).
    rows : DataFrame
        The due ones, realised (:func:`~quantlib.monitor.realised`: ``arrived`` and ``actual``).
    scores : DataFrame
        :func:`~quantlib.monitor.score_predictions` of ``rows``.
    decayed : DataFrame
        :func:`~quantlib.monitor.decay_flags` of ``scores``.
    """

    as_of: dt.date
    predictions: pd.DataFrame
    rows: pd.DataFrame
    scores: pd.DataFrame
    decayed: pd.DataFrame

    @property
    def due(self) -> int:
        """How many predictions had their period end by :attr:`as_of`."""
        return len(self.rows)

    @property
    def scored(self) -> int:
        """How many of them have an actual (a label, a revenue total) and were scored."""
        return int(self.rows["actual"].notna().sum()) if "actual" in self.rows else 0


def monitor_predictions(gold_source, store=None, as_of=None, *, baseline_runs: int = 3,
                        tolerance: float = 0.05) -> MonitorResult:
    """Score the recorded predictions that are due and flag decayed models.

    Parameters
    ----------
    gold_source : gold source
        Anything :func:`~quantlib.data.gold.open_gold` accepts.
    store : OpsStore, optional
        Default :func:`~quantlib.data.opstore.open_ops_store`.
    as_of : date-like, optional
        Default gold's as-of date; later than gold's, it is gold's (nothing after it happened yet).
    baseline_runs, tolerance
        Passed to :func:`~quantlib.monitor.decay_flags`.

    Raises
    ------
    WarehouseNotFoundError
        No gold where ``gold_source`` points.
    """
    from quantlib.data.opstore import open_ops_store

    store = store or open_ops_store()
    predictions = store.prediction_frame()
    with open_gold(gold_source) as con:
        built = gold_as_of(con)
        day = built if as_of is None else min(to_date(as_of), built)
        due = predictions[[end <= day for end in predictions["target_end"]]] if len(predictions) else predictions
        if due.empty:
            rows = due[PREDICTION_COLUMNS].assign(actual=pd.Series(dtype=float), arrived=pd.Series(dtype=bool))
        else:
            rows = realised(con, due[PREDICTION_COLUMNS])
    scores = score_predictions(rows)
    decayed = decay_flags(scores, baseline_runs=baseline_runs, tolerance=tolerance)
    return MonitorResult(day, predictions, rows, scores, decayed)
