"""Forecast views: the tables and charts the forecast notebooks show.

Each function returns a plain DataFrame (numbers, not strings) or an Altair chart, so the
notebooks (``notebooks/*_forecast.ipynb``) stay thin and the numbers can be tested. The tables
declare how their columns print (:func:`quantlib.views.table_view`), so a notebook shows them
with ``report_table(view(...), caption=...)``.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from quantlib.forecast.cashflow import CashFlowSimulator, actual_cash, backtest_cashflow, first_warning_date
from quantlib.forecast.demand import DemandForecaster
from quantlib.forecast.metrics import accuracy, coverage, wape
from quantlib.forecast.pipeline import Snapshot, warehouse_snapshot
from quantlib.forecast.revenue import RevenueModel, backtest_revenue
from quantlib.views.formatting import markdown_money as _md
from quantlib.views.tables import table_view, with_formats

__all__ = [
    "cash_outlook", "cash_outlook_table", "cash_outlook_text", "cash_position", "cash_scenarios", "cash_totals",
    "cash_windows", "cashflow_accuracy", "cashflow_path", "demand_accuracy", "demand_model", "demand_path",
    "demand_scenarios", "forecast_horizons", "interval_chart", "revenue_accuracy", "revenue_horizons",
    "revenue_outlook", "revenue_outlook_text", "revenue_path", "revenue_scenario_table", "snapshot",
    "storm_dates", "weekly", "weekly_rate",
]


def snapshot(report) -> Snapshot:
    """The warehouse as known at the report's date (nothing later is read)."""
    return warehouse_snapshot(report.con, as_of=report.as_of)


def weekly(df: pd.DataFrame, columns, ds: str = "ds") -> pd.DataFrame:
    """Sums of ``columns`` per week starting Monday (``week`` is the Monday)."""
    d = pd.to_datetime(df[ds])
    week = (d - pd.to_timedelta(d.dt.day_of_week, unit="D")).dt.normalize()
    return df.assign(week=week).groupby("week", as_index=False)[list(columns)].sum()


def weekly_rate(df: pd.DataFrame, columns, ds: str = "ds") -> pd.DataFrame:
    """Per week starting Monday: 7 x the daily mean of ``columns`` over the days present.

    Equal to the weekly sum for a full week; a week cut by the start or end of the data
    (or by the forecast origin) shows its rate instead of a misleading dip.
    """
    d = pd.to_datetime(df[ds])
    week = (d - pd.to_timedelta(d.dt.day_of_week, unit="D")).dt.normalize()
    out = df.assign(week=week).groupby("week", as_index=False)[list(columns)].mean()
    out[list(columns)] *= 7
    return out


def forecast_horizons(horizon_days: int) -> tuple[int, ...]:
    """The product horizons (30, 90, 365) up to ``horizon_days``, and ``horizon_days`` itself."""
    return tuple(sorted({h for h in (30, 90, 365) if h < horizon_days} | {int(horizon_days)}))


def interval_chart(df: pd.DataFrame, *, x: str = "week", y: str = "value", series: str = "series",
                   lo: str = "lo", hi: str = "hi", title: str = "", y_title: str = "",
                   y_format: str | None = None, rule: float | None = None, rule_label: str = "",
                   width: int = 520, height: int = 220) -> alt.LayerChart:
    """Lines of ``y`` per ``series`` with a shaded ``lo``-``hi`` band where both are present.

    ``rule`` draws a dashed horizontal line (e.g. a cash threshold).
    """
    axis = alt.Axis(format=y_format) if y_format else alt.Undefined
    base = alt.Chart(df, title=title)
    band = base.transform_filter(f"isValid(datum.{lo})").mark_area(opacity=0.25).encode(
        x=alt.X(f"{x}:T", title=""), y=alt.Y(f"{lo}:Q", title=y_title, axis=axis), y2=f"{hi}:Q")
    lines = base.mark_line().encode(x=alt.X(f"{x}:T", title=""), y=alt.Y(f"{y}:Q", title=y_title, axis=axis),
                                    color=alt.Color(f"{series}:N", title=None))
    layers = [band, lines]
    if rule is not None:
        layers.append(alt.Chart(pd.DataFrame({"rule": [rule], "label": [rule_label]})).mark_rule(
            strokeDash=[6, 4], color="#888888").encode(y="rule:Q", tooltip="label:N"))
    return alt.layer(*layers).properties(width=width, height=height)


# ---------------------------------------------------------------------------- revenue
def revenue_path(fc: RevenueModel, horizon_days: int, history_weeks: int = 52) -> pd.DataFrame:
    """Weekly revenue: actual history, then the likely forecast with the 80 % scenario band.

    Weeks cut by the forecast origin or the horizon's end show their weekly rate
    (:func:`weekly_rate`), not a partial sum. The band of each week is the likely week
    scaled by the horizon's worst / best ratio (the scenario paths), so it shows the range
    of the horizon total, spread over its weeks. Returns ``week, series, value, lo, hi``.
    """
    hist = fc.history_[["ds", "total"]]
    hist = hist[hist["ds"] > fc.as_of_ - pd.Timedelta(weeks=history_weeks)]
    h = weekly_rate(hist, ["total"]).rename(columns={"total": "value"}).assign(series="Actual", lo=np.nan, hi=np.nan)
    path = fc.predict_daily(horizon_days)
    f = weekly_rate(path, ["likely"]).rename(columns={"likely": "value"})
    H = min(H for H in fc.parts_ if H >= horizon_days)
    row = fc.forecast(level=(80,)).set_index("horizon").loc[H]
    f = f.assign(series="Likely", lo=f["value"] * row["worst"] / row["likely"],
                 hi=f["value"] * row["best"] / row["likely"])
    return pd.concat([h, f], ignore_index=True)[["week", "series", "value", "lo", "hi"]]


@table_view(formats={"horizon": "int", "start": "date", "end": "date", "worst": "money", "likely": "money",
                     "best": "money", "lo_95": "money", "hi_95": "money", "last_year": "money"},
            labels={"horizon": "Days", "lo_95": "95 % low", "hi_95": "95 % high", "last_year": "Same days last year"})
def revenue_horizons(fc: RevenueModel) -> pd.DataFrame:
    """Revenue per fitted horizon: dates, worst / likely / best (the 80 % interval), the 95 % bounds, last year."""
    return fc.forecast(level=(80, 95))[["horizon", "start", "end", "worst", "likely", "best", "lo_95", "hi_95",
                                        "last_year"]]


@table_view(formats={"horizon": "int", "origins": "int", "accuracy": "pct", "wape": "pct", "coverage_80": "pct",
                    "baseline_accuracy": "pct", "baseline_wape": "pct", "target_accuracy": "pct"},
            labels={"horizon": "Days", "wape": "WAPE", "coverage_80": "80 % coverage",
                    "baseline_wape": "Baseline WAPE"})
def revenue_accuracy(snap: Snapshot, horizons, n_origins: int = 2, step_days: int = 30) -> pd.DataFrame:
    """Backtest summary per horizon: accuracy, WAPE, 80 % coverage, the seasonal-naive baseline, target."""
    _, summary = backtest_revenue(snap, horizons=horizons, n_origins=n_origins, step_days=step_days)
    return summary


# ---------------------------------------------------------------------------- cash flow
def cashflow_path(snap: Snapshot, fc: CashFlowSimulator, history_weeks: int = 26) -> pd.DataFrame:
    """Weekly inflows and outflows: actual history then the forecast (``week, flow, kind, amount``)."""
    act = actual_cash(snap).reset_index()
    act = act[act["ds"] > snap.as_of - pd.Timedelta(weeks=history_weeks)]
    a = weekly(act, ["inflow", "outflow"]).assign(kind="actual")
    f = weekly(fc.forecast(), ["inflow", "outflow"]).assign(kind="forecast")
    long = pd.concat([a, f], ignore_index=True).melt(id_vars=["week", "kind"], var_name="flow", value_name="amount")
    long["flow"] = long["flow"].str.capitalize() + " (" + long["kind"] + ")"
    return long[["week", "flow", "kind", "amount"]]


def cash_position(fc: CashFlowSimulator) -> pd.DataFrame:
    """Daily projected cash (median) with the 80 % band: ``ds, series, value, lo, hi``."""
    d = fc.forecast()
    return pd.DataFrame({"ds": d["ds"], "series": "Cash (median)", "value": d["cash"],
                         "lo": d["cash_lo_80"], "hi": d["cash_hi_80"]})


def cash_windows(horizon_days: int) -> tuple[int, ...]:
    """The 30-day windows (30, 60 … 180) within ``horizon_days``: the cash notebook's totals and backtest."""
    return tuple(w for w in (30, 60, 90, 120, 150, 180) if w <= horizon_days)


@table_view(formats={"window": "int", "inflow": "money", "inflow_lo_80": "money", "inflow_hi_80": "money",
                     "outflow": "money", "net": "money", "cash_end": "money", "target_accuracy": "pct"},
            labels={"window": "Days", "inflow_lo_80": "Inflow 80 % low", "inflow_hi_80": "Inflow 80 % high"})
def cash_totals(fc: CashFlowSimulator, windows=None) -> pd.DataFrame:
    """Inflow (with its 80 % interval), outflow, net and end cash over the first days of the forecast.

    ``windows`` defaults to :func:`cash_windows` of the forecaster's horizon.
    """
    return fc.totals(cash_windows(fc.horizon) if windows is None else windows)


@table_view(formats={"cash_end": "money", "low_point": "money", "low_date": "date", "threshold": "money",
                    "warning_date": "date"})
def cash_scenarios(fc: CashFlowSimulator) -> pd.DataFrame:
    """Per cash path (optimistic, median, pessimistic): the low point, its date and the warning date.

    The warning date is the first day that path's cash falls below the threshold
    (``warning_days`` of projected expenses); missing when it never does.
    """
    d = fc.forecast()
    rows = []
    for name, col in (("best (90th percentile)", "cash_hi_80"), ("likely (median)", "cash"),
                      ("worst (10th percentile)", "cash_lo_80")):
        i = int(d[col].idxmin())
        rows.append({"scenario": name, "cash_end": float(d[col].iloc[-1]), "low_point": float(d[col].iloc[i]),
                     "low_date": d["ds"].iloc[i], "threshold": fc.threshold_,
                     "warning_date": first_warning_date(d["ds"], d[col].to_numpy(), fc.threshold_)})
    return pd.DataFrame(rows)


def cashflow_accuracy(snap: Snapshot, horizon_days: int = 90, n_origins: int = 3, n_sims: int = 200) -> pd.DataFrame:
    """Backtest summary per 30-day window up to ``horizon_days``: inflow / outflow accuracy, coverage, target."""
    _, summary = backtest_cashflow(snap, windows=cash_windows(horizon_days), n_origins=n_origins,
                                   simulator=CashFlowSimulator(horizon=horizon_days, n_sims=n_sims))
    return with_formats(summary, {c: ("int" if c in ("window", "origins") else "pct") for c in summary.columns},
                        {"window": "Days", "inflow_wape": "Inflow WAPE", "outflow_wape": "Outflow WAPE",
                         "inflow_coverage_80": "Inflow 80 % coverage", "baseline_inflow_wape": "Baseline inflow WAPE"})


# ---------------------------------------------------------------------------- demand
def demand_model(h_weeks: int | None = None):
    """The notebooks' demand model: non-seasonal AutoARIMA with yearly Fourier terms, kept short."""
    from quantlib.forecast.models import AutoARIMA

    return AutoARIMA(seasonal=False, maxiter=10, n_jobs=2)


def demand_path(series: pd.DataFrame, forecast: pd.DataFrame, history_weeks: int = 52) -> pd.DataFrame:
    """Total weekly jobs: history, then the forecast with the 80 % band.

    The band adds up the series' bounds, so it is a conservative (wide) band of the total.
    Returns ``week, series, value, lo, hi``.
    """
    s = series[series["ds"] > series["ds"].max() - pd.Timedelta(weeks=history_weeks)]
    h = s.groupby("ds", as_index=False)["y"].sum().rename(columns={"ds": "week", "y": "value"})
    h = h.assign(series="Actual", lo=np.nan, hi=np.nan)
    f = forecast.groupby("ds", as_index=False)[["yhat", "yhat_lo_80", "yhat_hi_80"]].sum()
    f = (f.rename(columns={"ds": "week", "yhat": "value", "yhat_lo_80": "lo", "yhat_hi_80": "hi"})
         .assign(series="Forecast"))
    return pd.concat([h, f], ignore_index=True)[["week", "series", "value", "lo", "hi"]]


def demand_by_service_line(forecast: pd.DataFrame) -> pd.DataFrame:
    """Forecast jobs summed over regions: ``ds, service_line, yhat`` (series ids are ``line/region``)."""
    by_line = forecast.assign(service_line=forecast["series_id"].str.split("/").str[0])
    return by_line.groupby(["ds", "service_line"], as_index=False)["yhat"].sum()


@table_view(formats={"origin": "date", "weeks": "int", "forecast": "int", "actual": "int", "accuracy": "pct",
                    "wape": "pct", "coverage_80": "pct", "baseline_accuracy": "pct"},
            labels={"wape": "WAPE", "coverage_80": "80 % coverage"})
def demand_accuracy(series: pd.DataFrame, factors: pd.DataFrame, h: int, n_origins: int = 2,
                    step_weeks: int = 4, model=None) -> pd.DataFrame:
    """Rolling-origin backtest of :class:`DemandForecaster` on the last weeks of ``series``.

    Origin ``k`` fits on the data up to ``h + k * step_weeks`` weeks before the end and
    forecasts ``h`` weeks. Per origin: jobs forecast and actual (all series), the spec's
    accuracy of the total, WAPE over series x weeks, 80 % coverage, and the same accuracy
    for a seasonal-naive baseline (the same weeks 52 weeks earlier).
    """
    s = series.assign(ds=pd.to_datetime(series["ds"]))
    last = s["ds"].max()
    y = s.set_index(["series_id", "ds"])["y"]
    rows = []
    for k in range(n_origins):
        cutoff = last - pd.Timedelta(weeks=h + k * step_weeks)
        fc = DemandForecaster(model=model or demand_model(), cutoff=cutoff).fit(s, factors)
        p = fc.predict(h, level=(80,))
        a = y.reindex(pd.MultiIndex.from_frame(p[["series_id", "ds"]])).to_numpy(float)
        base = y.reindex(pd.MultiIndex.from_arrays([p["series_id"], p["ds"] - pd.Timedelta(weeks=52)])).to_numpy(float)
        ok = np.isfinite(a)
        rows.append({"origin": cutoff, "weeks": h, "forecast": float(p["yhat"][ok].sum()), "actual": float(a[ok].sum()),
                     "accuracy": accuracy(a[ok], p["yhat"].to_numpy()[ok]),
                     "wape": wape(a[ok], p["yhat"].to_numpy()[ok]),
                     "coverage_80": coverage(a[ok], p["yhat_lo_80"].to_numpy()[ok], p["yhat_hi_80"].to_numpy()[ok]),
                     "baseline_accuracy": accuracy(a[ok & np.isfinite(base)], base[ok & np.isfinite(base)])})
    return pd.DataFrame(rows)


def storm_dates(start, weeks: int, n: int) -> list[pd.Timestamp]:
    """``n`` storm days spread evenly over ``weeks`` weeks from ``start`` (a scenario's storms)."""
    if n <= 0:
        return []
    days = pd.date_range(pd.Timestamp(start), periods=weeks * 7, freq="D")
    return list(days[np.linspace(0, len(days) - 1, n + 2)[1:-1].round().astype(int)])


def demand_scenarios(fc: DemandForecaster, h: int, storm_days: int = 3,
                     confidence_shift: float = -10.0) -> pd.DataFrame:
    """Jobs over the next ``h`` weeks per service line under the baseline and two scenarios.

    ``storm``: exactly ``storm_days`` storms in every region, spread over the horizon;
    ``confidence``: consumer confidence shifted by ``confidence_shift`` points.
    Returns ``service_line`` and one column per scenario, plus the changes against the baseline.
    """
    start = fc.last_ds_ + pd.Timedelta(weeks=1)
    runs = {"baseline": None,
            "storm": {"storm_days": storm_dates(start, h, storm_days)},
            "confidence": {"consumer_confidence": confidence_shift}}
    out = None
    for name, scenario in runs.items():
        p = fc.predict(h, level=(80,), scenario=scenario)
        tot = p.assign(service_line=p["series_id"].str.split("/").str[0]).groupby("service_line")["yhat"].sum()
        out = tot.rename(name).to_frame() if out is None else out.join(tot.rename(name))
    total = out.sum().rename("all").to_frame().T
    out = pd.concat([out, total]).rename_axis("service_line").reset_index()
    out["storm_change"] = out["storm"] / out["baseline"] - 1
    out["confidence_change"] = out["confidence"] / out["baseline"] - 1
    return with_formats(out, {"baseline": "int", "storm": "int", "confidence": "int", "storm_change": "change",
                              "confidence_change": "change"},
                        {"storm": f"{storm_days} storm days", "confidence": f"Confidence {confidence_shift:+g}"})


# ---------------------------------------------------------------------------- monthly review
def revenue_outlook(snap: Snapshot, horizon_days: int = 30) -> RevenueModel:
    """The revenue forecaster of the monthly review: fitted for the next ``horizon_days`` only."""
    return RevenueModel(horizons=(int(horizon_days),)).fit(snap)


@table_view(formats={"revenue": "money", "last_year": "money", "change_vs_last_year": "change"},
            labels={"last_year": "Same days last year"})
def revenue_scenario_table(fc: RevenueModel, horizon_days: int | None = None) -> pd.DataFrame:
    """Worst, likely and best revenue over one horizon, against the same days a year earlier.

    Worst and best are the bounds of the 80 % interval (the 10th and 90th percentiles).
    Returns ``scenario, revenue, last_year, change_vs_last_year`` (numbers; the change is
    NaN when there is no revenue a year earlier). ``horizon_days`` defaults to the
    shortest fitted horizon.
    """
    f = fc.forecast(level=(80,)).set_index("horizon")
    row = f.loc[min(f.index) if horizon_days is None else int(horizon_days)]
    last = float(row["last_year"])
    rows = [(name, float(row[col])) for name, col in
            (("Worst case (10th percentile)", "worst"), ("Likely", "likely"), ("Best case (90th percentile)", "best"))]
    out = pd.DataFrame(rows, columns=["scenario", "revenue"])
    out["last_year"] = last
    out["change_vs_last_year"] = out["revenue"] / last - 1 if last > 0 else np.nan
    return out


def revenue_outlook_text(fc: RevenueModel, horizon_days: int | None = None) -> str:
    """One sentence (Markdown) on the projection: period, likely revenue, 80 % and 95 % ranges."""
    f = fc.forecast(level=(80, 95)).set_index("horizon")
    H = min(f.index) if horizon_days is None else int(horizon_days)
    r = f.loc[H]
    # Money through markdown_money: bare dollar signs would pair up into a formula.
    return (f"Likely revenue of completed jobs over the next {H} days ({r['start']:%d %B} to "
            f"{r['end']:%d %B %Y}): **{_md(r['likely'])}**, with an 80 % range of {_md(r['worst'])} "
            f"to {_md(r['best'])} and a 95 % range of {_md(r['lo_95'])} to {_md(r['hi_95'])}. "
            f"The same days last year brought {_md(r['last_year'])}.")


def cash_outlook(snap: Snapshot, starting_cash: float, horizon_days: int = 90) -> CashFlowSimulator:
    """The cash-flow forecaster of the monthly review, fitted from ``starting_cash`` at the snapshot date."""
    return CashFlowSimulator(horizon=int(horizon_days), starting_cash=float(starting_cash)).fit(snap)


@table_view(formats={"window": "int", "inflow": "money", "outflow": "money", "net": "money", "cash_end": "money"},
            labels={"window": "Next days", "inflow": "Cash in", "outflow": "Cash out", "cash_end": "Cash at the end"})
def cash_outlook_table(fc: CashFlowSimulator, windows=(30, 60, 90)) -> pd.DataFrame:
    """The monthly review's cash-flow table: cash in, out, net and at the end over the next ``windows`` days."""
    return fc.totals(windows)[["window", "inflow", "outflow", "net", "cash_end"]]


def cash_outlook_text(fc: CashFlowSimulator) -> str:
    """The low-cash warning in words (Markdown): the first day the median projected cash
    falls below ``warning_days`` of expenses, or that it does not, with the low point;
    the same for the pessimistic (10th percentile) path; and the starting cash.
    """
    d = fc.forecast()
    days = len(d)
    threshold = _md(fc.threshold_)
    i = int(d["cash"].idxmin())
    low = f"{_md(d['cash'].iloc[i])} on {d['ds'].iloc[i]:%d %B %Y}"
    if fc.warning_date_ is not None:
        text = (f"**Low-cash warning: projected cash falls below {fc.warning_days} days of expenses "
                f"({threshold}) on {fc.warning_date_:%d %B %Y}.** Its low point in the next {days} days "
                f"is {low}.")
    else:
        text = (f"No low-cash warning: projected cash stays above {fc.warning_days} days of expenses "
                f"({threshold}) for the next {days} days; its low point is {low}.")
    pessimistic = first_warning_date(d["ds"], d["cash_lo_80"].to_numpy(), fc.threshold_)
    if pessimistic is not None and fc.warning_date_ is None:
        text += f" In the pessimistic case (10th percentile) it falls below on {pessimistic:%d %B %Y}."
    elif pessimistic is None:
        text += " Even the pessimistic case (10th percentile) stays above it."
    return text + f" The projection starts from {_md(fc.starting_cash)} of cash at the end of {fc.as_of_:%d %B %Y}."
