"""Metric sources: what an alert rule's ``metric`` names, and how its values are read.

A source is a function ``(context, rule) -> list[Observation]``: one observation per subject
(the company, a customer, a technician, a piece of equipment...). Two kinds are registered:

* every KPI of :data:`quantlib.kpi.REGISTRY`, as ``kpi:<name>`` (subject ``company``, or the
  filter slice in ``params``), with the KPI's target, direction and unit; a ``baseline``
  comparison reads the same KPI ``baseline_days`` earlier;
* engine outputs and risk indicators registered by name with :func:`metric_source`:
  ``customer_churn_risk`` (the churn rule score of each high-value customer,
  :mod:`quantlib.customers`), ``cash_runway_days`` (the projected cash low point in days of
  expenses, :class:`~quantlib.forecast.cashflow.CashFlowSimulator`), ``model_decay`` (the
  monitored models that fell below their target or their own baseline, :mod:`quantlib.monitor`),
  and the market signals ``demand_change`` and ``pricing_pressure`` (:mod:`quantlib.kpi.market`).

Engines may not import this package (it is a delivery package), so a later engine's output
(risk indicators, equipment health, stream aggregates) is registered here, next to these, with
``@metric_source("<name>", ...)``; tests register fakes the same way.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from quantlib.errors import QuantError

if TYPE_CHECKING:
    from quantlib.alerts.rules import AlertRule

__all__ = ["SOURCES", "MetricContext", "MetricSource", "MetricUnavailable", "Observation", "get_source",
           "metric_source", "observe", "per_build"]


class MetricUnavailable(QuantError, LookupError):
    """A metric has no value here (no data in the window, no target): the rule is skipped, not failed."""


@dataclass(frozen=True)
class Observation:
    """One value of a metric for one subject.

    Attributes
    ----------
    subject : str
        What the value is about (``company``, ``customer C000123``, ``region=north``).
    value : float
    reference : float, optional
        The target (``target`` comparisons) or the earlier value (``baseline``).
    lo, hi : float, optional
        The forecast interval (``forecast`` comparisons).
    direction : {"higher", "lower"}
        Which side is better.
    unit : str
        ``ratio``, ``currency``, ``days``, ``hours``, ``count``, ``rating`` or ``score``.
    """

    subject: str
    value: float
    reference: float | None = None
    lo: float | None = None
    hi: float | None = None
    direction: str = "higher"
    unit: str = ""
    detail: str = ""


@dataclass
class MetricContext:
    """What sources read: an open gold connection and the as-of date (``None``: gold's own).

    ``store`` is the operational store (the engine fills it in), where slow sources keep their
    result per gold build (:func:`per_build`); ``remember=False`` (a dry run) reads that cache
    but never writes it.
    """

    con: Any = None
    as_of: dt.date | None = None
    cache: dict = field(default_factory=dict)
    store: Any = None
    remember: bool = True

    def day(self) -> dt.date:
        if self.as_of is None:
            from quantlib.data.gold import gold_as_of

            self.as_of = gold_as_of(self.con)
        return self.as_of


MetricSource = Callable[[MetricContext, "AlertRule"], list[Observation]]


@dataclass(frozen=True)
class _Registered:
    name: str
    func: MetricSource
    description: str


SOURCES: dict[str, _Registered] = {}


def metric_source(name: str, description: str = ""):
    """Decorator: register ``func(context, rule) -> list[Observation]`` as metric ``name``."""

    def wrap(func: MetricSource) -> MetricSource:
        SOURCES[name] = _Registered(name, func, description or (func.__doc__ or "").strip().split("\n")[0])
        return func

    return wrap


def get_source(name: str) -> MetricSource:
    """The source of metric ``name`` (``kpi:<name>`` for any registered KPI)."""
    if name in SOURCES:
        return SOURCES[name].func
    if name.startswith("kpi:"):
        return _kpi_source
    raise MetricUnavailable(f"unknown metric {name!r}; known: kpi:<name> for a KPI, "
                            f"{', '.join(sorted(SOURCES)) or 'no engine outputs'}")


def _build_identity(con) -> tuple | None:
    """Gold's build (when built, for which company and as-of), or ``None`` if it has no ``build_info``."""
    try:
        return tuple(str(v) for v in con.execute(
            "SELECT max(built_at), any_value(company), max(as_of) FROM build_info").fetchone())
    except Exception:  # a hand-made connection without build_info: nothing to key a cache on
        return None


def per_build(context: MetricContext, name: str, rule: "AlertRule",
              compute: Callable[[], list[Observation]]) -> list[Observation]:
    """``compute()``, or its result kept in the operational store for this gold build.

    A slow source (a cash-flow simulation takes minutes on a large company) gives the same
    answer until gold is rebuilt, so checks every few minutes reuse the last one: the key is
    gold's build (``build_info``), the as-of date and the rule's parameters. One entry per
    source is kept (``meta`` key ``metric_cache:<name>``); without a store or a build identity
    the value is computed every time.
    """
    import hashlib
    import json
    from dataclasses import asdict

    build = _build_identity(context.con) if context.store is not None else None
    if build is None:
        return compute()
    key = hashlib.sha256(json.dumps([name, build, str(context.day()), rule.params], sort_keys=True,
                                    default=str).encode()).hexdigest()
    meta_key = f"metric_cache:{name}"
    kept = context.store.get_meta(meta_key)
    if kept is not None:
        entry = json.loads(kept)
        if entry.get("key") == key:
            return [Observation(**o) for o in entry["observations"]]
    observations = compute()
    if context.remember:
        with context.store.transaction() as con:
            context.store.set_meta(con, meta_key, json.dumps(
                {"key": key, "observations": [asdict(o) for o in observations]}))
    return observations


def observe(context: MetricContext, rule: "AlertRule") -> list[Observation]:
    """The observations of ``rule``'s metric in ``context``."""
    return get_source(rule.metric)(context, rule)


def _finite(x) -> bool:
    return x is not None and isinstance(x, (int, float)) and math.isfinite(x)


def _kpi_source(context: MetricContext, rule: "AlertRule") -> list[Observation]:
    """A KPI as of the context's date: value, target (or the value ``baseline_days`` earlier)."""
    from quantlib.data.gold import Filters
    from quantlib.kpi import KpiUnavailable, get_kpi, targets_of

    name = rule.metric.removeprefix("kpi:")
    try:
        kpi = get_kpi(name)
    except KeyError as exc:
        raise MetricUnavailable(str(exc.args[0])) from None
    params = dict(rule.params)
    window = params.pop("window", None)
    filters = Filters(**{k: params.pop(k) for k in ("service_line", "region", "technician_id") if k in params})
    if params:
        raise MetricUnavailable(f"kpi:{name} takes window, service_line, region or technician_id, "
                                f"not {', '.join(sorted(params))}")
    day = context.day()
    key = ("kpi", name, window, filters, day)
    try:
        if key not in context.cache:
            context.cache[key] = kpi.compute(context.con, day, window=window, filters=filters)
        value = context.cache[key]
        comparison = rule.comparison
        if comparison.kind == "baseline":
            earlier = day - dt.timedelta(days=comparison.baseline_days)
            reference = kpi.compute(context.con, earlier, window=window, filters=filters)
        else:
            reference = comparison.reference
            if reference is None:
                reference = kpi.target_from(targets_of(context.con))
    except KpiUnavailable as exc:
        raise MetricUnavailable(f"kpi:{name}: {exc}") from None
    subject = ",".join(f"{k}={v}" for k, v in filters.active().items()) or "company"
    return [Observation(subject, float(value), reference if _finite(reference) else None,
                        direction=kpi.direction, unit=kpi.unit)]


@metric_source("customer_churn_risk")
def customer_churn_risk(context: MetricContext, rule: "AlertRule") -> list[Observation]:
    """The churn rule score (0-1) of each active high-value customer (subject: the customer id).

    ``params``: ``high_value_quantile`` (default the churn module's 0.8: the top 20 % by
    spend in the last 365 days), ``high_value_only`` (default true).
    """
    from quantlib.customers.churn import HIGH_VALUE_QUANTILE, high_value_flags
    from quantlib.customers.features import customer_snapshot

    quantile = float(rule.params.get("high_value_quantile", HIGH_VALUE_QUANTILE))
    only_high = bool(rule.params.get("high_value_only", True))
    snap = customer_snapshot(context.con, context.day(), active_only=True)
    if snap.empty:
        raise MetricUnavailable("no active customers")
    keep = high_value_flags(snap, quantile) if only_high else snap["is_active"].astype(bool)
    chosen = snap[keep & snap["churn_score"].notna()]
    return [Observation(f"customer {cid}", float(score), direction="lower", unit="score",
                        detail=f"{value:,.0f} spent in the last 365 days")
            for cid, score, value in zip(chosen["customer_id"], chosen["churn_score"], chosen["monetary_365d"])]


@metric_source("cash_runway_days")
def cash_runway_days(context: MetricContext, rule: "AlertRule") -> list[Observation]:
    """The low point of projected cash over the horizon, in days of projected expenses (subject ``company``).

    The cash-flow forecaster's warning compares projected cash with 30 days of expenses; this is
    that comparison as a number: min over the horizon of the ``quantile`` cash path / the mean
    projected daily outflow. ``params``: ``starting_cash`` (default 250,000, the reports'
    default), ``horizon`` (90), ``n_sims`` (200), ``quantile`` (0.5, the median path; 0.1 is the
    pessimistic one), ``calibration_origins`` (0: no inner backtests, so a check stays quick).
    The value is kept per gold build (:func:`per_build`): checks between two builds reuse it.
    """
    return per_build(context, "cash_runway_days", rule, lambda: _cash_runway(context, rule))


def _cash_runway(context: MetricContext, rule: "AlertRule") -> list[Observation]:
    import numpy as np

    from quantlib.forecast.cashflow import CashFlowSimulator

    p = rule.params
    sim = CashFlowSimulator(horizon=int(p.get("horizon", 90)), starting_cash=float(p.get("starting_cash", 250_000)),
                            n_sims=int(p.get("n_sims", 200)), calibration_origins=int(p.get("calibration_origins", 0)),
                            random_state=int(p.get("random_state", 0)))
    sim.fit(context.con, as_of=context.day())
    daily = sim.forecast()
    quantile = float(p.get("quantile", 0.5))
    column = {0.5: "cash", 0.1: "cash_lo_80", 0.025: "cash_lo_95"}.get(quantile)
    if column is None:
        raise MetricUnavailable("cash_runway_days: quantile must be 0.5, 0.1 or 0.025")
    per_day = float(daily["outflow"].mean())
    if not per_day > 0:
        raise MetricUnavailable("cash_runway_days: no projected expenses")
    low = float(np.min(daily[column]))
    when = daily["ds"].iloc[int(np.argmin(daily[column]))]
    return [Observation("company", low / per_day, direction="higher", unit="days",
                        detail=f"projected cash low point {low:,.0f} on {when:%Y-%m-%d}")]


@metric_source("model_decay")
def model_decay(context: MetricContext, rule: "AlertRule") -> list[Observation]:
    """The monitored models that decayed: one observation per model x quantity x horizon flagged.

    The recorded predictions of the operational store (the context's, else
    :func:`~quantlib.data.opstore.open_ops_store`) whose period ended by the context's date are
    scored against gold (:func:`quantlib.monitor.monitor_predictions`); each latest run that
    :func:`~quantlib.monitor.decay_flags` flags is an observation. Subject
    ``<model>/<quantity>/h<days>`` (``revenue_forecast/revenue/h30``); value the primary metric
    (accuracy, classification accuracy or WAPE); reference the bar it fell past: the spec's
    target ("below target"), else the baseline less the tolerance ("below its own baseline").
    A ``target`` comparison with a zero level fires on every one. ``params``:
    ``baseline_runs`` (3) and ``tolerance`` (0.05), as in ``decay_flags``.
    """
    from quantlib.data.opstore import open_ops_store
    from quantlib.monitor import monitor_predictions
    from quantlib.monitor.scoring import PRIMARY_METRIC

    runs = int(rule.params.get("baseline_runs", 3))
    tolerance = float(rule.params.get("tolerance", 0.05))
    if context.store is None:
        context.store = open_ops_store()
    day = context.day()
    key = ("model_decay", day, runs, tolerance)
    if key not in context.cache:
        context.cache[key] = monitor_predictions(context.con, context.store, day, baseline_runs=runs,
                                                 tolerance=tolerance)
    result = context.cache[key]
    out = []
    for d in result.decayed.itertuples(index=False):
        higher = PRIMARY_METRIC[d.quantity][1]
        if d.reason.startswith("below target"):
            reference = float(d.target)
        else:
            reference = float(d.baseline) * ((1 - tolerance) if higher else (1 + tolerance))
        detail = (f"{d.metric} of the run as of {d.as_of} {d.reason}"
                  + (f" (target {d.target:.3g})" if _finite(d.target) else "")
                  + (f" (baseline {d.baseline:.3g})" if _finite(d.baseline) else ""))
        out.append(Observation(f"{d.model}/{d.quantity}/h{int(d.horizon_days)}", float(d.value), reference,
                               direction="higher" if higher else "lower", unit="ratio", detail=detail))
    return out


def _shift_days(rule: "AlertRule", metric: str) -> int:
    if rule.comparison.kind != "baseline":
        raise MetricUnavailable(f"{metric} compares a window with the same window earlier: "
                                f"use comparison kind 'baseline' (baseline_days: 364 for last year)")
    return rule.comparison.baseline_days


def _market_observations(context: MetricContext, rule: "AlertRule", metric: str, compute) -> list[Observation]:
    from quantlib.kpi.registry import KpiUnavailable

    days = int(rule.params.get("days", 90))
    by = rule.params.get("by", "service_line")
    try:
        return compute(days, by, _shift_days(rule, metric))
    except KpiUnavailable as exc:
        raise MetricUnavailable(f"{metric}: {exc}") from None


def _subject(row, by) -> str:
    columns = [by] if isinstance(by, str) else list(by)
    return ",".join(f"{c}={row[c]}" for c in columns)


@metric_source("demand_change")
def demand_change(context: MetricContext, rule: "AlertRule") -> list[Observation]:
    """Jobs requested in the last ``days`` days by service line, against the same window ``baseline_days`` earlier.

    Value: the recent count; reference: the baseline count (:func:`quantlib.kpi.market.demand_changes`),
    so a ``baseline`` comparison's levels are the relative fall in demand. ``params``: ``days``
    (default 90), ``by`` (default ``service_line``; also ``job_type``, ``region`` or a list),
    ``min_baseline`` (default 20: a service type with fewer baseline jobs is too small to judge).
    """
    from quantlib.kpi.market import demand_changes

    floor = float(rule.params.get("min_baseline", 20))

    def compute(days, by, shift):
        table = demand_changes(context.con, context.day(), days, by=by, shift_days=shift)
        return [Observation(_subject(row, by), float(row["recent"]), float(row["baseline"]), direction="higher",
                            unit="count", detail=f"jobs requested in the last {days} days")
                for _, row in table.iterrows() if row["baseline"] >= floor]

    return _market_observations(context, rule, "demand_change", compute)


@metric_source("pricing_pressure")
def pricing_pressure(context: MetricContext, rule: "AlertRule") -> list[Observation]:
    """Average realised price (revenue per completed job) in the last ``days`` days by service line,
    against the same window ``baseline_days`` earlier (:func:`quantlib.kpi.market.pricing_pressure`).

    A fall is the bad side. ``params``: ``days`` (default 90), ``by`` (default ``service_line``),
    ``min_jobs`` (default 10 completed jobs in each window).
    """
    from quantlib.kpi.market import pricing_pressure as prices

    min_jobs = int(rule.params.get("min_jobs", 10))

    def compute(days, by, shift):
        table = prices(context.con, context.day(), days, by=by, shift_days=shift, min_jobs=min_jobs)
        return [Observation(_subject(row, by), float(row["price"]), float(row["baseline_price"]),
                            direction="higher", unit="currency",
                            detail=f"{int(row['jobs'])} jobs completed in the last {days} days")
                for _, row in table.iterrows()]

    return _market_observations(context, rule, "pricing_pressure", compute)


@metric_source("equipment_health")
def equipment_health_score(context: MetricContext, rule: "AlertRule") -> list[Observation]:
    """Each unit's health, the probability of no failure in the next 30 days (subject: the unit).

    :func:`quantlib.maintenance.health.equipment_health`; ``params``: ``horizon_days`` (30),
    ``min_failures`` (10: fewer failures in the history and the age-only model is used).
    """
    from quantlib.maintenance.health import equipment_health
    from quantlib.maintenance.sensors import SensorDataError

    try:
        fleet = equipment_health(context.con, context.day(), horizon_days=int(rule.params.get("horizon_days", 30)),
                                 min_failures=int(rule.params.get("min_failures", 10)))
    except SensorDataError as exc:
        raise MetricUnavailable(str(exc)) from None
    return [Observation(f"equipment {row.equipment_id}", float(row.health), direction="higher", unit="score",
                        detail=f"{row.name}: P(failure in 30 days) {row.p_fail:.0%}, top signal {row.top_signal}")
            for row in fleet.units.itertuples(index=False)]


_LIVE_STATS = ("mean", "per_hour", "sum")


def _live_values(live, processor: str, metric: str, span: str, stat: str, min_n: int) -> dict[str, tuple[float, int]]:
    frame = live.current(metric, span, processor)
    values = {}
    for row in frame.itertuples(index=False):
        if row.n < min_n:
            continue
        value = row.total / row.n if stat == "mean" else row.total / row.hours if stat == "per_hour" else row.total
        values[row.subject] = (float(value), int(row.n))
    return values


@metric_source("live_window")
def live_window(context: MetricContext, rule: "AlertRule") -> list[Observation]:
    """A stream processor's live windowed metric, per subject, at its watermark (quantlib.stream).

    ``params``: ``processor``, ``metric`` and ``span`` (a window family the processor keeps:
    ``5m``, ``1h``, ``1d``), ``stat`` (``mean`` of the events' values, ``per_hour`` (the sum
    over the elapsed hours of the window) or ``sum``), ``min_n`` (events a window needs before it
    is judged, default 1), and for ``baseline``
    comparisons ``reference_span``: the same statistic over that longer window.
    Unavailable until the processor has applied events.
    """
    from quantlib.stream.live import LiveStore

    params = dict(rule.params)
    try:
        processor, metric, span = params["processor"], params["metric"], params["span"]
    except KeyError as exc:
        raise MetricUnavailable(f"live_window needs params processor, metric and span "
                                f"(missing {exc.args[0]})") from None
    stat = params.get("stat", "mean")
    if stat not in _LIVE_STATS:
        raise MetricUnavailable(f"live_window: stat {stat!r} is not one of {', '.join(_LIVE_STATS)}")
    if context.store is None:
        raise MetricUnavailable("live_window reads the operational store; none given")
    live = LiveStore(context.store)
    if live.watermark(processor) is None:
        raise MetricUnavailable(f"no live data from stream processor {processor!r} yet")
    min_n = int(params.get("min_n", 1))
    values = _live_values(live, processor, metric, span, stat, min_n)
    references = {}
    if params.get("reference_span"):
        references = _live_values(live, processor, metric, params["reference_span"], stat, min_n)
    direction = rule.comparison.direction or "higher"
    return [Observation(subject, value, reference=references.get(subject, (None,))[0], direction=direction,
                        unit=params.get("unit", ""), detail=f"{metric} {stat} over the last {span} ({n} events)")
            for subject, (value, n) in sorted(values.items())]


@metric_source("live_control_chart")
def live_control_chart(context: MetricContext, rule: "AlertRule") -> list[Observation]:
    """Statistical process control on a stream processor's daily totals (quantlib.stream).

    The value is ``|z|`` of the last *closed* window of ``metric`` (``span``, default ``1d``)
    per subject: its total against an exponentially weighted mean and variance (``memory``
    windows, default 28) of the windows before it, once ``warmup`` (14) windows are in; days
    with no events count as zero. Unavailable until the processor has applied events.
    """
    import pandas as pd

    from quantlib.stream.live import LiveStore

    params = dict(rule.params)
    processor, metric = params.get("processor"), params.get("metric")
    if not processor or not metric:
        raise MetricUnavailable("live_control_chart needs params processor and metric")
    span, memory, warmup = params.get("span", "1d"), int(params.get("memory", 28)), int(params.get("warmup", 14))
    if context.store is None:
        raise MetricUnavailable("live_control_chart reads the operational store; none given")
    live = LiveStore(context.store)
    mark = live.watermark(processor)
    if mark is None:
        raise MetricUnavailable(f"no live data from stream processor {processor!r} yet")
    windows = live.windows(metric, span)
    observations = []
    for subject, rows in windows.groupby("subject"):
        ends = pd.to_datetime(rows["window_end"])
        closed = rows[ends <= pd.Timestamp(mark)]
        if len(closed) < warmup + 1:
            continue
        starts = pd.to_datetime(closed["window_start"])
        step = (ends - pd.to_datetime(rows["window_start"])).iloc[0]
        series = pd.Series(closed["total"].to_numpy(), index=starts).sort_index()
        series = series.reindex(pd.date_range(series.index[0], series.index[-1], freq=step), fill_value=0.0)
        history, last = series.iloc[:-1], float(series.iloc[-1])
        mean = history.ewm(span=memory, adjust=False).mean().iloc[-1]
        var = history.ewm(span=memory, adjust=False).var(bias=True).iloc[-1]
        if not (var > 0):
            continue
        z = (last - mean) / math.sqrt(var)
        observations.append(Observation(subject, abs(float(z)), direction="lower", unit="score",
                                        detail=f"{metric} {series.index[-1].date()}: {last:,.0f} against "
                                               f"{mean:,.0f} expected (z {z:+.1f})"))
    return observations
