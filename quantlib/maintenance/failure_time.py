"""Time to failure from telemetry: dynamic prediction by landmarking, remaining useful life.

A unit's *life* runs from the start of its observation, or from the day after a failure, to
its next failure; its *age* is the days since its life began. :class:`TimeToFailureModel`
takes, on landmark days, the unit's state (age and the rolling means of the
:class:`~quantlib.maintenance.sensors.SensorFeatures` ``_z`` and ``_slope`` over the last week,
nothing later) and the days to its next failure, right-censored at the landmark horizon or at
the end of the data, and fits a Cox model of that time (lifelines' ``CoxPHFitter``). Its
survival curve from today's state is the unit's remaining-useful-life distribution: the median
RUL is where it falls below one half, ``P(failure within t days) = 1 - S(t | state)``.

:class:`AgeWeibullModel` is the baseline without telemetry: a Weibull of the lives
(:class:`~quantlib.maintenance.survival.WeibullLifeModel`, censoring handled), conditional on
the age reached. :func:`evaluate_time_to_failure` scores either on later dates: concordance of
the predicted risk with the observed time to the next failure, the integrated Brier score over
the horizon (scikit-survival, inverse-probability-of-censoring weights), and calibration of the
predicted probability of failing within the horizon.

A unit's first life began before the data did, at an unknown age (left truncation); its age
is counted from the first reading, a lower bound.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from quantlib.maintenance.sensors import SIGNALS, SensorDataError
from quantlib.maintenance.survival import WeibullLifeModel

__all__ = ["AgeWeibullModel", "TimeToFailureModel", "evaluate_time_to_failure", "failure_events", "landmarks",
           "unit_ages"]

#: Features a period carries: the rolling means of the standardised readings and their slopes.
PERIOD_FEATURES = [f"{s}_z" for s in SIGNALS] + [f"{s}_slope" for s in SIGNALS]


def failure_events(events: pd.DataFrame) -> pd.DataFrame:
    """The failures among ``maintenance_events`` rows, dated by ``failure_date`` (their scheduled date)."""
    return events[events["kind"] == "failure"].rename(columns={"scheduled_date": "failure_date"})


def _failure_days(failures: pd.DataFrame) -> pd.DataFrame:
    if not {"equipment_id", "failure_date"} <= set(failures.columns):
        raise SensorDataError("failures: need columns equipment_id, failure_date")
    out = failures[["equipment_id", "failure_date"]].copy()
    out["failure_date"] = pd.to_datetime(out["failure_date"]).dt.normalize()
    return out.drop_duplicates().sort_values(["equipment_id", "failure_date"]).reset_index(drop=True)


def unit_ages(features: pd.DataFrame, failures: pd.DataFrame, window_days: int = 7, extra=()) -> pd.DataFrame:
    """Per unit and day: the life it is in, its age in days, and the rolling feature means.

    Parameters
    ----------
    extra : sequence of str
        Further daily feature columns of ``features`` (e.g. the usage chain's ``drift_z``) rolled
        the same way.

    Returns
    -------
    DataFrame
        ``equipment_id, date, life, age, fails`` (1 on a failure day) and :data:`PERIOD_FEATURES`
        (and ``extra``) averaged over the last ``window_days`` days of readings (this day
        included); a day without a value counts as 0 (no deviation).
    """
    columns = [*PERIOD_FEATURES, *extra]
    missing = [c for c in ["equipment_id", "date", *columns] if c not in features.columns]
    if missing:
        raise SensorDataError(f"features: missing column(s) {', '.join(missing)}; build them with SensorFeatures")
    days = features[["equipment_id", "date", *columns]].sort_values(["equipment_id", "date"]).reset_index(
        drop=True)
    days["date"] = pd.to_datetime(days["date"]).dt.normalize()
    rolled = days.groupby("equipment_id")[columns].rolling(window_days, min_periods=1).mean()
    days[columns] = rolled.reset_index(level=0, drop=True).sort_index().fillna(0.0).clip(-10, 10)
    fails = _failure_days(failures).assign(fails=1)
    days = days.merge(fails.rename(columns={"failure_date": "date"}), on=["equipment_id", "date"], how="left")
    days["fails"] = days["fails"].fillna(0).astype(int)
    # a new life starts the day after a failure day
    days["life"] = days.groupby("equipment_id")["fails"].transform(lambda s: s.shift(1, fill_value=0).cumsum())
    start = days.groupby(["equipment_id", "life"])["date"].transform("min")
    days["age"] = (days["date"] - start).dt.days
    return days


def landmarks(ages: pd.DataFrame, failures: pd.DataFrame, every_days: int = 7, horizon_days: int = 90,
              end=None) -> pd.DataFrame:
    """Landmark rows: a unit's state on every ``every_days``-th day and what happened next.

    Returns
    -------
    DataFrame
        ``equipment_id, date, age, duration, event`` and :data:`PERIOD_FEATURES`: ``duration``
        is the days to the unit's next failure (``event`` 1) or, censored, to the earlier of
        ``horizon_days`` and the last day observed (``end``, default each unit's last reading).
    """
    days = ages[ages["age"] % every_days == 0].reset_index(drop=True)
    fails = _failure_days(failures)
    last = ages.groupby("equipment_id")["date"].max()
    stop = days["equipment_id"].map(last) if end is None else pd.Series(pd.Timestamp(end), index=days.index)
    nxt = days[["equipment_id", "date"]].reset_index().merge(fails, on="equipment_id", how="left")
    nxt = nxt[nxt["failure_date"] >= nxt["date"]].groupby("index")["failure_date"].min().reindex(days.index)
    to_failure = (nxt - days["date"]).dt.days + 1
    to_end = (stop - days["date"]).dt.days + 1
    limit = np.minimum(to_end.to_numpy(float), horizon_days)
    event = to_failure.notna().to_numpy() & (to_failure.to_numpy(float) <= limit)
    days["duration"] = np.where(event, to_failure.to_numpy(float), limit)
    days["event"] = event.astype(int)
    return days[days["duration"] > 0].reset_index(drop=True)


class TimeToFailureModel(BaseEstimator):
    """Dynamic prediction of failure by landmarking: a Cox model of the time to the next failure
    from a unit's state (age and telemetry features) on landmark days (lifelines' ``CoxPHFitter``).

    On every ``every_days``-th day of a unit's life the training data take its state and the
    days to its next failure, censored at ``horizon_days`` (van Houwelingen's landmark
    approach). Because the outcome is observed from that state onwards, the chance that a
    healthy unit starts to degrade within the horizon is in the baseline, which a model that
    freezes today's features along the future would miss. Rows of one unit are correlated: the
    standard errors are clustered by unit.

    Parameters
    ----------
    every_days : int, default 7
        Landmark spacing (days of age).
    horizon_days : int, default 90
        Landmark window: predictions reach at most this far.
    penalizer : float, default 0.01
        L2 penalty (stabilises correlated features).
    extra_features : tuple of str, default ()
        Further daily columns of the features to use beside the telemetry's (e.g. the usage
        chain's ``drift_z``, ``fault_share``; :func:`quantlib.maintenance.health.health_features`
        adds those the company's data allow).

    Attributes
    ----------
    coefficients_ : pandas.Series
        Log hazard ratio per unit of ``log_age`` (log of 1 + age in days) and of each feature.
    baseline_survival_ : pandas.Series
        ``S0(t)`` by days since the landmark, at the training means of the covariates.
    n_landmarks_, n_failures_ : int
    concordance_ : float
        Concordance on the training landmarks (lifelines).
    penalizer_ : float
        The penalty the fit converged with (``penalizer``, or ten times more per retry).
    covariates_ : list of str
        The covariates fitted (``log_age`` and the features that vary in the training data).
    model_ : lifelines.CoxPHFitter
    """

    def __init__(self, every_days: int = 7, horizon_days: int = 90, penalizer: float = 0.01, extra_features=()):
        self.every_days = every_days
        self.horizon_days = horizon_days
        self.penalizer = penalizer
        self.extra_features = extra_features

    def _design(self, frame: pd.DataFrame) -> pd.DataFrame:
        # log age: a Weibull-like power of age, which extrapolates to older units more sanely than a linear term
        return frame[[*PERIOD_FEATURES, *self.extra_features]].assign(log_age=np.log1p(frame["age"].to_numpy(float)))

    def fit(self, features: pd.DataFrame, failures: pd.DataFrame, end=None):
        """Fit on the daily features of the training period and the failures in it.

        Parameters
        ----------
        features : DataFrame
            From ``SensorFeatures.transform``.
        failures : DataFrame
            ``equipment_id, failure_date``.
        end : date, optional
            Last day of the training data (default each unit's last reading): later failures
            are not seen.

        Returns
        -------
        self
        """
        from lifelines import CoxPHFitter

        failures = _failure_days(failures)
        if end is not None:
            failures = failures[failures["failure_date"] <= pd.Timestamp(end)]
        rows = landmarks(unit_ages(features, failures, extra=self.extra_features), failures, self.every_days,
                         self.horizon_days, end)
        if rows["event"].sum() == 0:
            raise SensorDataError("no failure in the training data: a time-to-failure model cannot be fitted")
        design = self._design(rows)
        # a feature that never varies (a company without that sensor) carries no information and
        # breaks the Newton steps: it is left out
        self.covariates_ = [c for c in design.columns if design[c].std() > 1e-9]
        if not self.covariates_:
            raise SensorDataError("no telemetry feature or age varies in the training data")
        data = design[self.covariates_].assign(duration=rows["duration"], event=rows["event"],
                                               unit=rows["equipment_id"].astype(str))
        from lifelines.exceptions import ConvergenceError, ConvergenceWarning

        # Newton-Raphson can fail to settle when few failures meet many correlated features: then
        # the fit is repeated with ten times the penalty, until it converges (recorded in penalizer_).
        penalizer = float(self.penalizer)
        for _ in range(4):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ConvergenceWarning)
                fitter = CoxPHFitter(penalizer=penalizer)
                try:
                    fitter.fit(data, duration_col="duration", event_col="event", cluster_col="unit")
                except ConvergenceError:
                    caught.append(warnings.WarningMessage("diverged", ConvergenceWarning, "", 0))
            if not any(issubclass(w.category, ConvergenceWarning) for w in caught):
                break
            penalizer = max(penalizer, 1e-3) * 10
        else:
            raise SensorDataError(f"the time-to-failure model did not converge (penalty up to {penalizer:g}): "
                                  f"{int(rows['event'].sum())} failures are too few for its features")
        self.penalizer_ = penalizer
        self.model_ = fitter
        self.coefficients_ = fitter.params_.copy()
        self.baseline_survival_ = fitter.baseline_survival_.iloc[:, 0]
        self.n_landmarks_, self.n_failures_ = int(len(rows)), int(rows["event"].sum())
        self.concordance_ = float(fitter.concordance_index_)
        return self

    def survival_at(self, state: pd.DataFrame, horizons) -> np.ndarray:
        """``S(t | age, features)`` for each row of ``state`` and each ``t`` (at most ``horizon_days``).

        Returns
        -------
        numpy.ndarray
            Shape ``(len(state), len(horizons))``.
        """
        if not hasattr(self, "model_"):
            raise NotFittedError("TimeToFailureModel is not fitted yet: call fit first")
        horizons = np.asarray(horizons, float)
        if horizons.max() > self.horizon_days:
            raise ValueError(f"horizons reach {horizons.max():g} days, beyond the model's {self.horizon_days}")
        surv = self.model_.predict_survival_function(self._design(state)[self.covariates_], times=horizons)
        return surv.to_numpy().T

    def remaining_life(self, state: pd.DataFrame, within: int = 30) -> pd.DataFrame:
        """Per row: ``median_rul_days`` (NaN beyond the horizon) and ``p_fail_within`` ``within`` days."""
        grid = np.arange(1, self.horizon_days + 1)
        surv = self.survival_at(state, grid)
        below = surv < 0.5
        median = np.where(below.any(axis=1), grid[np.argmax(below, axis=1)], np.nan)
        return pd.DataFrame({"equipment_id": state["equipment_id"].to_numpy(), "median_rul_days": median,
                             "p_fail_within": 1 - surv[:, within - 1]}, index=state.index)


class AgeWeibullModel(BaseEstimator):
    """Baseline without telemetry: a Weibull of the lives, conditional on the age reached.

    Parameters
    ----------
    known_age_only : bool, default False
        Fit on the lives that begin with an observed failure only (their age is known); the
        default keeps the first lives too, counted from the first reading (a lower bound,
        which makes lives look longer), because a short history has few complete lives.

    Attributes
    ----------
    life_model_ : WeibullLifeModel
    """

    def __init__(self, known_age_only: bool = False):
        self.known_age_only = known_age_only

    def fit(self, features: pd.DataFrame, failures: pd.DataFrame):
        """Fit a Weibull on the lives in the training data (the last ones censored).

        Returns
        -------
        self
        """
        ages = unit_ages(features, failures)
        lives = ages.groupby(["equipment_id", "life"]).agg(age=("age", "max"), failed=("fails", "max")).reset_index()
        lives["age"] = lives["age"] + 1
        if self.known_age_only:
            lives = lives[lives["life"] > 0]
        self.life_model_ = WeibullLifeModel().fit(lives, time="age", event="failed", source="unit lives")
        return self

    def survival_at(self, state: pd.DataFrame, horizons) -> np.ndarray:
        """``S(a + 1 + t) / S(a + 1)`` for each row's age ``a`` and each ``t``."""
        if not hasattr(self, "life_model_"):
            raise NotFittedError("AgeWeibullModel is not fitted yet: call fit first")
        age = state["age"].to_numpy(float) + 1
        horizons = np.asarray(horizons, float)
        now = self.life_model_.survival(age)
        later = self.life_model_.survival(age[:, None] + horizons[None, :])
        return later / np.clip(now, 1e-300, None)[:, None]


def evaluate_time_to_failure(model, features: pd.DataFrame, failures: pd.DataFrame, dates, horizon_days: int = 30,
                             grid_days: int = 60) -> dict:
    """Score a fitted model's survival predictions made on ``dates`` against what happened next.

    For every unit observed on a date: its state then (age and features, nothing later), the
    predicted survival over ``1..grid_days``, and the observed days to its next failure, or to
    its last observed day (censored).

    Returns
    -------
    dict
        ``rows, failures_within_grid, concordance`` (of ``S(horizon_days)`` with the observed
        times), ``integrated_brier_score`` over days 1..``grid_days`` (scikit-survival),
        ``mean_predicted`` and ``observed`` probability of failing within ``horizon_days``
        (among rows followed that long or failing sooner), and ``calibration``: the same per
        quintile of the prediction.
    """
    from lifelines.utils import concordance_index
    from sksurv.metrics import integrated_brier_score
    from sksurv.util import Surv

    ages = unit_ages(features, failures, extra=getattr(model, "extra_features", ()))
    dates = pd.to_datetime(pd.Index(dates)).normalize()
    state = ages[ages["date"].isin(dates)].reset_index(drop=True)
    fails = _failure_days(failures)
    end = ages.groupby("equipment_id")["date"].max()
    nxt = state[["equipment_id", "date"]].reset_index().merge(fails, on="equipment_id", how="left")
    nxt = nxt[nxt["failure_date"] >= nxt["date"]].groupby("index")["failure_date"].min()
    failure_date = nxt.reindex(state.index)
    event = failure_date.notna().to_numpy()
    until = np.where(event, failure_date.fillna(pd.Timestamp(0)), state["equipment_id"].map(end).to_numpy())
    time = (pd.to_datetime(until) - state["date"]).dt.days.to_numpy().astype(float) + 1.0
    grid = np.arange(1, grid_days + 1)
    surv = model.survival_at(state, grid)
    score = surv[:, horizon_days - 1]
    concordance = float(concordance_index(time, score, event))
    outcomes = Surv.from_arrays(event=event, time=time)
    usable = grid[(grid > time.min()) & (grid < time.max())]
    ibs = float(integrated_brier_score(outcomes, outcomes, surv[:, usable - 1], usable)) if len(usable) > 1 else None
    known = event & (time <= horizon_days) | (time > horizon_days)
    predicted = 1 - score[known]
    observed = (event & (time <= horizon_days))[known].astype(float)
    bins = pd.qcut(pd.Series(predicted).rank(method="first"), 5, labels=False)
    calibration = pd.DataFrame({"bin": bins, "predicted": predicted, "observed": observed}).groupby("bin").mean()
    return {
        "rows": int(len(state)), "failures_within_grid": int((event & (time <= grid_days)).sum()),
        "concordance": round(concordance, 4), "integrated_brier_score": None if ibs is None else round(ibs, 4),
        "mean_predicted": round(float(predicted.mean()), 4), "observed": round(float(observed.mean()), 4),
        "calibration": [{"quintile": int(b) + 1, "predicted": round(float(r.predicted), 4),
                         "observed": round(float(r.observed), 4)} for b, r in calibration.iterrows()],
    }
