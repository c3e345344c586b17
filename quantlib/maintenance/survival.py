"""Equipment life: Weibull models with right censoring, and the recurrence of repairs.

Two questions a maintenance planner asks of failure records:

* *How long does a unit last?* :class:`WeibullLifeModel` fits a two-parameter Weibull
  distribution by maximum likelihood with right-censored lives (units still running count
  for the time they survived), or, given covariates, a Weibull accelerated-failure-time
  model whose log scale is linear in them. Median life and B10 life (the age by which 10 %
  have failed) come from the fitted shape and scale. The fitting is lifelines'
  (``WeibullFitter``, ``WeibullAFTFitter``).
* *How many repairs does a unit need by age t?* :func:`mean_cumulative_function` is
  Nelson's nonparametric mean cumulative function of recurrent events (the expected number
  of repairs per unit by each age, units leaving observation at their last inspection),
  with Nelson's variance and confidence limits (the ``reliability`` package's
  ``MCF_nonparametric``).

Weibull survival: ``S(t) = exp(-(t / scale) ** shape)``; the quantile life at probability
``p`` is ``scale * (-log(1 - p)) ** (1 / shape)``. With covariates
``log(scale) = intercept + sum(coef_i * x_i)``; the shape is common to all units.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from quantlib.errors import QuantError

__all__ = ["LifeDataError", "WeibullLifeModel", "mean_cumulative_function", "weibull_quantile"]


class LifeDataError(QuantError, ValueError):
    """Life data that cannot be fitted: names the column and the first bad row."""


def weibull_quantile(p: float, shape: float, scale) -> np.ndarray:
    """Age by which a share ``p`` of units has failed."""
    return np.asarray(scale, float) * (-np.log1p(-p)) ** (1.0 / shape)


def _numeric(frame: pd.DataFrame, column: str, what: str, source: str) -> np.ndarray:
    if column not in frame.columns:
        columns = ", ".join(map(str, frame.columns))
        raise LifeDataError(f"{source}: no column {column!r} ({what}); columns are {columns}")
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = values.isna() & frame[column].notna() | frame[column].isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise LifeDataError(f"{source}: row {row + 1}, column {column!r}: {frame[column].iloc[row]!r} is not a number")
    return values.to_numpy(float)


class WeibullLifeModel(BaseEstimator):
    """Weibull life model with right censoring; with covariates, a Weibull AFT model.

    Parameters
    ----------
    penalizer : float, default 0.0
        L2 penalty on the AFT coefficients (lifelines' ``penalizer``); 0 is plain maximum
        likelihood. Ignored without covariates.

    Attributes
    ----------
    shape_ : float
        Weibull shape ``k`` (below 1: early failures dominate; above 1: wear-out).
    scale_ : float
        Weibull scale ``lambda`` without covariates; with them, the scale at the covariate
        means of the fitted data.
    coefficients_ : pandas.Series or None
        ``Intercept`` and one coefficient per covariate on ``log(scale)``; ``None`` without
        covariates.
    covariates_ : list of str
    covariate_means_ : pandas.Series
    n_units_, n_failures_ : int
    log_likelihood_ : float
    model_ : lifelines fitter
        The fitted lifelines model (standard errors, confidence intervals, AIC).

    Examples
    --------
    >>> model = WeibullLifeModel().fit(frame, time="hours", event="failed")   # doctest: +SKIP
    >>> model.median_life(), model.b10_life()                                   # doctest: +SKIP
    """

    def __init__(self, penalizer: float = 0.0):
        self.penalizer = penalizer

    def fit(self, data: pd.DataFrame, time: str = "time", event: str | None = None,
            covariates: list[str] | None = None, source: str = "life data"):
        """Fit on one row per unit (or per life): its age at failure or at censoring.

        Parameters
        ----------
        data : pandas.DataFrame
        time : str
            Column of ages (positive, in the data's own units).
        event : str, optional
            Column of 1 = failed, 0 = still running (censored). Without it every row is a failure.
        covariates : list of str, optional
            Numeric columns for the AFT model.
        source : str
            Name used in error messages (e.g. the file name).

        Returns
        -------
        self
        """
        from lifelines import WeibullAFTFitter, WeibullFitter

        covariates = list(covariates or [])
        durations = _numeric(data, time, "time", source)
        if (durations <= 0).any():
            row = int(np.flatnonzero(durations <= 0)[0])
            raise LifeDataError(f"{source}: row {row + 1}, column {time!r}: {durations[row]:g} is not a positive age")
        if event is None:
            events = np.ones(len(durations))
        else:
            events = _numeric(data, event, "event", source)
            if not np.isin(events, (0, 1)).all():
                row = int(np.flatnonzero(~np.isin(events, (0, 1)))[0])
                raise LifeDataError(f"{source}: row {row + 1}, column {event!r}: {events[row]:g} is neither 1 "
                                    "(failed) nor 0 (censored)")
        if events.sum() == 0:
            raise LifeDataError(f"{source}: no failures (column {event!r} is 0 on every row): a life cannot be fitted")
        X = pd.DataFrame({c: _numeric(data, c, "covariate", source) for c in covariates})
        self.covariates_ = covariates
        self.covariate_means_ = X.mean() if covariates else pd.Series(dtype=float)
        self.n_units_, self.n_failures_ = len(durations), int(events.sum())
        if covariates:
            frame = X.assign(_T=durations, _E=events)
            self.model_ = WeibullAFTFitter(penalizer=self.penalizer).fit(frame, duration_col="_T", event_col="_E")
            params = self.model_.params_
            self.shape_ = float(np.exp(params.loc[("rho_", "Intercept")]))
            lam = params.loc["lambda_"]
            self.coefficients_ = pd.Series({"Intercept": float(lam.loc["Intercept"]),
                                            **{c: float(lam.loc[c]) for c in covariates}})
            self.scale_ = float(self.scale_at(self.covariate_means_.to_dict()))
        else:
            self.model_ = WeibullFitter().fit(durations, events)
            self.shape_ = float(self.model_.rho_)
            self.scale_ = float(self.model_.lambda_)
            self.coefficients_ = None
        self.log_likelihood_ = float(self.model_.log_likelihood_)
        return self

    def _check(self):
        if not hasattr(self, "shape_"):
            raise NotFittedError("WeibullLifeModel is not fitted yet: call fit first")

    def scale_at(self, at: dict | pd.DataFrame | None = None) -> np.ndarray | float:
        """The Weibull scale for covariate values ``at`` (a mapping or a frame); default the means."""
        self._check()
        if self.coefficients_ is None or at is None:
            return self.scale_
        frame = pd.DataFrame([at]) if isinstance(at, dict) else at
        missing = [c for c in self.covariates_ if c not in frame.columns]
        if missing:
            raise LifeDataError(f"no value for covariate(s) {', '.join(missing)}")
        log_scale = self.coefficients_["Intercept"] + sum(
            self.coefficients_[c] * frame[c].astype(float).to_numpy() for c in self.covariates_)
        out = np.exp(log_scale)
        return float(out[0]) if isinstance(at, dict) else out

    def quantile_life(self, p: float, at: dict | pd.DataFrame | None = None):
        """Age by which a share ``p`` of units has failed (at covariates ``at``)."""
        self._check()
        if not 0 < p < 1:
            raise ValueError(f"p must be in (0, 1), got {p!r}")
        return weibull_quantile(p, self.shape_, self.scale_at(at))[()]

    def median_life(self, at=None):
        """Age by which half the units have failed."""
        return self.quantile_life(0.5, at)

    def b10_life(self, at=None):
        """B10 life: the age by which 10 % of units have failed."""
        return self.quantile_life(0.1, at)

    def survival(self, ages, at: dict | None = None) -> np.ndarray:
        """Probability of surviving past each age in ``ages``."""
        self._check()
        scale = self.scale_at(at)
        return np.exp(-(np.asarray(ages, float) / scale) ** self.shape_)

    def summary(self, at: dict | None = None) -> dict:
        """``shape, scale, median_life, b10_life`` (and ``coefficients`` with covariates) as plain numbers."""
        self._check()
        out = {"shape": self.shape_, "scale": float(self.scale_at(at)), "median_life": float(self.median_life(at)),
               "b10_life": float(self.b10_life(at))}
        if self.coefficients_ is not None:
            out["coefficients"] = {k: float(v) for k, v in self.coefficients_.items()}
            out["at"] = {c: float((at or self.covariate_means_.to_dict())[c]) for c in self.covariates_}
        return out


def mean_cumulative_function(events: pd.DataFrame, unit: str = "id", time: str = "time", status: str = "status",
                             confidence: float = 0.95) -> pd.DataFrame:
    """Nelson's mean cumulative function of recurrent events (repairs per unit by age).

    Parameters
    ----------
    events : pandas.DataFrame
        One row per inspection or repair: the unit, its age, and ``status`` 1 when a repair
        happened at that age, 0 for an inspection without one. Each unit's largest age ends
        its observation (a unit retired right after a repair has a last repair row only).
        Several repairs of one unit at one age are rows with the same age.
    unit, time, status : str
        Column names.
    confidence : float
        Level of the pointwise confidence limits (Nelson's variance, log-transformed limits).

    Returns
    -------
    pandas.DataFrame
        ``time, mcf, lower, upper, variance`` at each age with a repair.
    """
    from reliability.Repairable_systems import MCF_nonparametric

    for column in (unit, time, status):
        if column not in events.columns:
            raise LifeDataError(f"no column {column!r}; columns are {', '.join(map(str, events.columns))}")
    ages = _numeric(events, time, "time", "recurrence data")
    flags = _numeric(events, status, "status", "recurrence data")
    if not np.isin(flags, (0, 1)).all():
        row = int(np.flatnonzero(~np.isin(flags, (0, 1)))[0])
        raise LifeDataError(f"recurrence data: row {row + 1}, column {status!r}: {flags[row]:g} is neither 1 "
                            "(repair) nor 0 (inspection)")
    if flags.sum() == 0:
        raise LifeDataError("recurrence data: no repairs (status is 0 on every row)")
    frame = pd.DataFrame({"unit": events[unit].to_numpy(), "age": ages, "repair": flags.astype(bool)})
    # reliability's format: per unit the repair ages, then the end of observation (a censored
    # value; a unit whose last row is a repair is retired at that repair, so its age repeats).
    histories = [sorted(g.loc[g.repair, "age"].tolist()) + [float(g["age"].max())]
                 for _, g in frame.groupby("unit", sort=True)]
    fitted = MCF_nonparametric(histories, CI=confidence, print_results=False, show_plot=False)
    table = fitted.results
    failures = table[table["state"] == "F"]
    return pd.DataFrame({
        "time": failures["time"].astype(float).to_numpy(),
        "mcf": failures["MCF"].astype(float).to_numpy(),
        "lower": failures["MCF_lower"].astype(float).to_numpy(),
        "upper": failures["MCF_upper"].astype(float).to_numpy(),
        "variance": failures["variance"].astype(float).to_numpy(),
    })
