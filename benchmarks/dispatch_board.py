"""Dispatch board: first render and re-plan time of the app logic, against a cold solve from scratch.

    python -m benchmarks.dispatch_board                         # demo gold, its as-of day, 3 repetitions
    python -m benchmarks.dispatch_board --lake data/demo/mixed_trades/lake --day 2024-12-30 --repeat 5
    python -m benchmarks.dispatch_board --browser                # also the page in Chromium via Voila

Measured in one process, each repetition on a fresh :class:`quantlib.apps.dispatch_board.DispatchBoard`
(imports paid once, beforehand, and reported apart):

* **first render**: build the day's problem from gold, the initial plan (the board's default
  budget: 1.5 s / 100 solutions), and the widgets with the map and timeline as SVG, i.e.
  what a kernel does before the first page can show (with ``quant apps`` a preheated kernel
  does it before anyone asks);
* **re-plan**: mark the technician with the most work left at ``--now`` sick, press re-plan
  (the re-routing engine, default 2 s budget: warm start + from scratch) and redraw;
* **baseline**: a cold solve of the whole day from scratch with the solver's defaults
  (5 s time limit), what re-planning without the board's warm start and rest-of-day
  problem would cost; and the objective it reaches, next to the board's initial plan.

With ``--browser``: the board served by Voila (``quant apps``'s command, a folder holding only
this app, preheated kernel) and opened in Chromium ``--repeat`` times, each on a fresh
preheated kernel that has finished executing the notebook (as it would long before a real
dispatcher arrives): first render = navigation start to the board (result panel and SVG map)
shown. The executive dashboard is served alongside and timed the same way (its eight KPI
cards shown), a same-run baseline for what any Voila page costs on this machine.

Prints a markdown table of medians (figures go to benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _median(values) -> float:
    return statistics.median(values) if values else float("nan")


def _browser_first_render(lake: Path, repeat: int, env: dict) -> dict[str, list[float]]:
    """Preheated first-render times in Chromium of the board and, as a baseline, the executive dashboard."""
    from playwright.sync_api import sync_playwright

    from benchmarks.apps import CARDS_READY, CHROMIUM, CHROMIUM_ARGS, _wait_heated
    from quantlib.cli.apps import _children, apps_dir, start_voila

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    def board_shown(page):
        page.locator(".db-map svg").wait_for(state="visible", timeout=300_000)
        page.locator(".db-result").wait_for(state="visible", timeout=300_000)

    def dashboard_shown(page):
        page.wait_for_function(CARDS_READY, timeout=300_000, polling=20)

    apps = {"dispatch_board.ipynb": board_shown, "executive_dashboard.ipynb": dashboard_shown}
    renders: dict[str, list[float]] = {name: [] for name in apps}
    with tempfile.TemporaryDirectory(prefix="bench-dispatch-") as tmp:
        for name in apps:
            shutil.copy(apps_dir() / name, tmp)
        server = start_voila(port, lake=lake, root=Path(tmp), env={**os.environ, **env})
        used: set[int] = set()
        try:
            server.wait_ready(timeout=300)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    for _ in range(repeat):
                        for name, shown in apps.items():
                            _wait_heated(server.process.pid, used, timeout=300)
                            used |= set(_children(server.process.pid))
                            context = browser.new_context(viewport={"width": 1440, "height": 1000})
                            page = context.new_page()
                            t0 = time.perf_counter()
                            page.goto(server.app_url(name), wait_until="commit", timeout=300_000)
                            shown(page)
                            renders[name].append(time.perf_counter() - t0)
                            context.close()
                finally:
                    browser.close()
        finally:
            server.stop()
    return renders


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lake", default=str(ROOT / "data/demo/mixed_trades/lake"), help="lake root (gold.duckdb)")
    parser.add_argument("--day", default=None, help="day to plan (default: the warehouse's as-of date)")
    parser.add_argument("--region", default=None)
    parser.add_argument("--now", default="10:00", help="time of the sick call")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--browser", action="store_true", help="also time the page in Chromium via Voila")
    args = parser.parse_args(argv)

    tic = time.perf_counter()
    import vl_convert  # noqa: F401  (part of the import cost: the SVG renderer)

    from quantlib.apps.dispatch_board import DispatchBoard, parse_minute
    from quantlib.ops.routing import SolverSettings, solve
    import_seconds = time.perf_counter() - tic

    gold = Path(args.lake) / "gold.duckdb"
    now = parse_minute(args.now)
    rows = {"first": [], "initial_solve": [], "render": [], "replan": [], "replan_engine": [], "redraw": [],
            "baseline": []}
    objective = {"initial": [], "baseline": []}
    unplanned = []
    size = None
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        board = DispatchBoard(gold, args.day, region=args.region, now=now)
        board.widget  # noqa: B018  (builds and draws the widgets)
        rows["first"].append(time.perf_counter() - t0)
        rows["initial_solve"].append(board.initial_plan.stats["seconds"])
        rows["render"].append(board.last_render_seconds)
        objective["initial"].append(board.initial_plan.kpis()["objective"])
        unplanned.append(len(board.initial_plan.dropped))
        size = (len(board.plan.problem.technicians), len(board.plan.problem.jobs), board.day)
        left = {r.technician_id: sum(1 for v in r.visits if v.start > now) for r in board.plan.routes}
        sick = max(left, key=lambda t: (left[t], t))
        board.tech_picker.value = sick
        t1 = time.perf_counter()
        board.sick_button.click()
        board.replan_button.click()
        board.accept_button.click()  # the board proposes; Accept applies and redraws
        rows["replan"].append(time.perf_counter() - t1)
        if board.result is None:
            raise SystemExit(f"re-plan failed: {board.status.value}")
        rows["replan_engine"].append(board.result.seconds)
        rows["redraw"].append(board.last_render_seconds)
        t2 = time.perf_counter()
        baseline = solve(board.initial_plan.problem, SolverSettings())
        rows["baseline"].append(time.perf_counter() - t2)
        objective["baseline"].append(baseline.kpis()["objective"])
        board.close()

    techs, jobs, day = size
    print(f"Day {day}: {techs} technicians, {jobs} jobs; sick call at {args.now}; {args.repeat} repetitions, "
          f"medians; imports (once) {import_seconds:.1f} s\n")
    print("| step | median s |")
    print("|---|---|")
    print("| first render (problem + initial plan + widgets with SVG map and timeline) | "
          f"{_median(rows['first']):.2f} |")
    print(f"| &nbsp;&nbsp;of which initial solve (1.5 s / 100 solutions) | {_median(rows['initial_solve']):.2f} |")
    print(f"| &nbsp;&nbsp;of which drawing the widgets | {_median(rows['render']):.2f} |")
    print(f"| re-plan after a sick call (Re-plan and Accept clicks to redrawn board) | {_median(rows['replan']):.2f} |")
    print(f"| &nbsp;&nbsp;of which the re-routing engine | {_median(rows['replan_engine']):.2f} |")
    print(f"| &nbsp;&nbsp;of which redrawing | {_median(rows['redraw']):.2f} |")
    print(f"| baseline: cold solve of the whole day from scratch (solver defaults, 5 s limit) | "
          f"{_median(rows['baseline']):.2f} |")
    if args.browser:
        env = {"QUANT_DISPATCH_NOW": args.now}
        if args.day:
            env["QUANT_DISPATCH_DAY"] = args.day
        if args.region:
            env["QUANT_DISPATCH_REGION"] = args.region
        pages = _browser_first_render(Path(args.lake).resolve(), args.repeat, env)
        for name, label in (("dispatch_board.ipynb", "dispatch board"),
                            ("executive_dashboard.ipynb", "baseline: executive dashboard, same server")):
            print(f"| first render in the browser, preheated kernel: {label} | {_median(pages[name]):.2f} "
                  f"(runs: {', '.join(f'{t:.2f}' for t in pages[name])}) |")
    print(f"\ninitial plan: {_median(unplanned):.0f} of {jobs} jobs unplanned (median; runs: "
          f"{', '.join(str(u) for u in unplanned)})")
    ratio = _median(rows["replan"]) / _median(rows["baseline"])
    print(f"\nre-plan / cold solve = {ratio:.2f}; objective of the initial plan {_median(objective['initial']):,.0f} "
          f"vs the 5-s cold solve {_median(objective['baseline']):,.0f} "
          f"({_median(objective['initial']) / _median(objective['baseline']) - 1:+.1%})")


if __name__ == "__main__":
    main()
