"""The churn explorer (``notebooks/apps/churn_explorer.ipynb``): filter the scored customers by
segment, band and value, read a customer's reasons, export the outreach list as CSV or Excel.

The numbers come from :mod:`quantlib.customers.views.churn` (:func:`score_customers` and the
views of a :class:`ChurnRun`); this module only lays them out as widgets.

Scoring fits the learned churn model and the k-means segments (seconds), so the scoring run of
the warehouse alone, :func:`warehouse_run`, is kept in a signed cache (:mod:`quantlib.apps.signed_cache`,
``.cache/churn_explorer/`` or ``$QUANT_CHURN_CACHE``) keyed by gold's data version, the as-of date,
the scorer, the churn horizon and the engines' source: ``quant prepare-apps`` fills it, and a kernel
started later for the same warehouse loads it. The stream's live feed is not in it: it changes
between visits, so each kernel applies it on top (:func:`with_live_feed`), scoring again only the
customers the feed touched.
"""

from __future__ import annotations

import dataclasses
import html
import logging
import time
from pathlib import Path

import pandas as pd

from quantlib.apps.base import WidgetApp, download_link, gold_from_parameters
from quantlib.apps.signed_cache import cache_folder, cache_key, load_or_compute
from quantlib.customers.churn import HIGH_VALUE_QUANTILE, churn_alerts
from quantlib.customers.features import with_recent_interactions
from quantlib.customers.views.churn import (
    ChurnExplorerParameters,
    ChurnRun,
    ScorerName,
    customer_reasons,
    outreach_list,
    outreach_order,
    score_customers,
    to_excel_bytes,
)
from quantlib.data.gold import gold_as_of, gold_file, open_gold
from quantlib.kpi.formulas import CHURN_RISK_THRESHOLD
from quantlib.views.export import to_csv_text

__all__ = ["ChurnExplorer", "default_cache_dir", "explorer_from_parameters", "run_cache_path", "stream_feed",
           "warehouse_run", "with_live_feed"]

log = logging.getLogger(__name__)

#: Bump when the cached run changes shape: old cache files are then not asked for.
CACHE_VERSION = 1
#: Modules and packages whose source is part of the cache key: a changed engine means a refit.
_ENGINE_MODULES = ("quantlib.customers", "quantlib.kpi.churn_rule", "quantlib.kpi.formulas", __name__)
#: The columns of a scorer's ``score_frame``.
_SCORE_COLUMNS = ["score", "band", "intervention", "reasons"]

ALL = "All"
CSS = """
<style>
.ce-root { font-family: Liberation Sans, Helvetica, Arial, sans-serif; color: #333; }
.ce-root h1 { font-size: 22px; font-weight: 600; margin: 4px 0 2px 0; }
.ce-sub { font-size: 13px; color: #666; }
table.ce-table { border-collapse: collapse; width: 100%; font-size: 12.5px; }
table.ce-table th { text-align: left; color: #5c6670; border-bottom: 2px solid #e2e5e9; padding: 4px 8px; }
table.ce-table td { padding: 4px 8px; border-bottom: 1px solid #eef0f2; vertical-align: top; }
table.ce-table td.num { text-align: right; white-space: nowrap; }
.ce-band-high { color: #a8352e; font-weight: 600; } .ce-band-medium { color: #9a6b12; } .ce-band-low { color: #2d6e45; }
.ce-panel { background: #fff; border: 1px solid #e2e5e9; border-radius: 6px; padding: 10px 12px; margin-top: 8px; }
.ce-panel h2 { font-size: 15px; font-weight: 600; margin: 0 0 6px 0; }
.ce-status { font-size: 12px; color: #7a828a; }
.ce-links a { margin-right: 16px; font-size: 13px; }
</style>
"""


class ChurnExplorer(WidgetApp):
    """The churn explorer: filter by segment, band, value; a customer's reasons; CSV / Excel export.

    Parameters
    ----------
    run : ChurnRun
        From :func:`score_customers`.
    max_rows : int
        Rows shown in the table (the export holds every filtered row).
    company : str
        Shown as the title.

    Attributes
    ----------
    from_cache_ : bool
        Whether the warehouse's scoring run was loaded from the cache (set by
        :func:`explorer_from_parameters`; False for a run given directly).
    fit_seconds_ : float or None
        Wall time of scoring (or loading) and applying the live feed, in
        :func:`explorer_from_parameters`.

    Notes
    -----
    Display the object in a notebook (or Voila). :meth:`current_list` is the filtered list
    the export links hold; the links are ``data:`` URIs, so nothing is written on the server.
    """

    from_cache_ = False
    fit_seconds_ = None

    def __init__(self, run: ChurnRun, max_rows: int = 50, company: str = ""):
        self.run = run
        self.max_rows = max_rows
        self.company = company
        self._widget = None

    def current_list(self) -> pd.DataFrame:
        """The outreach list for the widgets' filters."""
        def pick(w):
            return None if w.value == ALL else w.value

        return outreach_list(self.run, segment=pick(self.segment), band=pick(self.band),
                             min_value=float(self.min_value.value or 0.0), customer_type=pick(self.customer_type),
                             region=pick(self.region))

    def _build(self) -> None:
        import ipywidgets as w

        scored = self.run.scored
        style = {"description_width": "initial"}

        def dropdown(label, values, hook, width="220px"):
            box = w.Dropdown(options=[ALL, *sorted(map(str, pd.unique(values)))], value=ALL, description=label,
                             style=style, layout=w.Layout(width=width, margin="2px 14px 2px 0"))
            box.add_class(hook)
            box.observe(self._on_change, names="value")
            return box

        self.segment = dropdown("Segment", scored["segment"], "ce-segment", "260px")
        self.band = w.Dropdown(options=[ALL, "high", "medium", "low"], value=ALL, description="Risk band",
                               style=style, layout=w.Layout(width="190px", margin="2px 14px 2px 0"))
        self.band.add_class("ce-band")
        self.band.observe(self._on_change, names="value")
        self.customer_type = dropdown("Customer type", scored["customer_type"], "ce-type")
        self.region = dropdown("Region", scored["region"], "ce-region", "200px")
        self.min_value = w.BoundedFloatText(value=0.0, min=0.0, max=1e12, step=100.0, description="Min. spend (365 d)",
                                            style=style, layout=w.Layout(width="230px", margin="2px 14px 2px 0"))
        self.min_value.add_class("ce-min-value")
        self.min_value.observe(self._on_change, names="value")
        self.customer = w.Dropdown(options=[], description="Customer", style=style,
                                   layout=w.Layout(width="420px", margin="2px 14px 2px 0"))
        self.customer.add_class("ce-customer")
        self.customer.observe(self._on_customer, names="value")
        self.header = w.HTML(self._header_html())
        self.status = w.HTML('<div class="ce-status">&nbsp;</div>')
        self.links = w.HTML()
        self.table = w.HTML()
        self.reasons = w.HTML()
        filters = w.HBox([self.segment, self.band, self.customer_type, self.region, self.min_value],
                         layout=w.Layout(flex_flow="row wrap", align_items="center"))
        self._widget = w.VBox([w.HTML(CSS), self.header, filters, w.HBox([self.links, self.status]),
                               self.table, self.customer, self.reasons],
                              layout=w.Layout(padding="8px 16px", max_width="1500px"))
        self._widget.add_class("ce-root")

    def _header_html(self) -> str:
        run = self.run
        n = len(run.scored)
        high = int((run.scored["band"] == "high").sum())
        model = ("calibrated gradient boosting, churn = no activity in the next "
                 f"{run.report.get('horizon_days', 180)} days" if run.scorer == "learned"
                 else "the spec's rule score")
        extra = (f" &middot; test AUC {run.report['test_auc']:.2f}" if run.report.get("test_auc") else "")
        if run.live_until is not None:
            n_live = run.live_customers
            extra += (f'<br><span class="ce-live">Live: contacts and complaints from the stream up to '
                      f'{run.live_until:%d %b %Y %H:%M} ({n_live:,} customer{"" if n_live == 1 else "s"} in touch '
                      "since the warehouse build)</span>")
        title = html.escape(self.company or "Churn risk")
        return (f'<h1>{title}</h1><div class="ce-sub">Active customers as of {run.as_of:%d %b %Y}: '
                f'{n:,}, {high:,} at high risk, {len(run.alerts):,} churn alerts (high-value above '
                f'{CHURN_RISK_THRESHOLD:.0%}) &middot; {html.escape(model)}{extra}</div>')

    def _on_change(self, _change=None) -> None:
        self.refresh()

    def refresh(self) -> None:
        """Recompute the list, the table, the export links and the customer choices."""
        started = time.perf_counter()
        try:
            frame = self.current_list()
            self.table.value = self._table_html(frame)
            self.links.value = self._links_html(frame)
            options = [(f"{r.customer_id} · {r.name} · {r.score:.0%}", r.customer_id)
                       for r in frame.head(self.max_rows).itertuples(index=False)]
            self.customer.options = options
            self.customer.value = options[0][1] if options else None
            self._on_customer()
        except Exception as problem:  # never a stack trace in front of a manager; the log has it
            log.exception("churn explorer update failed")
            self.status.value = f'<div class="ce-status">Could not update: {html.escape(type(problem).__name__)}</div>'
            return
        seconds = time.perf_counter() - started
        self.status.value = (f'<div class="ce-status" data-rows="{len(frame)}">{len(frame):,} customers '
                             f'&middot; updated in {seconds * 1000:.0f} ms</div>')

    def _on_customer(self, _change=None) -> None:
        cid = self.customer.value
        if not cid:
            self.reasons.value = '<div class="ce-panel ce-reasons"><h2>Risk reasons</h2>No customer selected.</div>'
            return
        row = self.run.scored.set_index("customer_id").loc[cid]
        items = "".join(f'<li data-factor="{html.escape(r.factor)}">{html.escape(r.reason)}</li>'
                        for r in customer_reasons(self.run, cid).itertuples(index=False))
        body = f"<ol>{items}</ol>" if items else "<p>No factor raises this customer's risk.</p>"
        self.reasons.value = (
            f'<div class="ce-panel ce-reasons" data-customer="{html.escape(cid)}"><h2>Risk reasons: '
            f'{html.escape(str(row["name"]))} ({html.escape(cid)})</h2>'
            f'<div>Score {row["score"]:.0%} &middot; {html.escape(row["band"])} risk &middot; '
            f'{html.escape(row["intervention"])} &middot; spend in the last year ${row["value_365d"]:,.0f}</div>'
            f"{body}</div>")

    def _table_html(self, frame: pd.DataFrame) -> str:
        if frame.empty:
            return '<div class="ce-panel">No customer matches these filters.</div>'
        rows = []
        for r in frame.head(self.max_rows).itertuples(index=False):
            rows.append(
                f'<tr data-customer="{html.escape(r.customer_id)}"><td>{html.escape(r.customer_id)}</td>'
                f"<td>{html.escape(str(r.name))}</td><td>{html.escape(str(r.segment))}</td>"
                f'<td class="num">${r.value_365d:,.0f}</td><td class="num">{r.score:.0%}</td>'
                f'<td class="ce-band-{r.band}">{r.band}</td><td>{html.escape(r.intervention)}</td>'
                f"<td>{html.escape(r.reasons)}</td></tr>")
        more = (f'<div class="ce-status">Showing {self.max_rows} of {len(frame):,}; the export holds all.</div>'
                if len(frame) > self.max_rows else "")
        return ('<div class="ce-panel"><table class="ce-table"><thead><tr><th>Customer</th><th>Name</th>'
                "<th>Segment</th><th>Spend 365 d</th><th>Score</th><th>Band</th><th>Intervention</th>"
                f'<th>Top reasons</th></tr></thead><tbody>{"".join(rows)}</tbody></table>{more}</div>')

    def _links_html(self, frame: pd.DataFrame) -> str:
        # Both exports neutralise formulas (a customer named "=HYPERLINK(...)" stays text).
        stem = f"churn_outreach_{self.run.as_of:%Y%m%d}"
        return ('<div class="ce-links">'
                + download_link(f"{stem}.csv", to_csv_text(frame).encode(), f"Export CSV ({len(frame):,} rows)",
                                "ce-export-csv")
                + download_link(f"{stem}.xlsx", to_excel_bytes(frame), "Export Excel", "ce-export-xlsx")
                + "</div>")


def stream_feed(day, environ=None) -> tuple[pd.DataFrame | None, pd.Timestamp | None]:
    """The customers' contacts the stream's ``behaviour`` processor saw after ``day`` (the warehouse's date).

    ``(None, None)`` when it has not run past ``day`` (no stream, or a replay of days the
    warehouse already holds) or the operational store cannot be opened (logged; the scores
    then come from the warehouse alone).
    """
    import os

    from quantlib.data.opstore import OpsStoreError, open_ops_store
    from quantlib.stream.views import recent_interactions

    try:
        store = open_ops_store(env={**os.environ, **(environ or {})})
        frame, until = recent_interactions(store)
    except OpsStoreError as problem:
        log.error("churn explorer without the live feed: %s", problem)
        return None, None
    if until is None or until.date() <= pd.Timestamp(day).date():
        return None, None
    return frame, until


def default_cache_dir(environ: dict | None = None) -> Path:
    """``$QUANT_CHURN_CACHE``, else ``.cache/churn_explorer`` under the project root."""
    return cache_folder("QUANT_CHURN_CACHE", "churn_explorer", environ)


def warehouse_run(source, as_of=None, scorer: ScorerName = "learned", horizon_days: int = 180,
                  cache_dir: Path | str | None = None) -> tuple[ChurnRun, bool]:
    """``score_customers(source, as_of, scorer=scorer, horizon_days=horizon_days)``, the warehouse
    alone (no live feed), and whether it came from ``cache_dir``.

    The file is keyed by gold's path and data version (a rebuild is a new key), ``as_of``,
    ``scorer``, ``horizon_days`` and the source of the churn engines
    (:func:`~quantlib.apps.signed_cache.cache_key`); it is signed, and an unsigned, tampered or
    unreadable one is scored again and overwritten. Without ``cache_dir`` nothing is cached.

    Raises
    ------
    WarehouseNotFoundError
        No gold warehouse at ``source``.
    """
    gold = gold_file(source)
    path = None if cache_dir is None else run_cache_path(gold, as_of, scorer, horizon_days, cache_dir)
    return load_or_compute(path, lambda: score_customers(gold, as_of, scorer=scorer, horizon_days=horizon_days),
                           what="churn", logger=log)


def run_cache_path(source, as_of=None, scorer: ScorerName = "learned", horizon_days: int = 180,
                   cache_dir: Path | str | None = None) -> Path:
    """The file :func:`warehouse_run` keeps the run of these parameters in (default folder:
    :func:`default_cache_dir`)."""
    key = cache_key(gold_file(source), {"version": CACHE_VERSION, "scorer": scorer, "horizon_days": int(horizon_days),
                                        "as_of": None if as_of is None else str(pd.Timestamp(as_of).date())},
                    _ENGINE_MODULES)
    return Path(default_cache_dir() if cache_dir is None else cache_dir) / f"churn-explorer-{key}.pkl"


def with_live_feed(run: ChurnRun, interactions: pd.DataFrame, until=None) -> ChurnRun:
    """The run :func:`score_customers` gives with ``live_interactions=interactions, live_until=until``,
    from the run it gave without them (``run``, e.g. :func:`warehouse_run`'s).

    The model is fitted on the warehouse alone either way, and the feed changes only the contact
    features of the customers it names (:func:`~quantlib.customers.features.with_recent_interactions`);
    both scorers score and explain each customer from that customer's row alone. So only the
    customers the feed touched are scored again; everyone else keeps the warehouse run's score and
    reasons, and the list is ordered (:func:`~quantlib.customers.views.churn.outreach_order`) and the
    alerts drawn as :func:`score_customers` does (``tests/apps/test_churn_explorer.py`` checks the two
    give the same run).
    """
    snap = with_recent_interactions(run.snapshot, interactions)
    ids = snap["customer_id"]
    touched = ((snap["live_contacts"] > 0) | (snap["live_complaints"] > 0)).to_numpy()
    by_id = run.scored.set_index("customer_id")
    # The warehouse run's scores, in the snapshot's order (what the scorer's score_frame gives).
    scores = by_id.loc[ids, _SCORE_COLUMNS].reset_index()
    explained = run.explained
    if touched.any():
        fresh = run.model.score_frame(snap[touched])
        for column in _SCORE_COLUMNS:
            scores.loc[touched, column] = fresh[column].to_numpy()
        again = set(ids[touched])
        explained = pd.concat([explained[~explained["customer_id"].isin(again)], run.model.explain(snap[touched])],
                              ignore_index=True)
        # By snapshot row, each customer's factors in the scorer's order (stable: kept as given).
        row = pd.Series(range(len(ids)), index=ids.to_numpy())
        explained = explained.iloc[row.loc[explained["customer_id"]].to_numpy().argsort(kind="stable")]
        explained = explained.reset_index(drop=True)
    static = by_id.drop(columns=_SCORE_COLUMNS).loc[ids].reset_index()
    scored = static.merge(scores, on="customer_id")
    scored = outreach_order(scored)
    alerts = churn_alerts(scores, snap, quantile=HIGH_VALUE_QUANTILE)
    live = pd.Timestamp(until) if until is not None else None
    return dataclasses.replace(run, snapshot=snap, scored=scored, explained=explained, alerts=alerts, live_until=live)


def explorer_from_parameters(company: str = "mixed_trades", lake: str | None = None, as_of=None,
                             scorer: ScorerName = "learned", horizon_days: int = 180, live: bool = True,
                             environ: dict | None = None) -> ChurnExplorer:
    """The app of the notebook's parameters; ``QUANT_COMPANY`` / ``QUANT_LAKE`` / ``QUANT_AS_OF`` win.

    The warehouse's scoring run comes from the cache in :func:`default_cache_dir` when
    ``quant prepare-apps`` (or an earlier kernel) made it for this warehouse and these parameters
    (:func:`warehouse_run`; ``from_cache_`` says which). With ``live`` (and no ``as_of``: a past
    date is history, not now), the customers' contacts and complaints the stream has seen since
    the warehouse build (:func:`stream_feed`, from the operational store of ``QUANT_OPS_DSN`` /
    ``QUANT_OPS_DB``) are then applied on top (:func:`with_live_feed`), at every kernel start:
    the feed is never cached.

    Raises
    ------
    quantlib.parameters.ParameterError
        Unknown company, malformed date or scorer, in one line.
    FileNotFoundError
        The lake has no gold database yet.
    """
    started = time.perf_counter()
    params, gold = gold_from_parameters(company, lake, as_of, environ, model=ChurnExplorerParameters,
                                        scorer=scorer, horizon_days=horizon_days, live=live)
    with open_gold(gold) as con:
        day = gold_as_of(con)
        row = con.execute("SELECT any_value(company) FROM build_info").fetchone()
    run, from_cache = warehouse_run(gold, params.as_of, params.scorer, params.horizon_days,
                                    cache_dir=default_cache_dir(environ))
    if params.live and params.as_of is None:
        feed, until = stream_feed(day, environ)
        if feed is not None:
            run = with_live_feed(run, feed, until)
    app = ChurnExplorer(run, company=(row[0] if row else None) or params.company)
    app.from_cache_, app.fit_seconds_ = from_cache, time.perf_counter() - started
    return app
