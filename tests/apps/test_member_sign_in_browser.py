"""Members sign in to ``quant apps`` with their own tokens and the apps know who they are.

Served by Voila with preheated kernels as ``quant apps`` does, in Chromium: a member's token
shows that member's builder (their teams' saved charts only), the shared token keeps working
(as the operator) and a header claiming to be a member changes nothing, a visitor without a
token gets the login page and signs in there, a wrong token gets nothing of the app, and a member
whose teams may not open the app gets 403.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request

import pytest

from tests.apps.helpers import browser_page, needs_chromium, serve_app


@pytest.mark.slow  # Voila start and three preheated kernels executing the builder
@needs_chromium
def test_members_sign_in_and_see_their_teams_views(demo_lake, tmp_path):
    playwright_api = pytest.importorskip("playwright.sync_api")
    from quantlib.identity import hash_token
    from quantlib.viz.builder import ChartSpec
    from quantlib.viz.saved import SavedChart, save_chart

    tokens = {"ana": "ana-token-0123456789", "cy": "cy-token-0123456789", "dee": "dee-token-0123456789"}
    teams = tmp_path / "teams.yaml"
    teams.write_text("teams:\n  operations: [ana, ben]\n  finance: [cy]\n  field: [dee]\nmembers:\n"
                     + "".join(f"  {m}: {{token_sha256: {hash_token(t)}}}\n" for m, t in tokens.items())
                     + "apps:\n  operations: [chart_builder]\n  finance: [chart_builder]\n"
                       "  field: [executive_dashboard]\n")
    folder = tmp_path / "dashboards"
    operations = {"operations": {"ana", "ben"}, "finance": {"cy"}}
    save_chart(SavedChart(name="ops-only", owner="ben", team="operations",
                          spec=ChartSpec(source="work_orders", chart="bar", x="service_line", y="revenue")),
               "ben", operations, folder)
    shared = "shared-token-0123456789"
    env = {**os.environ, "QUANT_APPS_TOKEN": shared, "QUANT_USER": "operator", "QUANT_TEAMS": str(teams),
           "QUANT_DASHBOARDS_DIR": str(folder),
           "HTTP_X_QUANT_MEMBER": "ana"}  # nobody becomes ana by the server's environment either
    with serve_app("chart_builder.ipynb", demo_lake, tmp_path, env=env) as server:
        app = f"{server.url}voila/render/chart_builder.ipynb"
        with browser_page(playwright_api, server, height=1400) as page:
            # A wrong token: the login page, nothing of the app.
            with urllib.request.urlopen(urllib.request.Request(  # nosec B310 - the test's own server
                    app, headers={"Authorization": "token not-a-member"}), timeout=30) as answer:
                assert "/login" in answer.geturl() and "cb-root" not in answer.read().decode()
            page.goto(app + "?token=not-a-member", timeout=90_000)
            assert "/login" in page.url and page.locator(".cb-root").count() == 0
            # dee's team may open the executive dashboard only: 403 here, before any kernel is handed out.
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(urllib.request.Request(  # nosec B310 - the test's own server
                    app, headers={"Authorization": f"token {tokens['dee']}"}), timeout=30)
            assert refused.value.code == 403

            # ana's token: ana's builder, the operations team's chart among her saved charts.
            page.goto(f"{app}?token={tokens['ana']}", timeout=90_000)
            page.wait_for_selector(".cb-user", timeout=90_000)
            page.wait_for_function("() => document.querySelector('.cb-user').textContent === 'ana'", timeout=30_000)
            saved = page.locator(".cb-saved select option").all_inner_texts()
            assert any("ops-only" in option for option in saved)
            assert "operations" in page.locator(".cb-team select option").all_inner_texts()

            # The shared token, claiming to be ana in the member header: the operator, who is in no team.
            context = page.context.browser.new_context(extra_http_headers={"X-Quant-Member": "ana"},
                                                       viewport={"width": 1440, "height": 1400})
            other = context.new_page()
            other.goto(f"{app}?token={shared}", timeout=90_000)
            other.wait_for_selector(".cb-user", timeout=120_000)
            other.wait_for_function("() => document.querySelector('.cb-user').textContent === 'operator'",
                                    timeout=30_000)
            assert not any("ops-only" in o for o in other.locator(".cb-saved select option").all_inner_texts())
            assert other.locator(".cb-team select option").all_inner_texts() == ["(none)"]
            context.close()

            # No token: the login page; cy signs in there and lands on the app as cy (finance: no
            # operations chart).
            fresh = page.context.browser.new_context(viewport={"width": 1440, "height": 1400})
            visitor = fresh.new_page()
            visitor.goto(app, timeout=90_000)
            assert "/login" in visitor.url
            visitor.fill("input[type=password]", tokens["cy"])
            visitor.locator("input[type=password]").press("Enter")
            visitor.wait_for_selector(".cb-user", timeout=120_000)
            visitor.wait_for_function("() => document.querySelector('.cb-user').textContent === 'cy'",
                                      timeout=30_000)
            assert not any("ops-only" in o for o in visitor.locator(".cb-saved select option").all_inner_texts())
            assert "operations" not in visitor.locator(".cb-team select option").all_inner_texts()
            assert "Traceback" not in visitor.inner_text("body")
            fresh.close()
