"""The forecaster contract: long-format input, validation, one estimator interface.

Every forecaster in :mod:`quantlib.forecast` follows the same contract, modelled on
statsforecast's long format and scikit-learn's estimators:

* input is a DataFrame with columns ``series_id, ds, y`` (plus optional exogenous
  columns); ``ds`` is a datetime (frequency given or inferred per series) or an integer
  time index;
* ``__init__`` only stores parameters; ``fit(df, freq=None, season_length=None)``
  returns ``self`` and learned state ends in ``_`` (``models_`` per series);
* ``predict(h, level=(80, 95), X_future=None)`` returns ``series_id, ds, yhat,
  yhat_lo_80, yhat_hi_80, yhat_lo_95, yhat_hi_95`` (and ``model`` where a model is
  chosen per series); ``predict`` before ``fit`` raises scikit-learn's
  ``NotFittedError``;
* parameters are read and set with scikit-learn's ``get_params``/``set_params`` and
  copied with :func:`sklearn.base.clone` (the base class is a ``BaseEstimator``).

Input problems raise :class:`ForecastInputError` naming the series and the problem.
Documented fallbacks (recorded in ``fallbacks_``):

* fewer than 3 observations: the naive forecast (last value) whatever the model;
* fewer than 2 full seasons: the model is fitted without seasonality (season length 1);
* a model that needs positive data (multiplicative) on data with zeros or negatives:
  its additive variant (handled inside each model);
* a numerical failure of a model's optimiser: the naive (or seasonal naive) forecast.

The first and last fallbacks are models of the family, which lives in
:mod:`quantlib.forecast.models`; so that this module does not depend on it, each concrete
forecaster names its fallback in the class attribute ``fallback_model`` (see
:class:`Forecaster`), as statsforecast's core takes a ``fallback_model``.
"""

from __future__ import annotations

import math
import warnings
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from quantlib.errors import QuantError

__all__ = [
    "ForecastInputError",
    "Forecaster",
    "SeriesData",
    "FittedSeries",
    "prepare_long",
    "season_length_for",
    "future_index",
    "normal_intervals",
    "interval_columns",
    "run_chunks",
]

ID, DS, Y = "series_id", "ds", "y"


class ForecastInputError(QuantError, ValueError):
    """Input a forecaster cannot use; the message names the series and the problem."""


# --------------------------------------------------------------------------- frequency


def season_length_for(freq: str | None) -> int:
    """The usual season length for a pandas frequency alias.

    Parameters
    ----------
    freq : str or None
        A pandas frequency alias ("D", "W", "MS", "ME", "QS", "YS", "h", ...). ``None``
        (integer time index) gives 1.

    Returns
    -------
    int
        7 for daily, 5 for business daily, 52 for weekly, 12 for monthly, 4 for
        quarterly, 24 for hourly, 1 for yearly and anything else.
    """
    if freq is None:
        return 1
    name = pd.tseries.frequencies.to_offset(freq).rule_code
    prefix = name.split("-")[0]
    if prefix in ("D", "C"):
        return 7
    if prefix == "B":
        return 5
    if prefix == "W":
        return 52
    if prefix in ("M", "ME", "MS", "BM", "BME", "BMS", "SM", "SME", "SMS"):
        return 12
    if prefix.startswith("Q") or prefix.startswith("BQ"):
        return 4
    if prefix in ("h", "H", "bh", "BH"):
        return 24
    return 1


def _guess_freq(ds: pd.DatetimeIndex) -> str | None:
    """Infer a frequency alias, tolerating gaps (which validation reports afterwards)."""
    if len(ds) >= 3:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pandas 4 will return an offset; we want the alias
            inferred = pd.infer_freq(ds)
        if inferred is not None:
            return getattr(inferred, "freqstr", inferred)
    if len(ds) < 2:
        return None
    # With gaps infer_freq gives up; the smallest spacing is the grid step.
    step = (ds[1:] - ds[:-1]).min()  # a Timedelta whatever the index's resolution
    step_days = step / pd.Timedelta(days=1)
    starts = bool(np.all(ds.day == 1))
    if step_days < 1:
        return pd.tseries.frequencies.to_offset(step).freqstr
    if step_days == 1:
        return "D"
    if step_days == 7:
        return "W-" + ds[0].day_name()[:3].upper()
    if 28 <= step_days <= 31:
        return "MS" if starts else "ME"
    if 89 <= step_days <= 92:
        return "QS-" + ds[0].month_name()[:3].upper() if starts else "QE"
    if 365 <= step_days <= 366:
        return "YS-" + ds[0].month_name()[:3].upper() if starts else "YE"
    return None


# --------------------------------------------------------------------------- series data


@dataclass
class SeriesData:
    """One validated series.

    Attributes
    ----------
    series_id : Any
        The series' identifier.
    ds : pandas.Index
        Time stamps, regular (DatetimeIndex on ``freq`` or consecutive integers).
    y : numpy.ndarray
        Float observations, finite.
    X : numpy.ndarray or None
        Exogenous regressors, shape ``(len(y), k)``.
    freq : str or None
        The pandas frequency alias; ``None`` for an integer index.
    """

    series_id: Any
    ds: pd.Index
    y: np.ndarray
    X: np.ndarray | None = None
    freq: str | None = None


def _check_columns(df: pd.DataFrame) -> None:
    if not isinstance(df, pd.DataFrame):
        raise ForecastInputError(f"expected a DataFrame with columns series_id, ds, y; got {type(df).__name__}")
    missing = [c for c in (ID, DS, Y) if c not in df.columns]
    if missing:
        raise ForecastInputError(f"input is missing column(s) {missing}; the long format is series_id, ds, y")
    if len(df) == 0:
        raise ForecastInputError("input has no rows")


def prepare_long(
    df: pd.DataFrame,
    freq: str | None = None,
    fill: str | None = None,
    exog: Sequence[str] | None = None,
) -> list[SeriesData]:
    """Validate a long-format frame and split it into regular series.

    Parameters
    ----------
    df : pandas.DataFrame
        Columns ``series_id, ds, y`` and optional exogenous columns.
    freq : str, optional
        Pandas frequency alias for datetime ``ds``; inferred per series when omitted.
    fill : {None, "zero"}
        ``None``: a gap in ``ds`` is an error naming the series and the first missing
        date. ``"zero"``: missing periods are inserted with ``y = 0`` (count series);
        exogenous values are carried forward into them.
    exog : sequence of str, optional
        Exogenous columns; default all columns other than ``series_id, ds, y``.

    Returns
    -------
    list of SeriesData
        In order of first appearance of each series.

    Raises
    ------
    ForecastInputError
        Missing columns, missing or non-finite ``y`` (naming the rows), duplicate time
        stamps, gaps (without ``fill``), a series of fewer than 2 observations, or a
        ``ds`` that is neither datetime nor integer.
    """
    _check_columns(df)
    if fill not in (None, "zero"):
        raise ForecastInputError(f"fill must be None or 'zero', got {fill!r}")
    exog_cols = [c for c in df.columns if c not in (ID, DS, Y)] if exog is None else list(exog)
    y_num = pd.to_numeric(df[Y], errors="coerce")
    bad = ~np.isfinite(y_num.to_numpy(dtype=float, na_value=np.nan))
    if bad.any():
        rows = df.loc[bad, [ID, DS]].head(5)
        listed = "; ".join(f"row {i}: series {r[ID]!r} at {r[DS]}" for i, r in rows.iterrows())
        raise ForecastInputError(f"y is missing or not a finite number in {int(bad.sum())} row(s): {listed}")
    if exog_cols:
        xbad = df[exog_cols].isna().any(axis=1).to_numpy()
        if xbad.any():
            rows = df.loc[xbad, [ID, DS]].head(5)
            listed = "; ".join(f"series {r[ID]!r} at {r[DS]}" for _, r in rows.iterrows())
            raise ForecastInputError(f"exogenous columns {exog_cols} have missing values: {listed}")

    ds_col = df[DS]
    is_datetime = pd.api.types.is_datetime64_any_dtype(ds_col)
    if not is_datetime and not pd.api.types.is_integer_dtype(ds_col):
        try:
            ds_col = pd.to_datetime(ds_col)
            is_datetime = True
        except (ValueError, TypeError) as exc:
            raise ForecastInputError(f"ds must be datetime or integer; could not parse it: {exc}") from None
    work = pd.DataFrame({ID: df[ID].to_numpy(), DS: ds_col.to_numpy(), Y: y_num.to_numpy(dtype=float)})
    for c in exog_cols:
        work[c] = pd.to_numeric(df[c], errors="raise").to_numpy(dtype=float)
    work = work.sort_values([ID, DS], kind="stable")

    groups = list(work.groupby(ID, sort=False))
    order = {sid: i for i, sid in enumerate(pd.unique(df[ID]))}
    groups.sort(key=lambda g: order[g[0]])

    default_freq = freq
    if is_datetime and freq is None:
        guesses = [_guess_freq(pd.DatetimeIndex(g[DS])) for _, g in groups]
        known = [g for g in guesses if g is not None]
        default_freq = pd.Series(known).mode().iloc[0] if known else None
    out: list[SeriesData] = []
    for i, (sid, g) in enumerate(groups):
        if g[DS].duplicated().any():
            dup = g.loc[g[DS].duplicated(), DS].iloc[0]
            raise ForecastInputError(f"series {sid!r}: duplicate time stamp {dup}")
        y = g[Y].to_numpy(dtype=float)
        X = g[exog_cols].to_numpy(dtype=float) if exog_cols else None
        if is_datetime:
            # One unit (DuckDB and Arrow give microseconds): a grid in another unit never equals it.
            ds = pd.DatetimeIndex(g[DS]).as_unit("ns")
            f = freq or guesses[i] or default_freq
            if f is None:
                raise ForecastInputError(f"series {sid!r}: cannot infer the frequency of ds; pass freq=")
            try:
                offset = pd.tseries.frequencies.to_offset(f)
            except ValueError as exc:
                raise ForecastInputError(f"unknown frequency {f!r}: {exc}") from None
            if not offset.is_on_offset(ds[0]):
                raise ForecastInputError(f"series {sid!r}: first date {ds[0].date()} is not on frequency {f!r}")
            expected = pd.date_range(ds[0], ds[-1], freq=offset)
            f = offset.freqstr
        else:
            ds = pd.Index(g[DS].to_numpy(dtype=np.int64))
            f = None
            expected = pd.Index(np.arange(ds[0], ds[-1] + 1, dtype=np.int64))
        if len(expected) != len(ds) or not expected.equals(ds):
            off_grid = ds.difference(expected)
            if len(off_grid):
                raise ForecastInputError(
                    f"series {sid!r}: time stamp {off_grid[0]} is not on the frequency {f or 'integer step 1'}"
                )
            missing = expected.difference(ds)
            if fill != "zero":
                first = missing[0].date() if is_datetime else missing[0]
                raise ForecastInputError(
                    f"series {sid!r}: gap in ds, {len(missing)} period(s) missing, the first at {first}; "
                    "pass fill='zero' for count series"
                )
            y = pd.Series(y, index=ds).reindex(expected, fill_value=0.0).to_numpy(dtype=float)
            if X is not None:
                X = pd.DataFrame(X, index=ds).reindex(expected).ffill().bfill().to_numpy(dtype=float)
            ds = expected
        if len(y) < 2:
            raise ForecastInputError(f"series {sid!r}: {len(y)} observation(s); at least 2 are needed")
        out.append(SeriesData(sid, ds, y, X, f))
    return out


def future_index(last, freq: str | None, h: int) -> pd.Index:
    """The ``h`` time stamps after ``last`` on ``freq`` (integer steps when ``freq`` is None)."""
    if freq is None:
        return pd.Index(np.arange(int(last) + 1, int(last) + h + 1, dtype=np.int64))
    return pd.date_range(last, periods=h + 1, freq=freq)[1:]


# --------------------------------------------------------------------------- intervals


def interval_columns(level: Sequence[int]) -> list[str]:
    """Column names of the intervals, ``yhat_lo_<l>, yhat_hi_<l>`` per level."""
    cols = []
    for lv in level:
        cols += [f"yhat_lo_{_lv(lv)}", f"yhat_hi_{_lv(lv)}"]
    return cols


def _lv(lv) -> str:
    return str(int(lv)) if float(lv).is_integer() else str(lv)


def normal_intervals(mean: np.ndarray, sd: np.ndarray, level: Sequence[float]) -> dict:
    """Gaussian intervals ``mean ± z * sd`` per level (percent)."""
    out = {}
    for lv in level:
        z = stats.norm.ppf(0.5 + lv / 200.0)
        out[lv] = (mean - z * sd, mean + z * sd)
    return out


def series_seed(series_id, random_state: int | None) -> int:
    """A seed per series that does not depend on the process or chunk that fits it."""
    base = 0 if random_state is None else int(random_state)
    return (zlib.crc32(repr(series_id).encode()) + base) % (2**32)


# --------------------------------------------------------------------------- parallel


def run_chunks(func, chunks: list, n_jobs: int = 1, backend: str = "loky", dask_address=None) -> list:
    """Apply ``func`` to each chunk, in this process, joblib worker processes or on Dask.

    Parameters
    ----------
    func : callable
        A picklable module-level function of one chunk.
    chunks : list
        The work, already chunked so per-task overhead stays small.
    n_jobs : int
        Worker processes for joblib (-1: all cores). 1 runs in this process.
    backend : {"loky", "dask"}
        ``"dask"`` sends the chunks to a Dask cluster: ``dask_address`` may be a
        ``distributed.Client``, a scheduler address, or ``None`` for the current client.
    dask_address : str or distributed.Client, optional
        See ``backend``.

    Returns
    -------
    list
        ``func(chunk)`` for each chunk, in order.
    """
    if backend == "dask":
        from distributed import Client, get_client

        own = False
        if dask_address is None:
            try:
                client = get_client()
            except ValueError:
                raise ValueError("backend='dask' needs a running dask Client or dask_address") from None
        elif isinstance(dask_address, Client):
            client = dask_address
        else:
            client = Client(dask_address)
            own = True
        try:
            futures = client.map(func, chunks, pure=False)
            return client.gather(futures)
        finally:
            if own:
                client.close()
    if backend not in ("loky", "multiprocessing", "threading"):
        raise ValueError(f"backend must be 'loky' or 'dask', got {backend!r}")
    if n_jobs == 1 or len(chunks) <= 1:
        return [func(c) for c in chunks]
    from joblib import Parallel, delayed

    return Parallel(n_jobs=n_jobs, backend=backend)(delayed(func)(c) for c in chunks)


def _chunk(items: list, n_jobs: int, chunk_size: int | None) -> list[list]:
    if chunk_size is None:
        import os

        cores = (os.cpu_count() or 1) if n_jobs in (-1, None) else max(1, n_jobs)
        # A few chunks per worker balance uneven series lengths; more adds overhead.
        chunk_size = max(1, math.ceil(len(items) / (4 * max(1, cores))))
    return [items[i : i + chunk_size] for i in range(0, len(items), chunk_size)]


# --------------------------------------------------------------------------- estimator


@dataclass
class FittedSeries:
    """What a forecaster learned about one series.

    Attributes
    ----------
    series_id : Any
    impl : Forecaster
        The forecaster whose ``_predict_series`` uses ``state`` (the naive fallback or
        the estimator itself).
    state : Any
        Model state (fitted parameters, residual scale, ...).
    last : Any
        The series' last time stamp.
    freq : str or None
    n : int
        Observations used.
    season_length : int
        The season length actually used (1 after the short-series fallback).
    fallback : str or None
        Why a fallback was used, if one was.
    """

    series_id: Any
    impl: Any
    state: Any
    last: Any
    freq: str | None
    n: int
    season_length: int
    fallback: str | None = None
    info: dict = field(default_factory=dict)


def _fit_chunk(args):
    estimator, chunk = args
    return [estimator._fit_one(s, m) for s, m in chunk]


def _predict_chunk(args):
    estimator, chunk, h, level = args
    return [fs.impl._predict_series(fs.state, h, level, xf) for fs, xf in chunk]


class Forecaster(BaseEstimator):
    """Base class of the forecaster family (see the module docstring for the contract).

    Subclasses implement ``_fit_series(y, season_length, X) -> state`` and
    ``_predict_series(state, h, level, X_future) -> (mean, {level: (lo, hi)})``, and may
    override ``_describe(state) -> str`` (the ``model`` column). Parameter access
    (``get_params``, ``set_params``, :func:`sklearn.base.clone`) is scikit-learn's.
    Common parameters:

    Parameters
    ----------
    n_jobs : int
        Worker processes for fitting many series; -1 uses all cores.
    backend : {"loky", "dask"}
        Where chunks of series run; see :func:`run_chunks`.
    dask_address : str or distributed.Client, optional
        The Dask cluster for ``backend="dask"`` (``None``: the current client).
    fill : {None, "zero"}
        Gap handling, see :func:`prepare_long`.
    """

    #: Whether ``predict`` output carries a ``model`` column (chosen per series).
    reports_model = False
    #: Whether the model uses exogenous columns.
    uses_exog = False
    #: Full seasons needed before seasonality is modelled (else season length 1).
    min_seasons = 2
    #: The forecaster used where this one cannot be: ``fallback_model(n_obs, season_length)``
    #: returns an unfitted Forecaster for a series of ``n_obs`` observations (called with
    #: season length 1 for series too short for any model, and with the season length in
    #: use when fitting failed). ``None``: no fallback, such series raise. Set by the
    #: concrete forecasters (the naive family's ``naive_fallback``).
    fallback_model: Callable[[int, int], "Forecaster"] | None = None

    def __init__(self, n_jobs: int = 1, backend: str = "loky", dask_address=None, fill: str | None = None):
        self.n_jobs = n_jobs
        self.backend = backend
        self.dask_address = dask_address
        self.fill = fill

    def clone(self) -> "Forecaster":
        """An unfitted copy with the same parameters (:func:`sklearn.base.clone`)."""
        return clone(self)

    def __sklearn_clone__(self) -> "Forecaster":
        # A Dask client is a handle on a shared cluster (and cannot be deep-copied): the
        # copy uses the same one. Every other parameter is cloned as scikit-learn does.
        params = {
            k: v if k == "dask_address" else clone(v, safe=False) for k, v in self.get_params(deep=False).items()
        }
        return type(self)(**params)

    def _worker_copy(self) -> "Forecaster":
        # What is shipped to workers: no Dask client (not picklable), no nested parallelism.
        return self.clone().set_params(n_jobs=1, backend="loky", dask_address=None)

    # -- the contract
    def fit(self, df: pd.DataFrame, freq: str | None = None, season_length: int | None = None) -> "Forecaster":
        """Fit one model per series.

        Parameters
        ----------
        df : pandas.DataFrame
            Long format ``series_id, ds, y`` (+ exogenous columns).
        freq : str, optional
            Frequency alias of ``ds``; inferred per series when omitted.
        season_length : int, optional
            Season length; default from the frequency (see :func:`season_length_for`).

        Returns
        -------
        self
        """
        series = prepare_long(df, freq=freq, fill=self.fill, exog=None if self.uses_exog else [])
        self.exog_columns_ = [c for c in df.columns if c not in (ID, DS, Y)] if self.uses_exog else []
        work = []
        for s in series:
            m = season_length if season_length is not None else season_length_for(s.freq)
            if m < 1:
                raise ForecastInputError(f"season_length must be >= 1, got {m}")
            work.append((s, int(m)))
        chunks = _chunk(work, self.n_jobs, None)
        worker = self._worker_copy()
        results = run_chunks(
            _fit_chunk, [(worker, c) for c in chunks], self.n_jobs, self.backend, self.dask_address
        )
        self.models_ = {fs.series_id: fs for chunk in results for fs in chunk}
        self.fallbacks_ = {sid: fs.fallback for sid, fs in self.models_.items() if fs.fallback}
        self.n_series_ = len(self.models_)
        return self

    def predict(self, h: int, level: Sequence[float] = (80, 95), X_future: pd.DataFrame | None = None) -> pd.DataFrame:
        """Forecast ``h`` steps after each series' last observation.

        Parameters
        ----------
        h : int
            Horizon (steps).
        level : sequence of float
            Interval levels in percent.
        X_future : pandas.DataFrame, optional
            ``series_id, ds`` and the exogenous columns for the ``h`` future steps of
            every series (required when the model was fitted with exogenous columns).

        Returns
        -------
        pandas.DataFrame
            ``series_id, ds, yhat`` and ``yhat_lo_<l>, yhat_hi_<l>`` per level (and
            ``model`` for forecasters that choose one per series).
        """
        check_is_fitted(self, "models_")
        h = int(h)
        if h < 1:
            raise ValueError(f"h must be >= 1, got {h}")
        level = tuple(level or ())
        for lv in level:
            if not 0 < lv < 100:
                raise ValueError(f"levels are percentages in (0, 100), got {lv}")
        futures = {sid: future_index(fs.last, fs.freq, h) for sid, fs in self.models_.items()}
        xf = self._future_exog(X_future, futures, h)
        work = [(fs, xf.get(sid)) for sid, fs in self.models_.items()]
        chunks = _chunk(work, self.n_jobs, None)
        results = run_chunks(
            _predict_chunk, [(None, c, h, level) for c in chunks], self.n_jobs, self.backend, self.dask_address
        )
        frames = []
        flat = [r for chunk in results for r in chunk]
        for (fs, _), (mean, intervals) in zip(work, flat):
            part = {ID: np.repeat(np.array([fs.series_id], dtype=object), h), DS: futures[fs.series_id], "yhat": mean}
            for lv in level:
                lo, hi = intervals[lv]
                part[f"yhat_lo_{_lv(lv)}"] = np.minimum(lo, mean)
                part[f"yhat_hi_{_lv(lv)}"] = np.maximum(hi, mean)
            frame = pd.DataFrame(part)
            if self.reports_model:
                frame["model"] = fs.impl._describe(fs.state)
            frames.append(frame)
        out = pd.concat(frames, ignore_index=True)
        if out[ID].map(type).nunique() == 1:
            out[ID] = out[ID].infer_objects()
        return out

    def fit_predict(self, df: pd.DataFrame, h: int, level=(80, 95), freq=None, season_length=None, X_future=None):
        """``fit(df, ...)`` then ``predict(h, ...)``."""
        return self.fit(df, freq=freq, season_length=season_length).predict(h, level=level, X_future=X_future)

    # -- per series
    def _fit_one(self, s: SeriesData, m: int) -> FittedSeries:
        """Fit one series with the documented fallbacks (runs in worker processes)."""
        n = len(s.y)
        fallback = None
        impl: Forecaster = self
        if n < 3:
            if self.fallback_model is None:
                raise ForecastInputError(
                    f"series {s.series_id!r}: {n} observations (< 3) and {type(self).__name__} has no fallback_model"
                )
            impl = self.fallback_model(n, 1)
            fallback = f"{n} observations (< 3): {type(impl).__name__.lower()} forecast"
        elif m > 1 and n < self.min_seasons * m + (self.min_seasons == 1):
            fallback = f"{n} observations (< {self.min_seasons} seasons of {m}): non-seasonal model"
            m = 1
        X = s.X if (self.uses_exog and s.X is not None and s.X.shape[1]) else None
        try:
            state = impl._fit_series(s.y, m, X, s.series_id)
        except (ForecastInputError, KeyboardInterrupt):
            raise
        except Exception as exc:  # statsmodels' optimisers can fail on odd series
            if self.fallback_model is None:
                raise
            impl = self.fallback_model(n, m)
            fallback = f"{type(self).__name__} failed ({type(exc).__name__}: {exc}); {type(impl).__name__} used"
            state = impl._fit_series(s.y, m, None, s.series_id)
        return FittedSeries(s.series_id, impl, state, s.ds[-1], s.freq, n, m, fallback)

    def _future_exog(self, X_future, futures: dict, h: int) -> dict:
        if not self.uses_exog or not self.exog_columns_:
            return {}
        if X_future is None:
            raise ForecastInputError(
                f"{type(self).__name__} was fitted with exogenous columns {self.exog_columns_}; pass X_future"
            )
        missing = [c for c in [ID, DS, *self.exog_columns_] if c not in X_future.columns]
        if missing:
            raise ForecastInputError(f"X_future is missing column(s) {missing}")
        out = {}
        by_id = dict(tuple(X_future.groupby(ID, sort=False)))
        for sid, idx in futures.items():
            g = by_id.get(sid)
            if g is None:
                raise ForecastInputError(f"X_future has no rows for series {sid!r}")
            ds = g[DS] if idx.dtype.kind == "i" else pd.to_datetime(g[DS])
            g = g.assign(**{DS: ds.to_numpy()}).set_index(DS).reindex(idx)
            if g[self.exog_columns_].isna().any().any():
                first = idx[g[self.exog_columns_].isna().any(axis=1).to_numpy()][0]
                raise ForecastInputError(f"X_future for series {sid!r} lacks values at {first} (needs {h} steps)")
            out[sid] = g[self.exog_columns_].to_numpy(dtype=float)
        return out

    def _fit_series(self, y: np.ndarray, season_length: int, X: np.ndarray | None, series_id=None):
        raise NotImplementedError

    def _predict_series(self, state, h: int, level, X_future):
        raise NotImplementedError

    def _describe(self, state) -> str:
        return type(self).__name__

