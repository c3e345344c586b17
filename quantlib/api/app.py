"""The read API's routes (FastAPI): KPIs, marts, forecasts, report runs, alerts.

====================  ==================================================================
``GET /kpis``         every KPI: ``name, label, value, unit, target, status, alert,
                      direction, note, as_of`` (``as_of``, ``service_line``, ``region``,
                      ``technician_id`` as in ``quant kpi``)
``GET /kpis/{name}``  one KPI, same fields and filters, plus its ``definition``
``GET /marts``        the marts of the build: name, rows
``GET /marts/{name}`` a page of a mart: ``limit`` (default 100, at most 10,000), ``offset``,
                      and ``column=value`` for any of its columns (equality)
``GET /forecasts/{kind}``  the latest recorded run of ``revenue``, ``demand`` or
                      ``cashflow`` forecasts (``quantity``, ``subject`` filters)
``GET /plans/maintenance``  work orders and their proposed slots (``status``: open, closed, all)
``GET /runs``         the scheduled report runs, newest first (``job``, ``company``, ``limit``)
``GET /alerts``       alerts, worst first (``state``: open (default), resolved or all;
                      ``level``)
``GET /annotations``  comments on dashboards, charts, points and reports (``target``:
                      the start of a target; ``state``: open (default) or all)
``GET /charts``       the saved charts the token may see; ``/charts/{name}``: spec and data
``GET /health``       liveness and the data version (no token needed)
====================  ==================================================================

Every route but ``/health`` and ``/openapi.json`` takes ``Authorization: Bearer TOKEN`` when
the API has a token (``quant api`` refuses to listen off loopback without one): the shared token
(``QUANT_API_TOKEN``, everything) or a member's (``parameters/teams.yaml``: their teams' scopes,
403 outside them, and the saved charts shared with them). Bad requests
(an unknown KPI or mart, a malformed date, a filter on a column that does not exist) get a
4xx with a message naming the parameter, never a 500. Answers read from gold are cached per
(query, data version) (:class:`~quantlib.api.sources.GoldSource`); the ``X-Cache`` header says
``hit`` or ``miss``. The interactive docs pages are off: FastAPI's load their scripts from a
CDN, and nothing Quant serves may reach the network; ``/openapi.json`` describes every route.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import secrets
import threading
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, SecretStr

from quantlib.api.sources import GoldSource, WarehouseMissing
from quantlib.identity import Directory

__all__ = ["FORECAST_MODELS", "MAX_LIMIT", "ApiSettings", "create_app"]

#: ``/forecasts/{kind}``: the model name each forecast's report records its predictions under.
FORECAST_MODELS = {"revenue": "revenue_forecast", "demand": "demand_forecast", "cashflow": "cashflow_forecast"}
#: The largest page of a mart.
MAX_LIMIT = 10_000
#: Month ends (the build date's month first) whose KPI summaries are computed ahead of requests.
WARM_MONTHS = 12
#: KPI summaries computed at once (the others wait): on-the-fly summaries at past dates are the
#: heavy requests (DuckDB already uses every core for one); cheap answers are not held up.
KPI_SLOTS = 1
_PAGING = {"limit", "offset"}


class ApiSettings(BaseModel):
    """Where the API reads, and its token.

    Attributes
    ----------
    gold : Path or str
        The gold DuckDB file, or its object storage URL (``s3://bucket/lake/gold.duckdb``), read
        through a local copy fetched by this process (:class:`~quantlib.api.sources.GoldSource`).
    reports : Path, optional
        The reports folder whose ``.history.sqlite`` holds the run history (``/runs``), unless
        ``QUANT_OPS_DSN`` names the PostgreSQL database that holds it.
    ops_store : Path, optional
        The operational store (SQLite file) for ``/forecasts`` and ``/alerts``; default the
        environment's (``QUANT_OPS_DSN``, ``QUANT_OPS_DB``, ``reports/.ops.sqlite``).
    token : SecretStr, optional
        The bearer token every request must carry; none: no authentication (loopback only).
    directory : Directory, optional
        Members, teams, token hashes and scopes (``parameters/teams.yaml``): a member's token
        is accepted too, limited to their teams' scopes and the charts shared with them.
    dashboards : Path, optional
        Where saved charts are (default ``parameters/dashboards``).
    annotations : Path, optional
        The comments database (default ``reports/.annotations.sqlite`` of ``reports``).
    warm_days : int
        After the build date and the month ends, the warm-up computes the KPI summary of each
        of the last ``warm_days`` days (newest first; 0: none), so a dashboard asking for any
        recent date gets a cached answer.
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    gold: Path | str
    reports: Path | None = None
    ops_store: Path | None = None
    token: SecretStr | None = None
    warm_days: int = 365
    annotations: Path | None = None
    directory: Directory | None = None
    dashboards: Path | None = None


def _date(value: str | None, name: str = "as_of") -> dt.date | None:
    if value is None or value == "":
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise HTTPException(400, f"{name}: {value!r} is not a date (YYYY-MM-DD)") from None


def _jsonable(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Records with NaN as null and dates as ISO strings (pandas' JSON writer does both)."""
    return json.loads(frame.to_json(orient="records", date_format="iso", date_unit="s"))


def _number(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _month_ends(day: dt.date, months: int) -> list[dt.date]:
    """The last ``months`` month ends on or before ``day``, newest first."""
    ends = pd.date_range(end=pd.Timestamp(day), periods=months, freq="ME")
    return [d.date() for d in reversed(ends)]


def create_app(settings: ApiSettings, source: GoldSource | None = None, warm: bool = True) -> FastAPI:
    """The API over ``settings.gold`` (and the run history and operational store).

    Parameters
    ----------
    settings : ApiSettings
    source : GoldSource, optional
        Shared with the caller (tests read its cache hits); default a new one on ``settings.gold``.
    warm : bool
        Compute the KPI summaries at the build date, the last :data:`WARM_MONTHS` month ends and
        the last ``settings.warm_days`` days in the background at start and after each rebuild
        (unless ``source`` has its own warm-up).
    """
    from contextlib import asynccontextmanager

    from quantlib import __version__

    gold = source or GoldSource(settings.gold)
    kpi_slots = threading.BoundedSemaphore(KPI_SLOTS)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        try:
            gold.cursor()[0].close()  # opens gold: starts the warm-up
        except WarehouseMissing:
            pass  # every request says so (503) until the warehouse is built
        yield
        if source is None:  # ours: stop its warm-up and close gold
            gold.close()

    app = FastAPI(title="Quant read API", version=__version__, docs_url=None, redoc_url=None, lifespan=lifespan,
                  description="KPIs, marts, forecasts, report runs and alerts of one company's warehouse.")
    app.state.gold = gold

    directory = settings.directory or Directory()

    def authorised(request: Request) -> str | None:
        """The member the request's token belongs to; None for the shared token or an open API."""
        if settings.token is None and not directory.token_hashes:
            return None
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        given = given.strip()
        if scheme.lower() == "bearer" and given:
            if settings.token is not None and secrets.compare_digest(
                    given.encode(), settings.token.get_secret_value().encode()):
                return None
            member = directory.member_for(given)
            if member is not None:
                return member
        raise HTTPException(401, "a valid 'Authorization: Bearer TOKEN' header is required",
                            headers={"WWW-Authenticate": "Bearer"})

    def scope(name: str):
        """A dependency: the member may read ``name`` (their teams' scopes); the shared token may read all."""
        def check(member: str | None = Depends(authorised)) -> str | None:
            if member is not None and name not in directory.scopes_of(member):
                raise HTTPException(403, f"{member} may not read {name}: their teams' scopes are "
                                         f"{', '.join(sorted(directory.scopes_of(member))) or 'none'}")
            return member
        return check

    @app.exception_handler(WarehouseMissing)
    async def _no_warehouse(_request: Request, problem: WarehouseMissing) -> JSONResponse:
        return JSONResponse({"detail": str(problem)}, status_code=503)

    def answer(response: Response, key: tuple, compute) -> Any:
        value, hit = gold.cached(key, compute)
        response.headers["X-Cache"] = "hit" if hit else "miss"
        return value

    def filters(service_line: str | None, region: str | None, technician_id: str | None):
        from quantlib.kpi import Filters

        return Filters(service_line=service_line or None, region=region or None, technician_id=technician_id or None)

    def kpi_rows(con, as_of: dt.date | None, chosen, names: list[str] | None) -> list[dict]:
        from quantlib.kpi import kpi_summary

        with kpi_slots:
            summary = kpi_summary(con, as_of, filters=chosen, names=names)
        return [{"name": r.kpi, "label": r.label, "value": _number(r.value), "unit": r.unit,
                 "target": _number(r.target), "status": r.status, "alert": bool(r.alert), "direction": r.direction,
                 "note": r.note, "as_of": str(r.as_of)} for r in summary.itertuples(index=False)]

    def warm_up(source: GoldSource) -> None:
        from quantlib.data.gold import gold_as_of
        from quantlib.kpi import Filters

        everything = Filters()
        source.cached(("kpis", None, everything), lambda con: kpi_rows(con, None, everything, None))
        cursor, version = source.cursor()
        try:
            built = gold_as_of(cursor)
        finally:
            cursor.close()
        days = _month_ends(built, WARM_MONTHS)
        days += [built - dt.timedelta(days=n) for n in range(1, settings.warm_days + 1)]
        for day in dict.fromkeys(days):
            if source.stopping.is_set() or source.version() != version:
                return  # shutting down, or rebuilt meanwhile (the new version's warm-up has started)
            source.cached(("kpis", day, everything), lambda con, day=day: kpi_rows(con, day, everything, None))

    if warm and gold.warm is None:
        gold.warm = warm_up

    @app.get("/health")
    def health() -> dict:
        """Liveness, the data version answers are cached under, and whether the warm-up is done."""
        return {"status": "ok", "data_version": gold.version(), "warm": gold.warmed.is_set()}

    @app.get("/kpis", dependencies=[Depends(scope("kpis"))])
    def kpis(response: Response, as_of: str | None = Query(None, description="YYYY-MM-DD; default the build date"),
             service_line: str | None = None, region: str | None = None,
             technician_id: str | None = None) -> list[dict]:
        """Every KPI as of a date, with its target and status (as ``quant kpi`` prints them)."""
        day, chosen = _date(as_of), filters(service_line, region, technician_id)
        return answer(response, ("kpis", day, chosen), lambda con: kpi_rows(con, day, chosen, None))

    @app.get("/kpis/{name}", dependencies=[Depends(scope("kpis"))])
    def one_kpi(name: str, response: Response, as_of: str | None = None, service_line: str | None = None,
                region: str | None = None, technician_id: str | None = None) -> dict:
        """One KPI as of a date, with its definition."""
        from quantlib.kpi import REGISTRY

        if name not in REGISTRY:
            raise HTTPException(404, f"unknown KPI {name!r}; known: {', '.join(sorted(REGISTRY))}")
        day, chosen = _date(as_of), filters(service_line, region, technician_id)
        row = answer(response, ("kpi", name, day, chosen), lambda con: kpi_rows(con, day, chosen, [name])[0])
        return {**row, "definition": REGISTRY[name].definition}

    def mart_names(con) -> dict[str, int]:
        rows = con.execute("SELECT table_name, row_count FROM build_info WHERE kind = 'mart' "
                           "ORDER BY table_name").fetchall()
        return {name: int(n) for name, n in rows}

    @app.get("/marts", dependencies=[Depends(scope("marts"))])
    def marts(response: Response) -> list[dict]:
        """The marts of this build and their row counts."""
        names = answer(response, ("marts",), mart_names)
        return [{"name": name, "rows": n} for name, n in names.items()]

    @app.get("/marts/{name}", dependencies=[Depends(scope("marts"))])
    def mart(name: str, request: Request, response: Response,
             limit: int = Query(100, ge=1, le=MAX_LIMIT), offset: int = Query(0, ge=0)) -> dict:
        """A page of a mart, filtered by ``column=value`` on any of its columns."""
        known, _ = gold.cached(("marts",), mart_names)
        if name not in known:
            raise HTTPException(404, f"unknown mart {name!r}; marts: {', '.join(known)}")
        wanted = tuple(sorted((k, v) for k, v in request.query_params.multi_items() if k not in _PAGING))

        def page(con) -> dict:
            columns = {row[0]: row[1] for row in con.execute(f"DESCRIBE {_quote(name)}").fetchall()}
            unknown = sorted({k for k, _ in wanted} - set(columns))
            if unknown:
                raise HTTPException(400, f"mart {name!r} has no column(s) {', '.join(unknown)}; "
                                         f"columns: {', '.join(columns)}")
            where = " AND ".join(f"{_quote(k)} = CAST(? AS {columns[k]})" for k, _ in wanted) or "TRUE"
            values = [v for _, v in wanted]
            try:
                total = con.execute(f"SELECT count(*) FROM {_quote(name)} WHERE {where}", values).fetchone()[0]
                rows = con.execute(f"SELECT * FROM {_quote(name)} WHERE {where} ORDER BY ALL LIMIT ? OFFSET ?",
                                   [*values, limit, offset]).df()
            except duckdb.ConversionException as problem:
                raise HTTPException(400, f"a filter value does not fit its column: {problem}") from None
            return {"mart": name, "total": int(total), "limit": limit, "offset": offset,
                    "columns": [{"name": c, "type": t} for c, t in columns.items()], "rows": _jsonable(rows)}

        return answer(response, ("mart", name, wanted, limit, offset), page)

    def ops_store():
        from quantlib.data.opstore import open_ops_store

        return open_ops_store(settings.ops_store)

    @app.get("/forecasts/{kind}", dependencies=[Depends(scope("forecasts"))])
    def forecasts(kind: str, quantity: str | None = None, subject: str | None = None) -> dict:
        """The latest recorded run of a forecast (the scheduled report records it)."""
        if kind not in FORECAST_MODELS:
            raise HTTPException(404, f"unknown forecast {kind!r}; known: {', '.join(FORECAST_MODELS)}")
        run = ops_store().latest_prediction_run(FORECAST_MODELS[kind], quantity)
        if run.empty:
            raise HTTPException(404, f"no {kind} forecast recorded yet: the scheduled {FORECAST_MODELS[kind]} "
                                     "report records one")
        first = run.loc[run["id"].idxmax()]
        latest = first["run_id"]
        if subject is not None:
            run = run[run["subject"] == subject]
        columns = ["quantity", "subject", "target_start", "target_end", "value", "lo_80", "hi_80"]
        return {"kind": kind, "model": FORECAST_MODELS[kind], "run_id": latest, "as_of": str(first["as_of"]),
                "recorded_at": str(first["recorded_at"]),
                "rows": _jsonable(run[columns].assign(target_start=run["target_start"].astype(str),
                                                      target_end=run["target_end"].astype(str)))}

    @app.get("/plans/maintenance", dependencies=[Depends(scope("forecasts"))])
    def maintenance_plan(status: str = Query("open", pattern="^(open|closed|all)$")) -> list[dict]:
        """Maintenance work orders (``quant maintenance plan``) with the slot proposed for each, by health."""
        sql = ("SELECT id, equipment_id, status, opened_on, health, reason, window_start, window_end, skill, "
               "estimated_hours, planned_date, planned_technician, planned_arrival, planned_drive_minutes, "
               "planned_note, closed_on, close_reason FROM work_orders")
        args: list = []
        if status != "all":
            sql += " WHERE status = ?"
            args.append(status)
        with ops_store().reading() as con:
            cursor = con.execute(sql + " ORDER BY health, id", args)
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, tuple(row))) for row in cursor.fetchall()]

    @app.get("/runs", dependencies=[Depends(scope("runs"))])
    def runs(job: str | None = None, company: str | None = None, limit: int = Query(100, ge=1, le=1000)) -> list:
        """The scheduled report runs, newest first (errors as the history keeps them: secrets redacted)."""
        from quantlib.schedule.history import open_run_history

        history = open_run_history(reports=settings.reports or Path("reports"), create=False)
        if history is None:
            return []
        keep = ("run_id", "job", "company", "scheduled_for", "started", "finished", "attempt", "error", "outputs")
        return [{**{k: getattr(r, k) for k in keep}, "status": r.status.value, "lost": r.lost}
                for r in history.runs(job=job, company=company, limit=limit)]

    @app.get("/annotations", dependencies=[Depends(scope("annotations"))])
    def annotations(target: str | None = Query(None, description="dashboard:NAME, chart:DASHBOARD/CHART, "
                                                                  "report:NAME, or the start of one"),
                    state: str = Query("open", pattern="^(open|all)$")) -> list[dict]:
        """Comments and annotations, oldest first: on targets starting with ``target`` (default all)."""
        from quantlib.data.annotations import AnnotationStore

        store = AnnotationStore(settings.annotations) if settings.annotations else AnnotationStore(
            (settings.reports or Path("reports")) / ".annotations.sqlite")
        frame = store.frame(target, prefix=True, include_resolved=state == "all") if target else \
            store.frame(include_resolved=state == "all")
        return _jsonable(frame)

    def visible_charts(member: str | None):
        from quantlib.viz.saved import list_charts

        # The shared token (member None) is one-person use: every chart.
        return list_charts(member, directory.teams, settings.dashboards)

    @app.get("/charts")
    def charts(member: str | None = Depends(scope("charts"))) -> list[dict]:
        """The saved charts this token may see: name, owner, team, title, source, chart type."""
        return [{"name": c.name, "owner": c.owner, "team": c.team, "viewers": c.viewers, "title": c.spec.title,
                 "source": c.spec.source, "chart": c.spec.chart} for c in visible_charts(member)]

    @app.get("/charts/{name}")
    def chart(name: str, response: Response, member: str | None = Depends(scope("charts"))) -> dict:
        """A saved chart: its spec and its data (queried on gold, cached per data version)."""
        from quantlib.viz.builder import query
        from quantlib.viz.saved import SharingError, load_chart

        try:
            saved = load_chart(name, member, directory.teams, settings.dashboards)
        except FileNotFoundError:
            raise HTTPException(404, f"no saved chart {name!r}") from None
        except SharingError as problem:
            raise HTTPException(403, str(problem)) from None
        except ValueError as problem:
            raise HTTPException(400, f"chart {name!r}: {problem}") from None
        rows = answer(response, ("chart", saved.spec.model_dump_json()), lambda con: _jsonable(query(con, saved.spec)))
        return {"name": saved.name, "owner": saved.owner, "team": saved.team,
                "spec": saved.spec.model_dump(mode="json"), "rows": rows}

    @app.get("/alerts", dependencies=[Depends(scope("alerts"))])
    def alerts(state: str = Query("open", pattern="^(open|resolved|all)$"), level: str | None = None,
               limit: int = Query(500, ge=1, le=10_000)) -> list[dict]:
        """Alerts, worst level first, newest first."""
        sql = ("SELECT id, rule, subject, category, level, state, value, reference, threshold, message, "
               "first_seen, last_seen, count, acknowledged_at, resolved_at FROM alerts WHERE 1 = 1")
        args: list = []
        if state == "open":
            sql += " AND state <> 'resolved'"
        elif state == "resolved":
            sql += " AND state = 'resolved'"
        if level is not None:
            sql += " AND level = ?"
            args.append(level)
        sql += (" ORDER BY CASE level WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END, last_seen DESC, id DESC "
                f"LIMIT {int(limit)}")
        with ops_store().reading() as con:
            cursor = con.execute(sql, args)
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, tuple(row))) for row in cursor.fetchall()]

    return app
