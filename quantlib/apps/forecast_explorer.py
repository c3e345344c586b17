"""The forecast explorer: demand and revenue forecasts by service line, region, horizon and scenario.

All logic of the Voila app ``notebooks/apps/forecast_explorer.ipynb`` lives here; the
notebook only builds and displays a fitted :class:`ForecastExplorer`.

>>> fx = ForecastExplorer("data/demo/mixed_trades/lake/gold.duckdb").fit()      # doctest: +SKIP
>>> fx.summary(Selection(service_line="hvac", horizon_days=90, scenario="storm_season"))  # doctest: +SKIP
{'jobs': 812.4, 'jobs_baseline': 774.0, ..., 'revenue_likely': 1118840.0, ...}
>>> fx                                       # in a notebook: the widgets  # doctest: +SKIP

The engines are fitted once (:meth:`ForecastExplorer.fit`): the weekly job demand per
service line x region (:class:`~quantlib.forecast.demand.DemandForecaster`, the demand
notebook's model) and the company's revenue (:class:`~quantlib.forecast.revenue.
RevenueModel`). The fit also prepares the first page (everything, 90 days,
baseline). An interaction only sums forecasts already made, or asks the fitted demand
model for one more scenario (a fraction of a second), and draws two SVG charts.

With ``cache_dir`` the fitted engines are pickled there, signed with the installation's
HMAC key (:mod:`quantlib.apps.signed_cache`; an unsigned or tampered file is ignored and
refitted, never unpickled), keyed by the gold file's path and data version (inode, size,
modification time: a rebuild changes it), the as-of date, the settings and the source of the
forecasting modules (:func:`~quantlib.apps.signed_cache.cache_key`): a kernel started later
for the same data loads them instead of refitting (fitting takes tens of seconds; loading well
under one).

Revenue is forecast for the whole company: the revenue engine combines history, the
quote pipeline, the season and the market for the company, and quotes carry no region, so
the service line and region choices and the demand scenarios do not change it. The app
says so next to the revenue figures.
"""

from __future__ import annotations

import html
import logging
import math
import os
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from quantlib.apps.base import WidgetApp, gold_from_parameters
from quantlib.apps.signed_cache import cache_folder, cache_key, load_or_compute
from quantlib.data.gold import connect_gold, gold_file
from quantlib.views.formatting import format_kpi_value

__all__ = ["HORIZONS", "SCENARIOS", "ForecastExplorer", "Selection", "explorer_from_parameters",
           "weeks_for"]

log = logging.getLogger(__name__)

#: Horizons offered, in days (revenue); demand covers the weeks that span them.
HORIZONS = (30, 90, 180)
#: Scenario keys and their labels, in dropdown order.
SCENARIOS = {
    "baseline": "Baseline",
    "storm_season": "Storm season (stormiest on record)",
    "confidence_down": "Consumer confidence down",
    "confidence_up": "Consumer confidence up",
}
#: Chart width in px; the SVG scales down to narrower screens.
CHART_WIDTH = 500
#: Bump when the pickled state changes shape: old cache files are then ignored.
CACHE_VERSION = 2
ALL = "All"
#: Modules whose source is part of the cache key: a changed engine means a refit.
_ENGINE_MODULES = ("quantlib.forecast.base", "quantlib.forecast.models", "quantlib.forecast.selection",
                   "quantlib.forecast.pipeline", "quantlib.forecast.revenue", "quantlib.forecast.demand",
                   "quantlib.forecast.views.report", __name__)


def weeks_for(horizon_days: int) -> int:
    """Weeks of demand forecast that cover ``horizon_days`` days (rounded up)."""
    return int(math.ceil(int(horizon_days) / 7))


@dataclass(frozen=True)
class Selection:
    """What the user chose. ``None`` service line / region means all of them."""

    service_line: str | None = None
    region: str | None = None
    horizon_days: int = 90
    scenario: str = "baseline"


class ForecastExplorer(WidgetApp):
    """Job demand and revenue forecasts with intervals, by slice, horizon and scenario.

    Parameters
    ----------
    gold_path : Path or str
        The gold DuckDB file (read-only; closed again after :meth:`fit`).
    as_of : date-like, optional
        Forecast origin; default the build's as-of date. Nothing later is read.
    horizons : tuple of int
        Horizons offered, in days.
    history_weeks : int
        Weeks of history in the charts.
    confidence_shift : float
        Points of consumer confidence in the confidence scenarios (down and up).
    demand_model : Forecaster, optional
        The demand model; default the demand notebook's
        (:func:`quantlib.forecast.views.report.demand_model`).
    cache_dir : Path or str, optional
        Where to keep fitted engines between kernels (see the module notes).

    Attributes
    ----------
    revenue_ : RevenueModel
    demand_ : DemandForecaster
    series_ : DataFrame
        Weekly job counts per series (``demand_series`` output) up to the origin.
    storms_ : DataFrame
        Daily storm flags per region up to the origin (``region, ds, storm``).
    as_of_ : pandas.Timestamp
    company_ : str
    service_lines_, regions_ : list of str
    from_cache_ : bool
        Whether :meth:`fit` loaded the engines from ``cache_dir``.
    fit_seconds_ : float
    """

    def __init__(self, gold_path, as_of=None, *, horizons=HORIZONS, history_weeks: int = 52,
                 confidence_shift: float = 10.0, demand_model=None, cache_dir=None) -> None:
        self.gold_path = gold_path
        self.as_of = as_of
        self.horizons = horizons
        self.history_weeks = history_weeks
        self.confidence_shift = confidence_shift
        self.demand_model = demand_model
        self.cache_dir = cache_dir
        self._widget = None

    # ------------------------------------------------------------------ fitting

    def _check_params(self) -> None:
        gold_file(self.gold_path)  # raises WarehouseNotFoundError naming the build command
        hs = list(self.horizons)
        if not hs or any(int(h) != h or h < 7 for h in hs):
            raise ValueError(f"horizons must be whole numbers of days, at least 7; got {self.horizons}")
        if int(self.history_weeks) < 1:
            raise ValueError(f"history_weeks must be at least 1; got {self.history_weeks}")

    def cache_key(self) -> str:
        """The cache file's key: gold's data version, as-of, settings and the engines' source
        (:func:`quantlib.apps.signed_cache.cache_key`)."""
        return cache_key(self.gold_path, {
            "version": CACHE_VERSION, "as_of": None if self.as_of is None else str(pd.Timestamp(self.as_of).date()),
            "horizons": sorted(int(h) for h in self.horizons), "model": repr(self.demand_model),
            "history_weeks": int(self.history_weeks), "confidence_shift": float(self.confidence_shift)},
            _ENGINE_MODULES)

    def _cache_path(self) -> Path | None:
        return None if self.cache_dir is None else Path(self.cache_dir) / f"forecast-explorer-{self.cache_key()}.pkl"

    # The default selection's forecasts and charts are kept too: a kernel that loads the
    # cache shows the first page without computing anything.
    _STATE = ("revenue_", "demand_", "series_", "storms_", "as_of_", "company_", "service_lines_", "regions_",
              "_forecasts", "_charts")

    def fit(self) -> "ForecastExplorer":
        """Fit the revenue and demand engines on the warehouse as of :attr:`as_of` (or load them).

        Returns
        -------
        self
        """
        self._check_params()
        t0 = time.perf_counter()
        # Signed with this installation's key and checked before unpickling: a file someone else
        # put in the cache folder is never executed; it is refitted and overwritten.
        state, self.from_cache_ = load_or_compute(self._cache_path(), self._fit_state, what="forecast", logger=log)
        for name in self._STATE:
            setattr(self, name, state[name])
        self.fit_seconds_ = time.perf_counter() - t0
        return self

    def _fit_state(self) -> dict:
        """Fit the engines and prepare the first page; the :attr:`_STATE` attributes, by name."""
        from quantlib.forecast.demand import DemandForecaster, demand_series, external_factors
        from quantlib.forecast.pipeline import warehouse_snapshot
        from quantlib.forecast.revenue import RevenueModel
        from quantlib.forecast.views import report as fv

        self._forecasts: OrderedDict = OrderedDict()
        self._charts: OrderedDict = OrderedDict()
        con = connect_gold(self.gold_path)
        try:
            snap = warehouse_snapshot(con, as_of=self.as_of)
            self.as_of_ = snap.as_of
            row = con.execute("SELECT any_value(company) FROM build_info").fetchone()
            self.company_ = (row[0] if row else None) or ""
            self.revenue_ = RevenueModel(horizons=tuple(sorted(int(h) for h in self.horizons))).fit(snap)
            self.series_ = demand_series(con, freq="W", end=self.as_of_)
            weekly = external_factors(con, "W", as_of=self.as_of_)
            model = self.demand_model if self.demand_model is not None else fv.demand_model()
            self.demand_ = DemandForecaster(model=model).fit(self.series_, weekly)
            daily = external_factors(con, "D", as_of=self.as_of_)
            self.storms_ = daily.loc[daily["ds"] <= self.as_of_, ["region", "ds", "storm"]].reset_index(drop=True)
        finally:
            con.close()
        self.service_lines_ = sorted(self.series_["service_line"].unique())
        self.regions_ = sorted(self.series_["region"].unique())
        self.render(self.default_selection())
        return {name: getattr(self, name) for name in self._STATE}

    def _check_fitted(self) -> None:
        if not hasattr(self, "demand_"):
            raise RuntimeError("ForecastExplorer is not fitted; call fit() first")

    # ------------------------------------------------------------------ numbers

    def default_selection(self) -> Selection:
        """What the app shows first: everything, 90 days (or the shortest horizon), baseline."""
        horizons = sorted(int(h) for h in self.horizons)
        return Selection(horizon_days=90 if 90 in horizons else horizons[0])

    def _check_selection(self, sel: Selection) -> None:
        self._check_fitted()
        if sel.service_line is not None and sel.service_line not in self.service_lines_:
            raise ValueError(f"unknown service line {sel.service_line!r}; known: {self.service_lines_}")
        if sel.region is not None and sel.region not in self.regions_:
            raise ValueError(f"unknown region {sel.region!r}; known: {self.regions_}")
        if int(sel.horizon_days) not in [int(h) for h in self.horizons]:
            raise ValueError(f"horizon_days must be one of {list(self.horizons)}; got {sel.horizon_days}")
        if sel.scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {sel.scenario!r}; known: {list(SCENARIOS)}")

    def forecast_weeks(self, horizon_days: int) -> pd.DatetimeIndex:
        """The forecast weeks (Mondays) of a horizon: the first week after the last full week of data."""
        self._check_fitted()
        start = self.demand_.last_ds_ + pd.Timedelta(weeks=1)
        return pd.date_range(start, periods=weeks_for(horizon_days), freq="7D")

    def storm_season(self, horizon_days: int) -> tuple[pd.Timestamp, dict[str, list[pd.Timestamp]]] | None:
        """The stormiest stretch of history as long as the forecast weeks, replayed over them.

        Every window of that many days in the history is scored by its storm days summed
        over regions; the stormiest (the latest on a tie) is shifted to start on the first
        forecast day, each region keeping its own storm days. Returns ``(the window's first
        day, {region: dates})``, or ``None`` when the history is shorter than the window or
        has no storm at all.
        """
        weeks = self.forecast_weeks(horizon_days)
        days = len(weeks) * 7
        per_day = self.storms_.groupby("ds")["storm"].sum()
        per_day = per_day.reindex(pd.date_range(per_day.index.min(), per_day.index.max()), fill_value=0.0)
        if len(per_day) < days or per_day.sum() <= 0:
            return None
        totals = per_day.rolling(days).sum().dropna()
        end = totals[totals == totals.max()].index[-1]
        first = end - pd.Timedelta(days=days - 1)
        shift = weeks[0] - first
        window = self.storms_[(self.storms_["ds"] >= first) & (self.storms_["ds"] <= end) & (self.storms_["storm"] > 0)]
        dates = {region: sorted(pd.Timestamp(d) + shift for d in g["ds"]) for region, g in window.groupby("region")}
        return first, {r: dates.get(r, []) for r in self.regions_}

    def scenario_inputs(self, scenario: str, horizon_days: int) -> dict | None:
        """The demand engine's scenario mapping (see :meth:`DemandForecaster.future_factors`)."""
        if scenario == "baseline":
            return None
        if scenario == "storm_season":
            season = self.storm_season(horizon_days)
            if season is None:
                raise ValueError("no storm season to replay: the history has no storm, or is shorter than the horizon")
            return {"storm_days": season[1]}
        if scenario == "confidence_down":
            return {"consumer_confidence": -float(self.confidence_shift)}
        if scenario == "confidence_up":
            return {"consumer_confidence": float(self.confidence_shift)}
        raise ValueError(f"unknown scenario {scenario!r}; known: {list(SCENARIOS)}")

    def scenario_description(self, scenario: str, horizon_days: int) -> str:
        """The scenario in words, e.g. ``storms of the stormiest stretch on record, ... (7 storm days ...)``."""
        if scenario == "baseline":
            return "baseline: usual storms for the season, economy at its latest values"
        if scenario == "storm_season":
            season = self.storm_season(horizon_days)
            if season is None:
                return "storm season: not available (no storm in a history as long as the horizon)"
            first, dates = season
            n = sum(len(v) for v in dates.values())
            last = first + pd.Timedelta(weeks=weeks_for(horizon_days)) - pd.Timedelta(days=1)
            return (f"storms of the stormiest stretch on record, {first:%d %b %Y} to {last:%d %b %Y} "
                    f"({n} storm day{'s' if n != 1 else ''} across regions)")
        sign = "-" if scenario == "confidence_down" else "+"
        return f"consumer confidence {sign}{self.confidence_shift:g} points from its latest value"

    def demand_forecast(self, horizon_days: int, scenario: str = "baseline") -> pd.DataFrame:
        """The demand engine's weekly forecast per series (``series_id, ds, yhat, yhat_lo_80, yhat_hi_80``).

        Cached per (horizon, scenario): switching back costs nothing.
        """
        self._check_fitted()
        key = (int(horizon_days), scenario)
        if key not in self._forecasts:
            p = self.demand_.predict(weeks_for(horizon_days), level=(80,),
                                     scenario=self.scenario_inputs(scenario, horizon_days))
            self._forecasts[key] = p
            while len(self._forecasts) > 32:
                self._forecasts.popitem(last=False)
        self._forecasts.move_to_end(key)
        return self._forecasts[key]

    def _series_ids(self, sel: Selection) -> list[str]:
        s = self.series_[["series_id", "service_line", "region"]].drop_duplicates()
        if sel.service_line is not None:
            s = s[s["service_line"] == sel.service_line]
        if sel.region is not None:
            s = s[s["region"] == sel.region]
        return list(s["series_id"])

    def jobs(self, sel: Selection) -> pd.DataFrame:
        """Weekly jobs of the slice: ``week, jobs, lo_80, hi_80, last_year``.

        ``jobs`` sums the series' forecasts; the band sums their 80 % bounds (for one series
        the engine's interval; for several a wide, conservative band of the total);
        ``last_year`` is the same week 52 weeks earlier (NaN before the history).
        """
        self._check_selection(sel)
        ids = self._series_ids(sel)
        p = self.demand_forecast(sel.horizon_days, sel.scenario)
        p = p[p["series_id"].isin(ids)]
        out = p.groupby("ds", as_index=False)[["yhat", "yhat_lo_80", "yhat_hi_80"]].sum()
        out = out.rename(columns={"ds": "week", "yhat": "jobs", "yhat_lo_80": "lo_80", "yhat_hi_80": "hi_80"})
        hist = self.series_[self.series_["series_id"].isin(ids)].groupby("ds")["y"].sum()
        out["last_year"] = hist.reindex(out["week"] - pd.Timedelta(weeks=52)).to_numpy(float)
        return out

    def history(self, sel: Selection) -> pd.DataFrame:
        """Weekly jobs of the slice over the last :attr:`history_weeks` weeks: ``week, jobs``."""
        self._check_selection(sel)
        s = self.series_[self.series_["series_id"].isin(self._series_ids(sel))]
        s = s[s["ds"] > s["ds"].max() - pd.Timedelta(weeks=int(self.history_weeks))]
        return s.groupby("ds", as_index=False)["y"].sum().rename(columns={"ds": "week", "y": "jobs"})

    def revenue(self, horizon_days: int) -> dict:
        """Company revenue over the horizon: ``start, end, worst, likely, best, last_year`` (80 % bounds)."""
        self._check_fitted()
        row = self.revenue_.forecast(level=(80,)).set_index("horizon").loc[int(horizon_days)]
        return {k: (row[k] if k in ("start", "end") else float(row[k]))
                for k in ("start", "end", "worst", "likely", "best", "last_year")}

    def summary(self, sel: Selection) -> dict:
        """The figures the app shows for a selection.

        Returns
        -------
        dict
            ``jobs`` (total over the forecast weeks), ``jobs_baseline``, ``jobs_change`` (vs
            the baseline; 0 for the baseline), ``jobs_last_year``, ``weeks``, ``first_week``,
            and ``revenue_worst / _likely / _best / _last_year``, ``revenue_start / _end``.
        """
        jobs = self.jobs(sel)
        base = jobs if sel.scenario == "baseline" else self.jobs(Selection(sel.service_line, sel.region,
                                                                             sel.horizon_days, "baseline"))
        total, total_base = float(jobs["jobs"].sum()), float(base["jobs"].sum())
        rev = self.revenue(sel.horizon_days)
        return {"jobs": total, "jobs_baseline": total_base,
                "jobs_change": total / total_base - 1 if total_base > 0 else float("nan"),
                "jobs_last_year": float(jobs["last_year"].sum()) if jobs["last_year"].notna().all() else float("nan"),
                "weeks": len(jobs), "first_week": jobs["week"].iloc[0],
                **{f"revenue_{k}": v for k, v in rev.items()}}

    # ------------------------------------------------------------------ rendering

    def _svg(self, chart) -> str:
        import vl_convert as vlc

        from quantlib.views.theme import house_theme

        spec = chart.to_dict()
        spec["config"] = {**house_theme()["config"], **spec.get("config", {})}
        spec["config"]["legend"] = {**house_theme()["config"].get("legend", {}), "orient": "top"}
        return vlc.vegalite_to_svg(spec)

    def jobs_chart_svg(self, sel: Selection) -> str:
        """Weekly jobs of the slice: history, then the forecast with its 80 % band (SVG)."""
        key = ("jobs", sel)
        if key not in self._charts:
            from quantlib.forecast.views.report import interval_chart

            h = self.history(sel).rename(columns={"jobs": "value"}).assign(series="Actual", lo=np.nan, hi=np.nan)
            f = self.jobs(sel).rename(columns={"jobs": "value", "lo_80": "lo", "hi_80": "hi"})
            f = f.assign(series="Forecast")[["week", "value", "lo", "hi", "series"]]
            data = pd.concat([h, f], ignore_index=True)
            self._remember(key, self._svg(interval_chart(data, y_title="Jobs per week", width=CHART_WIDTH,
                                                         height=220)))
        return self._charts[key]

    def revenue_chart_svg(self, horizon_days: int) -> str:
        """Weekly company revenue: history, then the likely forecast with the 80 % band (SVG)."""
        key = ("revenue", int(horizon_days))
        if key not in self._charts:
            from quantlib.forecast.views.report import interval_chart, revenue_path

            data = revenue_path(self.revenue_, int(horizon_days), int(self.history_weeks))
            self._remember(key, self._svg(interval_chart(data, y_title="Revenue per week", y_format="$,.0f",
                                                         width=CHART_WIDTH, height=220)))
        return self._charts[key]

    def _remember(self, key, svg: str) -> None:
        self._charts[key] = svg
        while len(self._charts) > 64:  # bounded: a long session must not grow without limit
            self._charts.popitem(last=False)

    def cards_html(self, sel: Selection, s: dict) -> str:
        """The figures as cards; each value is ``<span class="fe-value" data-value="NAME">``."""
        def card(label, name, value, unit, foot, tooltip=""):
            return (f'<div class="qd-card" title="{html.escape(tooltip or label)}"><div class="qd-label">'
                    f'{html.escape(label)}</div><div class="qd-value"><span class="fe-value" data-value="{name}">'
                    f"{format_kpi_value(value, unit)}</span></div><div class=\"qd-foot\">{foot}</div></div>")

        if sel.scenario == "baseline":
            jobs_foot = (f"same weeks last year {format_kpi_value(s['jobs_last_year'], 'count')}"
                         if math.isfinite(s["jobs_last_year"]) else "&nbsp;")
        else:
            jobs_foot = (f'<span class="fe-change" data-value="jobs_change">{s["jobs_change"]:+.1%}</span> vs '
                         f"baseline {format_kpi_value(s['jobs_baseline'], 'count')}")
        days = int(sel.horizon_days)
        cards = [
            card(f"Jobs, next {s['weeks']} weeks", "jobs", s["jobs"], "count", jobs_foot,
                 "Forecast jobs of the chosen service line and region under the scenario"),
            card(f"Revenue worst case, {days} d", "revenue_worst", s["revenue_worst"], "currency",
                 "10th percentile", "Company revenue: the low end of the 80 % interval"),
            card(f"Revenue likely, {days} d", "revenue_likely", s["revenue_likely"], "currency",
                 f"same days last year {format_kpi_value(s['revenue_last_year'], 'currency')}",
                 "Company revenue: history, pipeline, season and market combined"),
            card(f"Revenue best case, {days} d", "revenue_best", s["revenue_best"], "currency",
                 "90th percentile", "Company revenue: the high end of the 80 % interval"),
        ]
        return "".join(cards)

    def table_html(self, jobs: pd.DataFrame) -> str:
        """The weekly forecast as a table (rows ``tr[data-week=YYYY-MM-DD]``)."""
        head = ("<tr><th>Week of</th><th>Jobs</th><th>80 % low</th><th>80 % high</th>"
                "<th>Same week last year</th></tr>")
        rows = [f'<tr data-week="{r.week:%Y-%m-%d}"><td>{r.week:%d %b %Y}</td>'
                f"<td>{format_kpi_value(r.jobs, 'count')}</td><td>{format_kpi_value(r.lo_80, 'count')}</td>"
                f"<td>{format_kpi_value(r.hi_80, 'count')}</td>"
                f"<td>{format_kpi_value(r.last_year, 'count') if math.isfinite(r.last_year) else '&ndash;'}</td></tr>"
                for r in jobs.itertuples(index=False)]
        return f'<table class="qd-table fe-weeks"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'

    def header_html(self, sel: Selection, s: dict) -> str:
        slice_ = ", ".join(v for v in (sel.service_line, sel.region) if v) or "all service lines and regions"
        company = html.escape(self.company_ or "Forecast explorer")
        return (f'<div class="qd-header"><h1>{company} &middot; forecast explorer</h1>'
                f'<div class="qd-sub">{html.escape(slice_)} &middot; data to {self.as_of_:%d %b %Y} &middot; '
                f"jobs for the {s['weeks']} weeks from {s['first_week']:%d %b %Y}, revenue "
                f"{s['revenue_start']:%d %b} &ndash; {s['revenue_end']:%d %b %Y} &middot; "
                '<span class="fe-scenario-text">'
                f"{html.escape(self.scenario_description(sel.scenario, sel.horizon_days))}"
                f"</span></div></div>")

    def render(self, sel: Selection) -> dict[str, str]:
        """Every part of the page for a selection, as HTML: ``header, cards, jobs_chart, revenue_chart, table``."""
        s = self.summary(sel)
        jobs = self.jobs(sel)
        band = "the engine's 80 % interval" if len(self._series_ids(sel)) == 1 else \
            "the sum of the series' 80 % intervals (a wide band for the total)"
        return {
            "header": self.header_html(sel, s),
            "cards": self.cards_html(sel, s),
            "jobs_chart": (f'<div class="qd-panel"><h2>Jobs per week</h2><div class="fe-note">Band: {band}.</div>'
                           f"{self.jobs_chart_svg(sel)}</div>"),
            "revenue_chart": ('<div class="qd-panel"><h2>Company revenue per week</h2><div class="fe-note">'
                              "Revenue is forecast for the whole company: service line, region and demand "
                              "scenario do not change it. Band: worst to best case.</div>"
                              f"{self.revenue_chart_svg(sel.horizon_days)}</div>"),
            "table": f'<div class="qd-panel"><h2>Weekly jobs forecast</h2>{self.table_html(jobs)}</div>',
        }

    # ------------------------------------------------------------------ widgets

    def _build(self) -> None:
        import ipywidgets as w

        from quantlib.apps.executive_dashboard import CSS

        self._check_fitted()
        style = {"description_width": "initial"}
        self.service_line = w.Dropdown(options=[ALL, *self.service_lines_], value=ALL, description="Service line",
                                       style=style, layout=w.Layout(width="210px"))
        self.region = w.Dropdown(options=[ALL, *self.regions_], value=ALL, description="Region", style=style,
                                 layout=w.Layout(width="190px"))
        horizons = sorted(int(h) for h in self.horizons)
        self.horizon = w.Dropdown(options=[(f"{h} days", h) for h in horizons],
                                  value=self.default_selection().horizon_days, description="Horizon", style=style,
                                  layout=w.Layout(width="170px"))
        self.scenario = w.Dropdown(options=[(label, key) for key, label in SCENARIOS.items()], value="baseline",
                                   description="Scenario", style=style, layout=w.Layout(width="360px"))
        self.status = w.HTML('<div class="qd-status">&nbsp;</div>')
        controls = w.HBox([self.service_line, self.region, self.horizon, self.scenario, self.status],
                          layout=w.Layout(flex_flow="row wrap", align_items="center", padding="6px 0 10px 0"))
        for control, hook in ((self.service_line, "fe-service-line"), (self.region, "fe-region"),
                              (self.horizon, "fe-horizon"), (self.scenario, "fe-scenario")):
            control.add_class(hook)  # stable DOM hooks for browser tests
            control.layout.margin = "2px 14px 2px 0"
            control.observe(lambda _change: self.refresh(), names="value")
        self.header, self.cards = w.HTML(), w.HTML()
        self.jobs_chart, self.revenue_chart, self.table = w.HTML(), w.HTML(), w.HTML()
        css = CSS.replace("</style>", ".fe-cards { display: grid; grid-template-columns: repeat(auto-fit, "
                          "minmax(190px, 1fr)); gap: 10px; } .fe-note { font-size: 12px; color: #7a828a; "
                          "margin-bottom: 4px; } table.qd-table.fe-weeks td:nth-child(2), table.qd-table.fe-weeks "
                          "th:nth-child(2) { text-align: right; }</style>")
        charts = w.HBox([self.jobs_chart, self.revenue_chart], layout=w.Layout(flex_flow="row wrap"))
        for chart in charts.children:
            chart.layout.margin = "0 10px 10px 0"
        self._widget = w.VBox([w.HTML(css), self.header, controls, self.cards,
                               w.HTML('<div style="height:8px"></div>'), charts, self.table],
                              layout=w.Layout(padding="8px 16px", max_width="1500px"))
        self._widget.add_class("qd-root")
        # A kernel that loaded the first page from the cache has not yet validated an Altair
        # chart or started the SVG renderer; doing both now, while Voila preheats, spares the
        # visitor's first change that start-up time.
        from quantlib.forecast.views.report import interval_chart

        self._svg(interval_chart(pd.DataFrame({"week": [self.as_of_], "value": [0.0], "lo": [0.0], "hi": [0.0],
                                               "series": ["warm-up"]})))

    def current_selection(self) -> Selection:
        """What the widgets show."""
        def pick(widget):
            return None if widget.value == ALL else widget.value
        return Selection(pick(self.service_line), pick(self.region), int(self.horizon.value), self.scenario.value)

    def refresh(self) -> None:
        """Recompute the figures, charts and table for the widgets' selection."""
        if self._widget is None:
            self._build()
        t0 = time.perf_counter()
        try:
            # Everything is computed before any widget changes: never new cards next to an old chart.
            parts = self.render(self.current_selection())
        except ValueError as problem:
            self.status.value = f'<div class="qd-status error">{html.escape(str(problem))}</div>'
            return
        except Exception as problem:  # never a stack trace in front of a manager; the log has it
            log.exception("forecast explorer update failed")
            self.status.value = (f'<div class="qd-status error">Could not update: '
                                 f"{html.escape(type(problem).__name__)}</div>")
            return
        self.header.value = parts["header"]
        self.cards.value = f'<div class="fe-cards">{parts["cards"]}</div>'
        self.jobs_chart.value, self.revenue_chart.value = parts["jobs_chart"], parts["revenue_chart"]
        self.table.value = parts["table"]
        self.last_update_seconds = time.perf_counter() - t0
        self.status.value = (f'<div class="qd-status" data-updated="{self.last_update_seconds:.3f}">'
                             f"Updated in {self.last_update_seconds * 1000:.0f} ms</div>")


def default_cache_dir(environ: dict | None = None) -> Path:
    """``$QUANT_FORECAST_CACHE``, else ``.cache/forecast_explorer`` under the project root."""
    return cache_folder("QUANT_FORECAST_CACHE", "forecast_explorer", environ)


def explorer_from_parameters(company: str = "mixed_trades", lake: str | None = None, as_of=None,
                             environ: dict | None = None) -> ForecastExplorer:
    """The fitted explorer of the app notebook's parameters, with environment overrides.

    As for the executive dashboard (:func:`quantlib.apps.executive_dashboard.dashboard_from_parameters`),
    ``QUANT_COMPANY``, ``QUANT_LAKE`` and ``QUANT_AS_OF`` (set by ``quant apps``) win over the
    notebook's defaults, validated by :class:`~quantlib.parameters.NotebookParameters`.
    Fitted engines are cached in :func:`default_cache_dir`.

    Raises
    ------
    quantlib.parameters.ParameterError
        Unknown company or a malformed date, in one line.
    FileNotFoundError
        The lake has no gold database yet.
    """
    env = os.environ if environ is None else environ
    params, gold = gold_from_parameters(company, lake, as_of, env)
    return ForecastExplorer(gold, as_of=params.as_of, cache_dir=default_cache_dir(env)).fit()
