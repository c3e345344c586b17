"""The monthly review's appendix on the forecasting, churn and CLV models: cards and metrics over time.

:func:`model_card_section` gathers what the appendix shows from the operational store's
recorded predictions and gold: one card per engine (what it predicts, version, when it was
last trained and on what data window, its latest score against the target), each run's
scores per horizon, the primary metric over time (a chart) and the models that decayed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from quantlib.monitor.check import monitor_predictions
from quantlib.monitor.views.cards import MODEL_DESCRIPTIONS, metric_history, model_cards
from quantlib.views import line_chart, with_formats

__all__ = ["ModelCardSection", "model_card_section"]

#: The metrics each quantity's run table shows, in order.
_METRICS = {"revenue": ("accuracy", "wape", "coverage_80"), "jobs": ("accuracy", "wape"),
            "cash_in": ("accuracy", "coverage_80"),
            "value_90d": ("wape", "accuracy"),
            "churn": ("auc", "classification_accuracy", "calibration_error", "brier")}


@dataclass
class ModelCardSection:
    """What the appendix shows (see :func:`model_card_section`).

    Attributes
    ----------
    as_of : date
    cards : DataFrame
        :func:`~quantlib.monitor.views.cards.model_cards`, one row per monitored engine (also
        those with nothing recorded yet: ``runs`` 0).
    metrics : DataFrame
        Every scored run: ``model, quantity, as_of, horizon_days, n``, the quantity's metrics,
        ``target, met``; formatted for :func:`~quantlib.views.report_table`.
    history : DataFrame
        :func:`~quantlib.monitor.views.cards.metric_history` (the primary metric over time).
    decayed : DataFrame
        :func:`~quantlib.monitor.decay_flags` as of :attr:`as_of`.
    recorded : int
        Predictions recorded in the store.
    """

    as_of: dt.date
    cards: pd.DataFrame
    metrics: pd.DataFrame
    history: pd.DataFrame
    decayed: pd.DataFrame
    recorded: int

    def text(self) -> str:
        """One Markdown paragraph: what was recorded and scored, and which models decayed."""
        if not self.recorded:
            return ("No model predictions are recorded yet: the revenue, demand and cash-flow forecasts, churn "
                    "risk and customer value reports record theirs on each scheduled run, and they are scored here "
                    "once their periods end.")
        if self.metrics.empty:
            return (f"{self.recorded:,} predictions are recorded; none has reached the end of its period by "
                    f"{self.as_of:%d %B %Y}, so no model is scored yet.")
        text = (f"{len(self.metrics):,} model runs are scored against what happened by {self.as_of:%d %B %Y} "
                f"({self.recorded:,} predictions recorded).")
        if self.decayed.empty:
            return text + " No model fell below its accuracy target or its own recent runs."
        flagged = "; ".join(f"{d.model} ({d.metric} {d.value:.2f}, {d.horizon_days}-day horizon, {d.reason})"
                            for d in self.decayed.itertuples(index=False))
        return text + f" Decayed: {flagged}."

    def chart(self):
        """The primary metric of each model and horizon per run date (``None`` before any score)."""
        if self.history.empty:
            return None
        return line_chart(self.history, x="as_of", y="value", color="series", title="Model scores over time",
                          y_title="Score", y_format=".0%", points=True, width=560)


def _metrics_table(scores: pd.DataFrame) -> pd.DataFrame:
    wanted = list(dict.fromkeys(m for ms in _METRICS.values() for m in ms))
    columns = ["model", "quantity", "as_of", "horizon_days", "n", *wanted, "target", "met"]
    if scores.empty:
        table = pd.DataFrame(columns=columns)
    else:
        table = scores.reindex(columns=columns).copy()
        for metric in wanted:  # only the metrics that belong to each quantity
            table.loc[[metric not in _METRICS.get(q, ()) for q in table["quantity"]], metric] = float("nan")
        table["as_of"] = pd.to_datetime(table["as_of"])
        table = table.sort_values(["model", "horizon_days", "as_of"]).reset_index(drop=True)
    formats = {"as_of": "date", "horizon_days": "int", "n": "int", "target": "pct", "coverage_80": "pct",
               "accuracy": "pct", "wape": "pct", "auc": "num2", "classification_accuracy": "pct",
               "calibration_error": "num2", "brier": "num2", "met": lambda v: "yes" if v is True else
               ("no" if v is False else "–")}
    labels = {"as_of": "Run as of", "horizon_days": "Horizon (days)", "n": "Predictions", "wape": "WAPE",
              "auc": "AUC", "coverage_80": "80 % coverage", "classification_accuracy": "Classified right",
              "calibration_error": "Calibration error", "brier": "Brier"}
    return with_formats(table, formats, labels)


def model_card_section(gold, as_of=None, store=None, *, engines=tuple(MODEL_DESCRIPTIONS)) -> ModelCardSection:
    """The model appendix of the monthly review.

    Parameters
    ----------
    gold : gold source
        Anything :func:`~quantlib.data.gold.open_gold` accepts (the report context).
    as_of : date-like, optional
        Predictions whose period ended by then are scored; default gold's as-of date.
    store : OpsStore, optional
        Default :func:`~quantlib.data.opstore.open_ops_store`.
    engines : sequence of str
        Engines that get a card even before they recorded anything.
    """
    result = monitor_predictions(gold, store, as_of)
    cards = model_cards(result.predictions, result.scores)
    missing = [e for e in engines if e not in set(cards["model"])]
    if missing:
        blank = pd.DataFrame({"model": missing, "what": [MODEL_DESCRIPTIONS.get(e, "") for e in missing],
                              "runs": 0, "scored_runs": 0})
        attrs = cards.attrs
        cards = pd.concat([cards, blank], ignore_index=True) if len(cards) else blank.reindex(columns=cards.columns)
        cards.attrs = attrs
    return ModelCardSection(result.as_of, cards, _metrics_table(result.scores), metric_history(result.scores),
                            result.decayed, len(result.predictions))
