"""The dispatch board in a real browser, served by Voila the way ``quant apps`` serves it.

One Voila server (preheated kernels) and one Chromium session: open the board, mark a
technician sick, press Re-plan, then Accept the proposal, and compare what the page shows (jobs moved, cost change,
the plan check) with the re-routing engine run here independently on the same gold day.
Solution limits stop every search before its time limit, so both runs are reproducible.
"""

from __future__ import annotations

import os

import duckdb
import pytest

from quantlib.apps.dispatch_board import signed_money
from quantlib.ops.problem import WarehouseDayOptions, problem_from_warehouse
from quantlib.ops.reroute import TechnicianSick, reroute
from quantlib.ops.routing import SolverSettings, solve
from tests.apps.helpers import browser_page, needs_chromium, serve_app

NOW = 600
INITIAL = SolverSettings(time_limit_seconds=60, solution_limit=20)
REPLAN = SolverSettings(time_limit_seconds=60, solution_limit=10)
ENV = {"QUANT_DISPATCH_NOW": "10:00",
       "QUANT_DISPATCH_TIME_LIMIT_SECONDS": "60", "QUANT_DISPATCH_SOLUTION_LIMIT": "20",
       "QUANT_DISPATCH_REPLAN_SECONDS": "60", "QUANT_DISPATCH_REPLAN_SOLUTION_LIMIT": "10"}


@pytest.mark.slow  # Voila start, the kernel solving the day, two searches of the re-plan
@needs_chromium
def test_replan_in_browser_matches_the_engine(demo_lake, tmp_path):
    playwright_api = pytest.importorskip("playwright.sync_api")

    with serve_app("dispatch_board.ipynb", demo_lake, tmp_path, env={**os.environ, **ENV}) as server:
        # While Voila heats its kernels: the engine on its own, from the same gold day.
        con = duckdb.connect(str(demo_lake.gold), read_only=True)
        try:
            day = con.execute("SELECT as_of FROM build_params").fetchone()[0]
            problem = problem_from_warehouse(con, day, WarehouseDayOptions())
            plan = solve(problem, INITIAL)
        finally:
            con.close()
        tech = next(r.technician_id for r in plan.routes if any(v.start > NOW for v in r.visits))
        label = f"{problem.technician(tech).name} ({tech})"  # the dropdown shows labels
        expected = reroute(plan, NOW, [TechnicianSick(technician_id=tech)], settings=REPLAN)
        assert expected.after.validate() == []
        with browser_page(playwright_api, server) as page:
            page.goto(server.app_url("dispatch_board.ipynb"), timeout=90_000)
            page.wait_for_selector(".db-result", timeout=90_000)
            assert page.locator(".db-map svg").count() == 1 and page.locator(".db-timeline svg").count() == 1
            page.locator(".db-technician select").select_option(label=label)
            page.locator("button.db-sick").click()
            page.wait_for_selector(".db-pending li[data-kind='sick']", timeout=30_000)
            page.locator("button.db-replan").click()
            page.wait_for_selector(".db-status[data-state='proposed']", timeout=120_000)
            assert page.locator(".db-result h2[data-state='proposal']").count() == 1
            page.locator("button.db-accept").click()
            page.wait_for_selector(".db-status[data-state='done']", timeout=60_000)

            assert page.inner_text(".db-value[data-key='moved']") == str(len(expected.moved))
            assert page.inner_text(".db-value[data-key='cost_delta']") == signed_money(expected.cost_delta)
            shown = page.eval_on_selector_all("tr[data-change='moved']", "rows => rows.map(r => r.dataset.job)")
            assert sorted(shown) == sorted(expected.moved)
            assert "no constraint broken" in page.inner_text(".db-result")
            seconds = float(page.get_attribute(".db-status[data-state='done']", "data-seconds"))
            assert 0 < seconds < 120
            body = page.inner_text("body")
            assert "Traceback" not in body and "Error" not in body
            page.screenshot(path=str(tmp_path / "dispatch_board.png"), full_page=True)
    assert server.process.poll() is not None
