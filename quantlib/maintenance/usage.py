"""Usage patterns as a Markov chain over operating states (issue 15): transition matrices per unit
and their drift.

The table ``equipment_states`` counts, per unit and day, the hourly transitions between the
operating states (idle, normal, heavy, fault; columns ``<from>_to_<to>``, the generator's 24 a
day, the first from the idle start at midnight). From these counts:

* :func:`transition_matrices` estimates one row-stochastic matrix per unit (or per any column,
  e.g. a kind) over a period: the maximum-likelihood matrix shrunk by a Dirichlet prior of
  ``prior`` pseudo-transitions per row toward the pooled matrix of the whole frame (or of a
  ``prior_by`` group), so a unit that seldom leaves a rare state still gets a proper row; with
  each matrix's stationary distribution.
* :class:`UsageChain` compares, for every unit and day, the transitions of the recent window
  (``recent_days`` up to and including the day) with the unit's own baseline, the
  ``baseline_days`` before it, and nothing later (no look-ahead). The drift statistic is the
  likelihood-ratio (G) test that both windows follow one transition matrix (Anderson and
  Goodman's test of a chain's homogeneity): ``G = 2 sum n_ij log(n_ij / e_ij)`` over both
  windows' counts, ``e_ij`` the window's row total times the pooled row's share; under no drift
  it is chi-square with ``sum_i (c_i - 1)`` degrees of freedom, ``c_i`` the states reached from
  ``i`` in either window, over the rows seen in both; each row's G is divided by Williams'
  correction, as a week has few transitions out of a rare state. It gives a p-value and the
  matching normal score ``drift_z`` (comparable across degrees of freedom). The other features describe the
  recent window: its probability of entering fault from normal or heavy (against the
  baseline's), its heavy and fault hour shares and the expected hours to get back to idle.

A unit's repair resets the chain's history: with ``resets`` (e.g. the completion dates of its
failure repairs) the windows never reach back past the last reset, so the drift that led to a
failure does not stand as the baseline of the repaired unit.

The test assumes one matrix per window. On chains that have one it holds its level (4.4 % at
5 %, ``tests/maintenance/test_usage.py``); the generator's day mixes a working-hours and a night
matrix, which makes the counts out of a state less dispersed than a multinomial, and the test
conservative there (0.2 % at 1 % on healthy unit-days; ``python -m benchmarks.maintenance --only
usage``, figures in ``benchmarks/README.md``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special, stats
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from quantlib.data.contracts import OPERATING_STATES, TRANSITION_COLUMNS
from quantlib.errors import QuantError

K = len(OPERATING_STATES)
_IDLE, _NORMAL, _HEAVY, _FAULT = (OPERATING_STATES.index(s) for s in ("idle", "normal", "heavy", "fault"))

__all__ = ["TransitionMatrices", "UsageChain", "UsageDataError", "g_test", "stationary_distribution",
           "transition_matrices"]


class UsageDataError(QuantError, ValueError):
    """Operating-state data that cannot give transition counts (a missing or invalid column)."""


def _counts_frame(states: pd.DataFrame, extra: tuple[str, ...] = ()) -> pd.DataFrame:
    """``states`` checked: the key, the 16 transition counts (whole, non-negative) and ``extra``."""
    if not isinstance(states, pd.DataFrame):
        raise UsageDataError(f"states must be a DataFrame of equipment_states, not {type(states).__name__}")
    for column in ("equipment_id", "date", *TRANSITION_COLUMNS, *extra):
        if column not in states:
            hint = (" (files written before the generator counted transitions lack them)"
                    if column in TRANSITION_COLUMNS else "")
            raise UsageDataError(f"equipment_states has no column {column!r}{hint}")
    if states.empty:
        raise UsageDataError("equipment_states has no rows")
    for column in TRANSITION_COLUMNS:
        values = pd.to_numeric(states[column], errors="coerce")
        if values.isna().all():
            raise UsageDataError(f"equipment_states.{column} is empty (files written before the generator "
                                 "counted transitions lack the counts)")
        if values.isna().any():
            raise UsageDataError(f"equipment_states.{column} has {int(values.isna().sum())} missing or "
                                 "non-numeric values")
        if (values < 0).any() or (np.mod(values, 1) != 0).any():
            raise UsageDataError(f"equipment_states.{column} must hold whole, non-negative transition counts")
    dates = pd.to_datetime(states["date"], errors="coerce")
    if dates.isna().any():
        raise UsageDataError(f"equipment_states.date has {int(dates.isna().sum())} missing or unreadable dates")
    if states["equipment_id"].isna().any():
        raise UsageDataError("equipment_states.equipment_id has missing values")
    out = states.assign(date=dates.dt.normalize())
    if out.duplicated(["equipment_id", "date"]).any():
        raise UsageDataError("equipment_states has more than one row for an (equipment_id, date)")
    return out


def _smooth(counts: np.ndarray, reference: np.ndarray, prior: float) -> np.ndarray:
    """Posterior-mean matrices: ``(n_ij + prior r_ij) / (n_i + prior)``; a row never seen falls back to ``r``."""
    total = counts.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (counts + prior * reference) / (total + prior)
    return np.where(total + prior > 0, out, reference)


def _reference(counts: np.ndarray) -> np.ndarray:
    """The pooled matrix of ``counts`` (... x K x K summed over the leading axis), each row with one
    pseudo-transition spread evenly, so that a state never left in the data still has a proper row."""
    pooled = counts.reshape(-1, K, K).sum(axis=0).astype(float)
    return (pooled + 1.0 / K) / (pooled.sum(axis=1, keepdims=True) + 1.0)


def stationary_distribution(matrices: np.ndarray) -> np.ndarray:
    """The stationary distribution of each row-stochastic matrix.

    Parameters
    ----------
    matrices : ndarray, shape (K, K) or (n, K, K)
        Irreducible transition matrices (rows "from", columns "to").

    Returns
    -------
    ndarray, shape (K,) or (n, K)
        ``pi`` with ``pi P = pi`` and ``sum(pi) = 1``.
    """
    p = np.asarray(matrices, dtype=float)
    single = p.ndim == 2
    p = p[None] if single else p
    k = p.shape[-1]
    # pi (P - I) = 0 with one equation swapped for sum(pi) = 1.
    a = np.swapaxes(p, -1, -2) - np.eye(k)
    a[:, -1, :] = 1.0
    b = np.zeros((len(p), k, 1))
    b[:, -1, 0] = 1.0
    pi = np.linalg.solve(a, b)[..., 0]
    return pi[0] if single else pi


@dataclass(frozen=True)
class TransitionMatrices:
    """Transition matrices per group (see :func:`transition_matrices`).

    Attributes
    ----------
    groups : pandas.Index
        The groups (units, kinds ...), in the order of the arrays.
    counts : ndarray, shape (n, K, K)
        Transitions counted, rows "from", columns "to", states in ``OPERATING_STATES`` order.
    matrices : ndarray, shape (n, K, K)
        The smoothed row-stochastic matrices.
    stationary : pandas.DataFrame
        The stationary distribution of each matrix, one row per group, one column per state.
    """

    groups: pd.Index
    counts: np.ndarray
    matrices: np.ndarray
    stationary: pd.DataFrame

    def long(self) -> pd.DataFrame:
        """One row per group, from-state and to-state: ``count`` and ``probability``."""
        n = len(self.groups)
        return pd.DataFrame({
            self.groups.name or "group": np.repeat(self.groups.to_numpy(), K * K),
            "from_state": np.tile(np.repeat(OPERATING_STATES, K), n),
            "to_state": np.tile(OPERATING_STATES, K * n),
            "count": self.counts.reshape(-1),
            "probability": self.matrices.reshape(-1),
        })


def transition_matrices(states: pd.DataFrame, by: str = "equipment_id", start=None, end=None,
                        prior: float = 1.0, prior_by: str | None = None) -> TransitionMatrices:
    """Row-stochastic transition matrices per group from the daily transition counts.

    Parameters
    ----------
    states : DataFrame
        ``equipment_states`` rows: ``equipment_id``, ``date`` and the 16 ``<from>_to_<to>`` counts
        (plus ``by`` / ``prior_by`` when they are other columns, e.g. a joined ``kind``).
    by : str
        The column whose groups get a matrix each.
    start, end : date-like, optional
        Only the days ``start <= date < end``.
    prior : float
        Dirichlet pseudo-transitions per row toward the reference matrix: the matrix is
        ``(n_ij + prior r_ij) / (n_i + prior)``; 0 gives the maximum likelihood (a row never left
        then is the reference row).
    prior_by : str, optional
        A column (constant within each ``by`` group) whose groups' pooled matrices are the
        references; by default the pooled matrix of all the rows in the period (the fleet's).

    Returns
    -------
    TransitionMatrices
        Counts, matrices (``.matrices``, n x K x K; ``.long()`` for a long frame) and the
        stationary distributions.

    Raises
    ------
    UsageDataError
        A missing or invalid column, a negative prior, or no row in the period.
    """
    if not prior >= 0:
        raise UsageDataError(f"prior must be a non-negative number of pseudo-transitions, not {prior!r}")
    extra = tuple(c for c in (by, prior_by) if c is not None and c not in ("equipment_id", "date"))
    df = _counts_frame(states, extra)
    if start is not None:
        df = df[df["date"] >= pd.Timestamp(start)]
    if end is not None:
        df = df[df["date"] < pd.Timestamp(end)]
    if df.empty:
        raise UsageDataError(f"equipment_states has no row between {start} and {end}")
    if df[by].isna().any():
        raise UsageDataError(f"equipment_states.{by} has missing values")
    grouped = df.groupby(by, sort=True)
    counts = grouped[list(TRANSITION_COLUMNS)].sum().astype(float)
    cube = counts.to_numpy().reshape(-1, K, K)
    if prior_by is None:
        reference = np.broadcast_to(_reference(cube), cube.shape)
    else:
        if df[prior_by].isna().any():
            raise UsageDataError(f"equipment_states.{prior_by} has missing values")
        of_group = grouped[prior_by].agg(["first", "nunique"])
        if (of_group["nunique"] > 1).any():
            raise UsageDataError(f"equipment_states.{prior_by} must be constant within each {by}")
        references = {g: _reference(cube[(of_group["first"] == g).to_numpy()]) for g in of_group["first"].unique()}
        reference = np.stack([references[g] for g in of_group["first"]])
    matrices = _smooth(cube, reference, prior)
    stationary = pd.DataFrame(stationary_distribution(matrices), index=counts.index, columns=list(OPERATING_STATES))
    return TransitionMatrices(counts.index, cube, matrices, stationary)


def g_test(recent: np.ndarray, baseline: np.ndarray, williams: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The likelihood-ratio test that two windows' counts follow one transition matrix.

    Parameters
    ----------
    recent, baseline : ndarray, shape (..., K, K)
        Transition counts of the two windows.
    williams : bool
        Divide each from-state's G by Williams' correction factor ``q`` (Williams 1976), which
        keeps the test near its level when a row has few transitions.

    Returns
    -------
    g, df : ndarray, shape (...)
        ``G = 2 sum n log(n / e)`` over both windows (``e`` the window's row total times the
        pooled row's share), chi-square with ``df = sum_i (c_i - 1)`` under homogeneity, ``c_i``
        the states reached from ``i`` in either window, over the rows seen in both windows.
    """
    recent, baseline = np.asarray(recent, dtype=float), np.asarray(baseline, dtype=float)
    pooled = recent + baseline
    n_r, n_b = recent.sum(-1, keepdims=True), baseline.sum(-1, keepdims=True)
    both = (n_r > 0) & (n_b > 0)
    share = np.divide(pooled, pooled.sum(-1, keepdims=True), out=np.zeros_like(pooled), where=pooled > 0)
    g_row = np.zeros(pooled.shape[:-1])
    for n, tot in ((recent, n_r), (baseline, n_b)):
        expected = tot * share
        term = np.where((n > 0) & both, n * np.log(np.where(n > 0, n, 1) / np.where(expected > 0, expected, 1)), 0.0)
        g_row = g_row + 2 * term.sum(axis=-1)
    both = both[..., 0]
    reached = ((pooled > 0).sum(-1) - 1).clip(min=0)
    dof = np.where(both, reached, 0)
    if williams:
        # Williams' correction of each row's 2 x c table: G / q brings the small-sample G nearer its
        # chi-square (a week's rare rows have few transitions).
        total = pooled.sum(-1)
        inv_cols = np.divide(1.0, pooled, out=np.zeros_like(pooled), where=pooled > 0).sum(-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            q = 1 + ((total * (1 / n_r[..., 0] + 1 / n_b[..., 0]) - 1) * (total * inv_cols - 1)
                     / (6 * total * dof))
        g_row = np.where(dof > 0, g_row / np.where(dof > 0, q, 1.0), 0.0)
    return np.maximum(g_row.sum(-1), 0.0), dof.sum(-1)


class UsageChain(TransformerMixin, BaseEstimator):
    """Drift of each unit's operating-state chain: the recent window against the unit's own past.

    Parameters
    ----------
    recent_days : int
        Days in the recent window, the day itself included.
    baseline_days : int
        Days in the baseline window, which ends ``gap_days`` before the recent window starts.
    gap_days : int
        Days left out between the two windows (a slow drift then does not creep into the baseline).
    min_baseline_days : int
        Fewer observed baseline days than this (a new or just repaired unit) leave the day's
        drift features missing.
    prior : float
        Dirichlet pseudo-transitions per row: the baseline matrix is shrunk toward the fleet's
        (learnt in ``fit``), the recent one toward the baseline; the test uses the raw counts.
    alpha : float
        Level of the test: ``alarm`` is ``drift_p < alpha``.

    Attributes
    ----------
    reference_ : ndarray, shape (K, K)
        The fleet's pooled matrix over the fitted rows (the prior's centre).
    n_transitions_ : int
        Transitions counted in the fitted rows.
    """

    def __init__(self, recent_days: int = 7, baseline_days: int = 90, gap_days: int = 0,
                 min_baseline_days: int = 28, prior: float = 1.0, alpha: float = 0.01):
        self.recent_days = recent_days
        self.baseline_days = baseline_days
        self.gap_days = gap_days
        self.min_baseline_days = min_baseline_days
        self.prior = prior
        self.alpha = alpha

    def _check_params(self) -> None:
        for name in ("recent_days", "baseline_days", "min_baseline_days"):
            value = getattr(self, name)
            if not (isinstance(value, (int, np.integer)) and value >= 1):
                raise UsageDataError(f"UsageChain.{name} must be a whole number of days >= 1, not {value!r}")
        if not (isinstance(self.gap_days, (int, np.integer)) and self.gap_days >= 0):
            raise UsageDataError(f"UsageChain.gap_days must be a whole number of days >= 0, not {self.gap_days!r}")
        if self.min_baseline_days > self.baseline_days:
            raise UsageDataError("UsageChain.min_baseline_days cannot exceed baseline_days")
        if not self.prior >= 0:
            raise UsageDataError(f"UsageChain.prior must be >= 0, not {self.prior!r}")
        if not 0 < self.alpha < 1:
            raise UsageDataError(f"UsageChain.alpha must be in (0, 1), not {self.alpha!r}")

    def fit(self, states: pd.DataFrame, y=None) -> UsageChain:
        """Learn the fleet's matrix (the prior's centre) from ``states`` (a training period).

        Parameters
        ----------
        states : DataFrame
            ``equipment_states`` rows with the transition counts.
        y : ignored

        Returns
        -------
        UsageChain
            self.
        """
        self._check_params()
        df = _counts_frame(states)
        cube = df[list(TRANSITION_COLUMNS)].to_numpy(dtype=float).reshape(-1, K, K)
        self.reference_ = _reference(cube)
        self.n_transitions_ = int(cube.sum())
        return self

    def transform(self, states: pd.DataFrame, resets: pd.DataFrame | None = None) -> pd.DataFrame:
        """Per unit and day: the recent window's drift from the baseline and its usage features.

        Parameters
        ----------
        states : DataFrame
            ``equipment_states`` rows with the transition counts, the history the windows need included.
        resets : DataFrame, optional
            ``equipment_id`` and ``date``: days from which a unit's chain starts afresh (e.g. a
            failure repair's completion); windows reach back no further than the unit's last
            reset on or before the day.

        Returns
        -------
        DataFrame
            ``equipment_id``, ``date`` and: ``recent_days_observed`` / ``baseline_days_observed``
            (days with a row in each window); ``drift_g``, ``drift_df``, ``drift_p`` (the
            homogeneity G-test, chi-square under no drift), ``drift_z`` (the p-value as a normal
            score, large when drifting); ``alarm`` (``drift_p < alpha``); ``fault_entry`` and
            ``baseline_fault_entry`` (probability that an hour in normal or heavy is followed by
            fault, recent and baseline); ``heavy_share`` and ``fault_share`` (of the recent
            hours); ``hours_to_idle`` (expected hours to reach idle from the recent non-idle
            hours, by the recent matrix). The drift features are missing when the baseline has
            fewer than ``min_baseline_days`` observed days or a window has no transition.
        """
        check_is_fitted(self, "reference_")
        self._check_params()
        df = _counts_frame(states)
        units, unit_of = np.unique(df["equipment_id"].astype(str).to_numpy(), return_inverse=True)
        first = df["date"].min()
        day_of = ((df["date"] - first) // pd.Timedelta(days=1)).to_numpy().astype(np.int64)
        n_days = int(day_of.max()) + 1
        # Units x calendar days, zero on days without a row, with cumulative sums (a leading zero).
        daily = np.zeros((len(units), n_days, K * K))
        daily[unit_of, day_of] = df[list(TRANSITION_COLUMNS)].to_numpy(dtype=float)
        seen = np.zeros((len(units), n_days))
        seen[unit_of, day_of] = 1.0
        cum = np.concatenate([np.zeros((len(units), 1, K * K)), np.cumsum(daily, axis=1)], axis=1)
        cum_seen = np.concatenate([np.zeros((len(units), 1)), np.cumsum(seen, axis=1)], axis=1)
        floor = self._reset_floor(resets, units, first, n_days)

        t = day_of
        floor_t = floor[unit_of, t]

        def window(lo, hi):
            # Sum over days lo..hi (inclusive), clipped at the unit's last reset.
            lo = np.maximum(lo, floor_t)
            hi_ = np.maximum(hi, lo - 1)
            counts = cum[unit_of, hi_ + 1] - cum[unit_of, lo]
            days = cum_seen[unit_of, hi_ + 1] - cum_seen[unit_of, lo]
            return counts.reshape(-1, K, K), days

        recent, recent_seen = window(t - self.recent_days + 1, t)
        b_hi = t - self.recent_days - self.gap_days
        baseline, base_seen = window(b_hi - self.baseline_days + 1, b_hi)

        g, dof = g_test(recent, baseline)
        ok = (base_seen >= self.min_baseline_days) & (recent.sum(axis=(1, 2)) > 0) & (dof > 0)
        logp = stats.chi2.logsf(g, np.maximum(dof, 1))
        p = np.exp(logp)
        z = -special.ndtri_exp(logp)  # norm.isf(p) without underflow for a huge G
        base_m = _smooth(baseline, self.reference_, self.prior)
        recent_m = _smooth(recent, base_m, self.prior)
        into = recent.sum(axis=1)  # hours per state (transitions into it)
        hours = into.sum(axis=1)
        active = recent[:, [_NORMAL, _HEAVY]].sum(axis=2)  # transitions out of normal, heavy
        base_active = baseline[:, [_NORMAL, _HEAVY]].sum(axis=2)
        fault_entry = _entry(recent[:, [_NORMAL, _HEAVY], _FAULT], active, base_m, self.prior)
        base_fault_entry = _entry(baseline[:, [_NORMAL, _HEAVY], _FAULT], base_active, self.reference_, self.prior)
        out = pd.DataFrame({
            "equipment_id": df["equipment_id"].to_numpy(),
            "date": df["date"].to_numpy(),
            "recent_days_observed": recent_seen.astype(int),
            "baseline_days_observed": base_seen.astype(int),
            "drift_g": np.where(ok, g, np.nan),
            "drift_df": np.where(ok, dof, np.nan),
            "drift_p": np.where(ok, p, np.nan),
            "drift_z": np.where(ok, z, np.nan),
            "alarm": ok & (p < self.alpha),
            "fault_entry": np.where(ok, fault_entry, np.nan),
            "baseline_fault_entry": np.where(ok, base_fault_entry, np.nan),
            "heavy_share": np.divide(into[:, _HEAVY], hours, out=np.full(len(hours), np.nan), where=hours > 0),
            "fault_share": np.divide(into[:, _FAULT], hours, out=np.full(len(hours), np.nan), where=hours > 0),
            "hours_to_idle": _hours_to_idle(recent_m, into),
        })
        return out.sort_values(["equipment_id", "date"], ignore_index=True)

    @staticmethod
    def _reset_floor(resets, units, first, n_days) -> np.ndarray:
        """Units x days: the first day index the windows may reach (the last reset on or before)."""
        floor = np.zeros((len(units), n_days), dtype=np.int64)
        if resets is None:
            return floor
        for column in ("equipment_id", "date"):
            if column not in resets:
                raise UsageDataError(f"resets has no column {column!r}")
        dates = pd.to_datetime(resets["date"], errors="coerce")
        if dates.isna().any():
            raise UsageDataError(f"resets.date has {int(dates.isna().sum())} missing or unreadable dates")
        unit = np.searchsorted(units, resets["equipment_id"].astype(str).to_numpy())
        known = (unit < len(units)) & (units[np.minimum(unit, len(units) - 1)] == resets["equipment_id"].astype(str))
        day = ((dates.dt.normalize() - first) // pd.Timedelta(days=1)).to_numpy()
        keep = known.to_numpy() & (day > 0) & (day < n_days)
        floor[unit[keep], day[keep]] = day[keep]
        return np.maximum.accumulate(floor, axis=1)


def _entry(to_fault: np.ndarray, total: np.ndarray, reference: np.ndarray, prior: float) -> np.ndarray:
    """P(next hour fault | now normal or heavy), the two rows pooled and shrunk toward ``reference``."""
    ref = np.asarray(reference)[..., [_NORMAL, _HEAVY], _FAULT]
    ref = np.broadcast_to(ref, to_fault.shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (to_fault.sum(-1) + prior * ref.sum(-1)) / (total.sum(-1) + 2 * prior)


def _hours_to_idle(matrices: np.ndarray, into: np.ndarray) -> np.ndarray:
    """Expected hours to reach idle, started from the window's non-idle hours (their mix), by ``matrices``."""
    busy = [s for s in range(K) if s != _IDLE]
    a = np.eye(len(busy)) - matrices[:, busy][:, :, busy]
    # Without a prior a busy state may never lead back to idle (I - Q singular): no finite answer.
    singular = np.abs(np.linalg.det(a)) < 1e-12
    a[singular] = np.eye(len(busy))
    steps = np.linalg.solve(a, np.ones((len(a), len(busy), 1)))[..., 0]
    steps[singular] = np.nan
    weight = into[:, busy]
    total = weight.sum(axis=1)
    return np.divide((steps * weight).sum(axis=1), total, out=np.full(len(a), np.nan), where=total > 0)
