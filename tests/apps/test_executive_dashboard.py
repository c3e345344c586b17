"""The executive dashboard's numbers and widgets, without a browser.

Every expected number is computed here independently: revenue by a plain SQL query on the
jobs (``status = 'completed'``, by the completion timestamp), the other KPIs by the KPI
registry called with a window length (the dashboard passes a start date).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import socket

import duckdb
import pytest

from quantlib.apps.executive_dashboard import CARDS, ExecutiveDashboard, dashboard_from_parameters
from quantlib.kpi import Filters, get_kpi, monthly_revenue_target
from quantlib.views.formatting import format_kpi_value

REGISTRY_CARDS = [c.name for c in CARDS if c.name != "revenue"]


@pytest.fixture(scope="module")
def gold(demo_lake):
    return demo_lake.gold


@pytest.fixture(scope="module")
def con(gold):
    con = duckdb.connect(str(gold), read_only=True)
    yield con
    con.close()


@pytest.fixture(scope="module")
def dash(gold):
    dash = ExecutiveDashboard(gold, debounce=0)
    yield dash
    dash.close()


@pytest.fixture(scope="module")
def as_of(con):
    return con.execute("SELECT as_of FROM build_params").fetchone()[0]


def sql_revenue(con, start, end, **filters) -> float:
    """Completed-job revenue in [start, end] straight from job_facts' raw columns."""
    where = "".join(f" AND {column} = ?" for column in filters)
    return con.execute(
        f"SELECT coalesce(sum(revenue), 0) FROM job_facts WHERE status = 'completed' "
        f"AND CAST(completed_at AS DATE) BETWEEN ? AND ? {where}", [start, end, *filters.values()]).fetchone()[0]


def span_text(html: str, name: str) -> str:
    match = re.search(rf'<span class="kpi-value" data-kpi="{name}"[^>]*>([^<]*)</span>', html)
    assert match, html
    return match.group(1)


def test_default_range_is_the_30_days_ending_as_of(dash, as_of):
    assert dash.as_of == as_of
    assert dash.default_range() == (as_of - dt.timedelta(days=29), as_of)


def test_all_values_equal_the_registry(dash, con, as_of):
    start, end = dash.default_range()
    values = dash.values(start, end, Filters())
    assert list(values) == [c.name for c in CARDS]
    assert values["revenue"] == pytest.approx(sql_revenue(con, start, end), rel=1e-12)
    for name in REGISTRY_CARDS:
        expected = get_kpi(name).compute(con, as_of, window=30)
        assert values[name] == pytest.approx(expected, rel=1e-12), name


def test_service_line_filter_gives_that_lines_revenue(dash, con):
    start, end = dash.default_range()
    total = dash.values(start, end, Filters())["revenue"]
    by_line = {}
    for line in dash.service_lines:
        by_line[line] = dash.values(start, end, Filters(service_line=line))["revenue"]
        assert by_line[line] == pytest.approx(sql_revenue(con, start, end, service_line=line), rel=1e-12)
        assert 0 < by_line[line] < total
    assert sum(by_line.values()) == pytest.approx(total, rel=1e-12)


def test_region_and_technician_filters(dash, con, as_of):
    start, end = dash.default_range()
    region, tech = dash.regions[0], dash.technicians[0][1]
    both = Filters(service_line=dash.service_lines[0], region=region)
    assert dash.values(start, end, both)["revenue"] == pytest.approx(
        sql_revenue(con, start, end, service_line=both.service_line, region=region), rel=1e-12)
    values = dash.values(start, end, Filters(technician_id=tech))
    assert values["revenue"] == pytest.approx(sql_revenue(con, start, end, technician_id=tech), rel=1e-12)
    assert values["quality_rate"] == pytest.approx(
        get_kpi("quality_rate").compute(con, as_of, window=30, filters=Filters(technician_id=tech)))


def test_date_range_narrows(dash, con, as_of):
    week_start = as_of - dt.timedelta(days=6)
    week = dash.values(week_start, as_of, Filters())
    month = dash.values(*dash.default_range(), Filters())
    assert week["revenue"] == pytest.approx(sql_revenue(con, week_start, as_of), rel=1e-12)
    assert week["revenue"] < month["revenue"]
    assert week["profit_margin"] == pytest.approx(get_kpi("profit_margin").compute(con, as_of, window=7))
    # A range that does not end at as_of: the KPIs are as of its end.
    end = as_of - dt.timedelta(days=40)
    earlier = dash.values(end - dt.timedelta(days=13), end, Filters())
    assert earlier["revenue"] == pytest.approx(sql_revenue(con, end - dt.timedelta(days=13), end), rel=1e-12)
    assert earlier["dso"] == pytest.approx(get_kpi("dso").compute(con, end, window=14))
    day = dash.daily_revenue(week_start, as_of)
    assert len(day) == 7 and day["actual"].sum() == pytest.approx(week["revenue"], rel=1e-12)
    with pytest.raises(ValueError, match="after"):
        dash.values(as_of, week_start, Filters())


def test_trend_is_the_previous_period_of_the_same_length(dash):
    start, end = dash.default_range()
    previous = dash.values(start - dt.timedelta(days=30), start - dt.timedelta(days=1), Filters())
    for name, kv in dash.evaluate(start, end, Filters()).items():
        assert kv.previous == pytest.approx(previous[name]), name


def test_revenue_target_is_prorated(dash, con, as_of):
    start, end = dash.default_range()
    monthly = monthly_revenue_target(con)
    expected, day = 0.0, start
    while day <= end:
        expected += monthly / calendar.monthrange(day.year, day.month)[1]
        day += dt.timedelta(days=1)
    kv = dash.evaluate(start, end, Filters())["revenue"]
    assert kv.target == pytest.approx(expected)
    assert kv.target != pytest.approx(monthly)  # 30 days of two months is not one month


def test_unavailable_kpis_say_why(dash):
    start, end = dash.default_range()
    by_line = dash.evaluate(start, end, Filters(service_line=dash.service_lines[0]))
    assert by_line["technician_utilisation"].value is None
    assert by_line["technician_utilisation"].reason == "not available by service line"
    assert by_line["revenue"].target is None and "target" in by_line["revenue"].target_reason
    by_tech = dash.evaluate(start, end, Filters(technician_id=dash.technicians[0][1]))
    for name in ("dso", "churn_risk_share"):
        assert by_tech[name].value is None and by_tech[name].reason == "not available by technician"
    assert by_tech["technician_utilisation"].value is not None


def test_widgets_recompute_on_filter_change(dash, con):
    start, end = dash.default_range()
    dash.widget  # noqa: B018  (builds and renders)
    assert span_text(dash.cards["revenue"].value, "revenue") == format_kpi_value(
        sql_revenue(con, start, end), "currency")
    line = dash.service_lines[-1]
    dash.service_line.value = line  # debounce=0: recomputes at once
    assert span_text(dash.cards["revenue"].value, "revenue") == format_kpi_value(
        sql_revenue(con, start, end, service_line=line), "currency")
    utilisation = dash.cards["technician_utilisation"].value
    assert span_text(utilisation, "technician_utilisation") == "n/a"
    assert 'title="not available by service line"' in utilisation
    outlook, chart, table = (panel.value for panel in dash.panels)
    assert "<svg" in chart and "<script" not in chart and "Outlook" in outlook
    assert table.count("<tr data-technician=") == len(dash.scorecard(start, end, Filters(service_line=line)))
    dash.start_picker.value = end + dt.timedelta(days=1)  # start after end: a message, no traceback
    assert "after the end" in dash.status.value
    dash.start_picker.value = end - dt.timedelta(days=6)
    dash.service_line.value = "All"
    assert span_text(dash.cards["revenue"].value, "revenue") == format_kpi_value(
        sql_revenue(con, end - dt.timedelta(days=6), end), "currency")
    assert dash.last_update_seconds < 5


def test_format_value():
    assert format_kpi_value(41234.5, "currency") == "$41,234"
    assert format_kpi_value(-12.0, "currency") == "-$12"
    assert format_kpi_value(0.3057, "ratio") == "30.6%"
    assert format_kpi_value(24.31, "days") == "24.3 d"
    assert format_kpi_value(8.0953, "rating") == "8.1"
    assert format_kpi_value(None, "ratio") == format_kpi_value(float("nan"), "ratio") == "n/a"


def test_dashboard_from_parameters(demo_lake):
    from quantlib.parameters import ParameterError

    dash = dashboard_from_parameters(environ={"QUANT_LAKE": str(demo_lake.root), "QUANT_AS_OF": "2024-06-30"})
    try:
        assert dash.gold_path == demo_lake.gold and dash.as_of == dt.date(2024, 6, 30)
    finally:
        dash.close()
    with pytest.raises(ParameterError, match="unknown company"):
        dashboard_from_parameters(environ={"QUANT_COMPANY": "nope"})


def test_card_colour_and_words_follow_the_kpi_direction(dash):
    """Above target is green for a higher-is-better KPI and red for DSO (issue 11)."""
    from quantlib.apps.executive_dashboard import KpiValue

    by_name = {card.name: card for card in CARDS}
    margin = by_name["profit_margin"]
    good = dash.card_html(margin, KpiValue("profit_margin", 0.30, 0.20, 0.28), 30)
    assert 'class="qd-card ok"' in good and "above target" in good
    bad = dash.card_html(margin, KpiValue("profit_margin", 0.10, 0.20, 0.12), 30)
    assert 'class="qd-card red"' in bad and "below target" in bad
    dso = by_name["dso"]
    late = dash.card_html(dso, KpiValue("dso", 60.0, 45.0, 50.0), 30)
    assert 'class="qd-card red"' in late and "above target" in late
    early = dash.card_html(dso, KpiValue("dso", 30.0, 45.0, 35.0), 30)
    assert 'class="qd-card ok"' in early and "below target" in early


# ---------------------------------------------------------------------------- alerts panel

def _seed_alerts(tmp_path):
    """A real store with a critical, a warning and an info alert (the engine, a fake clock)."""
    from tests.alerts.helpers import VALUES, check, engine, rule

    rules = [rule(f"dash_{level}", title=f"Dash {level}", comparison={"kind": "threshold", "op": ">", "value": 1,
                                                                      "level": level})
             for level in ("info", "warning", "critical")]
    for level in ("info", "warning", "critical"):
        VALUES[f"dash_{level}"] = [(f"subject {level}", 5.0)]
    try:
        eng = engine(tmp_path, rules)
        check(eng)
    finally:
        for level in ("info", "warning", "critical"):
            VALUES.pop(f"dash_{level}")
    return eng


def _panel_html(dash) -> str:
    """Every HTML widget's value in the alerts panel, in page order."""
    def walk(widget):
        if hasattr(widget, "children"):
            return "".join(walk(c) for c in widget.children)
        return widget.value if hasattr(widget, "value") and isinstance(widget.value, str) else ""
    return walk(dash.alerts_panel)


def _buttons(dash):
    import ipywidgets as w

    found = []
    for child in dash.alerts_panel.children:
        if isinstance(child, w.HBox):
            found += [c for c in child.children if isinstance(c, w.Button)]
    return found


def test_alerts_panel_groups_open_alerts_and_acknowledges(gold, tmp_path):
    eng = _seed_alerts(tmp_path)
    by_rule = {a["rule"]: a for a in eng.alerts(open_only=True)}
    dash = ExecutiveDashboard(gold, debounce=0, ops_store=eng.store.path)
    try:
        dash.widget
        html = _panel_html(dash)
        assert html.index("Critical (1)") < html.index("Warning (1)") < html.index("Info (1)")
        assert f'data-alert-id="{by_rule["dash_critical"]["id"]}"' in html
        buttons = _buttons(dash)
        assert [b.description for b in buttons] == ["Acknowledge"] * 3
        critical = by_rule["dash_critical"]["id"]
        button = next(b for b in buttons if f"qd-ack-{critical}" in b._dom_classes)
        button.click()
        stored = {a["id"]: a for a in eng.alerts(open_only=True)}
        assert stored[critical]["state"] == "acknowledged" and stored[critical]["acknowledged_at"]
        events = [(h["event"], h["detail"]) for h in eng.history(critical)]
        assert ("acknowledged", "executive dashboard") in events
        html = _panel_html(dash)
        assert f"Alert #{critical} acknowledged." in html
        assert f'data-alert-id="{critical}" data-state="acknowledged"' in html
        assert len(_buttons(dash)) == 2 and not any(f"qd-ack-{critical}" in b._dom_classes for b in _buttons(dash))
    finally:
        dash.close()


def test_alerts_panel_without_a_store_says_so_and_creates_none(gold, tmp_path):
    from quantlib.alerts import AlertError

    store = tmp_path / "none" / "ops.sqlite"
    dash = ExecutiveDashboard(gold, debounce=0, ops_store=store)
    try:
        dash.widget
        html = _panel_html(dash)
        assert "No open alerts." in html and not _buttons(dash)
        assert not store.exists()
    finally:
        dash.close()
    eng = _seed_alerts(tmp_path)
    dash = ExecutiveDashboard(gold, debounce=0, ops_store=eng.store.path)
    try:
        with pytest.raises(AlertError, match="no alert #999"):
            dash.acknowledge(999)
        dash.widget
        dash._on_acknowledge(999)      # a stale page: said plainly, nothing changes
        html = _panel_html(dash)
        assert "no alert #999" in html and len(_buttons(dash)) == 3
    finally:
        dash.close()


def test_an_unreachable_postgres_store_leaves_the_kpis_and_says_why_there_are_no_alerts(gold, monkeypatch):
    from quantlib.data.opstore import OpsStoreError

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("QUANT_OPS_DSN", f"postgresql://ops:s3cret@127.0.0.1:{port}/ops?connect_timeout=2")
    dash = ExecutiveDashboard(gold, debounce=0)
    try:
        dash.widget
        html = _panel_html(dash)
        assert "cannot connect to the PostgreSQL operational store" in html and "s3cret" not in html
        assert not _buttons(dash)
        assert all(dash.cards[c.name].value for c in CARDS)
        with pytest.raises(OpsStoreError, match=str(port)):
            dash.acknowledge(1)
    finally:
        dash.close()


def test_alerts_in_a_postgres_store_show_and_are_acknowledged_there(gold, postgres_dsn, monkeypatch):
    from quantlib.data.opstore import PostgresOpsStore

    eng = _seed_alerts(PostgresOpsStore(postgres_dsn))
    monkeypatch.setenv("QUANT_OPS_DSN", postgres_dsn)
    dash = ExecutiveDashboard(gold, debounce=0)
    try:
        dash.widget
        assert len(_buttons(dash)) == 3
        critical = next(a for a in eng.alerts(open_only=True) if a["level"] == "critical")
        dash._on_acknowledge(critical["id"])
        assert f"Alert #{critical['id']} acknowledged." in _panel_html(dash) and len(_buttons(dash)) == 2
        assert {a["id"]: a["state"] for a in eng.alerts(open_only=True)}[critical["id"]] == "acknowledged"
    finally:
        dash.close()


def test_the_outlook_shows_the_latest_scheduled_forecasts(gold, tmp_path):
    import numpy as np
    import pandas as pd

    from quantlib.data.opstore import OpsStore
    from quantlib.monitor import PREDICTION_COLUMNS

    store = OpsStore(tmp_path / "ops.sqlite")
    empty = ExecutiveDashboard(gold, debounce=0, ops_store=store.path)
    assert "No forecast recorded yet" in empty.outlook_html()
    start = dt.date(2025, 1, 1)

    def rows(run_id, model, quantity, days_values):
        return pd.DataFrame([{c: np.nan for c in PREDICTION_COLUMNS} | {
            "run_id": run_id, "model": model, "version": "1", "params_hash": "h", "as_of": dt.date(2024, 12, 31),
            "quantity": quantity, "subject": "all", "target_start": start,
            "target_end": start + dt.timedelta(days=days - 1), "value": value, "lo_80": 0.9 * value,
            "hi_80": 1.1 * value} for days, value in days_values])

    store.record_predictions(rows("old", "revenue_forecast", "revenue", [(30, 1.0), (90, 2.0)]))
    store.record_predictions(rows("new", "revenue_forecast", "revenue", [(30, 100_000.0), (90, 310_000.0),
                                                                         (365, 1_250_000.0)]))
    store.record_predictions(rows("cash", "cashflow_forecast", "cash_in", [(30, 80_000.0), (60, 150_000.0),
                                                                           (90, 240_000.0)]))
    panel = ExecutiveDashboard(gold, debounce=0, ops_store=store.path).outlook_html()
    found = re.findall(r'<tr data-outlook="([^"]+)"><td>[^<]*</td><td class="num">([^<]*)</td>'
                       r'<td class="num qd-likely">([^<]*)</td><td class="num">([^<]*)</td>', panel)
    assert [row[0] for row in found] == ["revenue-30", "revenue-90", "revenue-365", "cash_in-90"]
    assert found[0][1:] == tuple(format_kpi_value(v, "currency") for v in (90_000.0, 100_000.0, 110_000.0))
    assert found[3][2] == format_kpi_value(240_000.0, "currency")
