"""The executive dashboard in a real browser, served by Voila the way ``quant apps`` serves it.

One Voila server (preheated kernel) and one Chromium session: open the app, read the KPI
cards, switch the service line, and compare what the page shows with numbers computed
here independently (plain SQL on job_facts, the KPI registry), formatted by the
dashboard's own formatter.
"""

from __future__ import annotations

import datetime as dt
import os

import duckdb
import pytest
from typer.testing import CliRunner

from quantlib.cli.apps import AppsError, is_loopback, resolve_token, start_voila, voila_command
from tests.apps.helpers import browser_page, free_port, needs_chromium, serve_app


def value_js(name: str) -> str:
    return f"document.querySelector('span.kpi-value[data-kpi=\"{name}\"]')"


@pytest.mark.slow  # 16-21 s on 2 cores: Voila start and the kernel executing the app dominate
@needs_chromium
def test_dashboard_in_browser(demo_lake, tmp_path):
    playwright_api = pytest.importorskip("playwright.sync_api")
    from quantlib.kpi import Filters, get_kpi
    from quantlib.views.formatting import format_kpi_value as format_value

    con = duckdb.connect(str(demo_lake.gold), read_only=True)
    try:
        as_of = con.execute("SELECT as_of FROM build_params").fetchone()[0]
        start = as_of - dt.timedelta(days=29)
        line = con.execute("SELECT min(service_line) FROM job_facts").fetchone()[0]

        def revenue(*extra):
            where = " AND service_line = ?" if extra else ""
            return con.execute(
                "SELECT sum(revenue) FROM job_facts WHERE status = 'completed' "
                f"AND CAST(completed_at AS DATE) BETWEEN ? AND ? {where}", [start, as_of, *extra]).fetchone()[0]

        expected_all = format_value(revenue(), "currency")
        expected_line = format_value(revenue(line), "currency")
        margin_line = format_value(get_kpi("profit_margin").compute(
            con, as_of, window=30, filters=Filters(service_line=line)), "ratio")
        margin_all = format_value(get_kpi("profit_margin").compute(con, as_of, window=30), "ratio")
    finally:
        con.close()
    assert expected_all != expected_line

    with serve_app("executive_dashboard.ipynb", demo_lake, tmp_path) as server:
        with browser_page(playwright_api, server) as page:
            page.goto(server.app_url(), timeout=90_000)
            page.wait_for_selector("span.kpi-value[data-kpi='revenue']", timeout=90_000)
            cards = page.locator("span.kpi-value")
            assert cards.count() == 8
            assert page.inner_text("span.kpi-value[data-kpi='revenue']") == expected_all
            assert page.inner_text("span.kpi-value[data-kpi='profit_margin']") == margin_all

            page.locator(".qd-service-line select").select_option(line)
            page.wait_for_function(f"{value_js('revenue')}.textContent !== {expected_all!r}",
                                   timeout=30_000)
            assert page.inner_text("span.kpi-value[data-kpi='revenue']") == expected_line
            page.wait_for_function(f"{value_js('profit_margin')}.textContent === {margin_line!r}",
                                   timeout=30_000)
            utilisation = page.locator("span.kpi-value[data-kpi='technician_utilisation']")
            assert utilisation.inner_text() == "n/a"
            assert utilisation.get_attribute("title") == "not available by service line"
            assert page.locator(".qd-panel svg").count() == 1  # the chart, as SVG
            body = page.inner_text("body")
            assert "Traceback" not in body and "Error" not in body
            page.screenshot(path=str(tmp_path / "executive_dashboard.png"), full_page=True)
    assert server.process.poll() is not None


@pytest.mark.slow  # Voila start and the kernel executing the app dominate, as above
@needs_chromium
def test_acknowledge_an_alert_from_the_dashboard(demo_lake, tmp_path):
    playwright_api = pytest.importorskip("playwright.sync_api")
    from tests.alerts.helpers import VALUES, check, engine, rule

    # A real operational store in tmp with one open critical and one open warning alert.
    rules = [rule("browser_cash", title="Cash runway short", comparison={
                 "kind": "threshold", "op": "<", "value": 30, "level": "critical"}),
             rule("browser_late", title="Late jobs above five", comparison={
                 "kind": "threshold", "op": ">", "value": 5, "level": "warning"})]
    VALUES.update({"browser_cash": [("company", 12.0)], "browser_late": [("technician T3", 8.0)]})
    try:
        eng = engine(tmp_path, rules)
        check(eng)
    finally:
        VALUES.pop("browser_cash")
        VALUES.pop("browser_late")
    alerts = {a["rule"]: a for a in eng.alerts(open_only=True)}
    critical, warning = alerts["browser_cash"]["id"], alerts["browser_late"]["id"]

    env = {**os.environ, "QUANT_OPS_DB": str(eng.store.path)}
    with serve_app("executive_dashboard.ipynb", demo_lake, tmp_path, env=env) as server:
        with browser_page(playwright_api, server) as page:
            page.goto(server.app_url(), timeout=90_000)
            page.wait_for_selector(f".qd-ack-{critical}", timeout=90_000)
            panel = page.text_content(".qd-alerts")  # the DOM text: headings are upper case by CSS only
            assert panel.index("Critical (1)") < panel.index("Warning (1)") < panel.index("Info (0)")
            assert "Cash runway short" in panel and "technician T3" in panel
            assert page.locator("button.qd-ack").count() == 2

            page.click(f".qd-ack-{critical}")
            page.wait_for_selector(f'[data-alert-id="{critical}"][data-state="acknowledged"]', timeout=30_000)
            assert f"Alert #{critical} acknowledged." in page.text_content(".qd-alerts")
            assert page.locator(f".qd-ack-{critical}").count() == 0
            assert page.locator(f".qd-ack-{warning}").count() == 1
            assert "Traceback" not in page.inner_text("body")
            page.screenshot(path=str(tmp_path / "dashboard_alerts.png"), full_page=True)
    stored = {a["id"]: a for a in eng.alerts(open_only=True)}
    assert stored[critical]["state"] == "acknowledged" and stored[warning]["state"] == "open"
    assert ("acknowledged", "executive dashboard") in [(h["event"], h["detail"]) for h in eng.history(critical)]


def test_non_loopback_needs_a_token(monkeypatch):
    monkeypatch.delenv("QUANT_APPS_TOKEN", raising=False)
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("example.org")
    with pytest.raises(AppsError, match="without a token"):
        start_voila(free_port(), ip="0.0.0.0")
    assert resolve_token("0.0.0.0", None, {"QUANT_APPS_TOKEN": "t0k"}) == "t0k"
    assert resolve_token("127.0.0.1", None, {}) is None


def test_members_with_tokens_may_serve_off_loopback(tmp_path):
    from quantlib.identity import hash_token

    teams = tmp_path / "teams.yaml"
    teams.write_text("teams:\n  ops: [ana]\n")
    with pytest.raises(AppsError, match="without a token"):  # a team without tokens signs nobody in
        resolve_token("0.0.0.0", None, {"QUANT_TEAMS": str(teams)})
    teams.write_text(f"teams:\n  ops: [ana]\nmembers:\n  ana: {{token_sha256: {hash_token('t')}}}\n")
    assert resolve_token("0.0.0.0", None, {"QUANT_TEAMS": str(teams)}) is None

    import quantlib.cli.apps  # noqa: F401  (registers "quant apps")
    from quantlib.cli.app import app

    result = CliRunner().invoke(app, ["apps", "--ip", "0.0.0.0", "--no-browser", "--port", str(free_port())])
    assert result.exit_code == 2
    assert "without a token" in result.output


def test_token_is_not_on_the_command_line(tmp_path):
    command = voila_command(8866, "0.0.0.0", tmp_path)
    assert not any(part.startswith("--token") or ".token" in part for part in command)
    assert "--preheat_kernel=True" in command and "--Voila.ip=0.0.0.0" in command


def test_token_protects_the_server(demo_lake):
    # Without the token the server sends you to its login page; with it, it answers. The
    # tree page needs no kernel, so this runs without preheating.
    import urllib.error
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    server = start_voila(free_port(), token="s3cret-t0ken", preheat=False, lake=demo_lake.root)
    try:
        server.wait_ready(timeout=60, preheated=False)
        with pytest.raises(urllib.error.HTTPError) as refused:
            opener.open(server.url, timeout=30)
        assert refused.value.code in (302, 401, 403)
        assert "login" in refused.value.headers.get("Location", "login")
        with opener.open(server.url + "?token=s3cret-t0ken", timeout=30) as answer:
            assert answer.status == 200
        assert "s3cret-t0ken" not in " ".join(server.process.args)
    finally:
        server.stop()
