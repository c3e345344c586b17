"""Forecast explorer: time to first render in a real browser, and the cost of an interaction.

    python -m benchmarks.forecast_explorer [--repeat 3] [--lake DIR] [--screenshot PATH]

Serves a folder holding the forecast explorer and, as the baseline measured in the same
run, the executive dashboard, through :func:`quantlib.cli.apps.start_voila` (what ``quant
apps`` runs), and opens each app ``--repeat`` times in Chromium (``/usr/bin/chromium``),
each in a fresh browser context. Time to first render = from navigation start to the
app's first figure visible with its value (explorer: the jobs card; dashboard: the revenue
card). Before each load the benchmark waits until Voila has a fresh preheated kernel and
it is idle (see :mod:`benchmarks.apps`).

Also measured, in Python:

* fitting the explorer's engines from scratch (no cache) against loading them from the
  cache, each followed by building the widgets (the first page);
* one interaction: a service line not seen yet (the jobs forecast is summed again, two
  charts drawn), and a scenario not seen yet (the demand model predicts once more);
* in the browser, one service-line change: select to the new jobs figure shown.

Without ``--lake`` a sample company (mixed_trades at scale 0.4, the test fixture's size)
is generated and built under ``.cache/``. Prints a markdown table of medians.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.apps import CHROMIUM, CHROMIUM_ARGS, ROOT, _build_lake, _free_port, _wait_heated

EXPLORER = "forecast_explorer.ipynb"
DASHBOARD = "executive_dashboard.ipynb"
READY = {EXPLORER: "span.fe-value[data-value='jobs']", DASHBOARD: "span.kpi-value[data-kpi='revenue']"}


def _python_work(gold: Path, cache: Path, repeat: int) -> dict[str, list[float]]:
    """Cold fit + first page once; cache load + first page, and two interactions, ``repeat`` times."""
    from quantlib.apps.forecast_explorer import ForecastExplorer

    out: dict[str, list[float]] = {"cold": [], "warm": [], "line": [], "scenario": []}
    t0 = time.perf_counter()
    fx = ForecastExplorer(gold, cache_dir=cache).fit()
    fx.widget  # noqa: B018
    out["cold"].append(time.perf_counter() - t0)
    for _ in range(repeat):
        t0 = time.perf_counter()
        fx = ForecastExplorer(gold, cache_dir=cache).fit()
        assert fx.from_cache_
        fx.widget  # noqa: B018
        out["warm"].append(time.perf_counter() - t0)
        t1 = time.perf_counter()
        fx.service_line.value = fx.service_lines_[0]
        out["line"].append(time.perf_counter() - t1)
        t2 = time.perf_counter()
        fx.scenario.value = "confidence_down"
        out["scenario"].append(time.perf_counter() - t2)
    return out


def _page_loads(lake: Path, cache: Path, repeat: int, screenshot: Path | None) -> dict[str, list[float]]:
    """First-render times of both apps, and the explorer's service-line change, in the browser."""
    import os

    from playwright.sync_api import sync_playwright

    from quantlib.cli.apps import _children, apps_dir, start_voila

    root = cache / "apps"
    root.mkdir(exist_ok=True)
    for name in (EXPLORER, DASHBOARD):
        shutil.copy(apps_dir() / name, root / name)
    env = {**os.environ, "QUANT_FORECAST_CACHE": str(cache)}
    server = start_voila(_free_port(), lake=lake, env=env, root=root)
    times: dict[str, list[float]] = {EXPLORER: [], DASHBOARD: [], "change": []}
    used: set[int] = set()
    try:
        server.wait_ready(timeout=300)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                for i in range(repeat):
                    for app in (EXPLORER, DASHBOARD):
                        _wait_heated(server.process.pid, used, timeout=300)
                        used |= set(_children(server.process.pid))
                        context = browser.new_context(viewport={"width": 1440, "height": 1000})
                        page = context.new_page()
                        t0 = time.perf_counter()
                        page.goto(server.app_url(app), wait_until="commit", timeout=300_000)
                        page.locator(READY[app]).wait_for(state="visible", timeout=300_000)
                        times[app].append(time.perf_counter() - t0)
                        if app == EXPLORER and i == 0:
                            old = page.inner_text(READY[app])
                            t1 = time.perf_counter()
                            page.locator(".fe-service-line select").select_option(index=1)
                            page.wait_for_function(
                                f"document.querySelector(\"{READY[app]}\").textContent !== {old!r}",
                                timeout=120_000, polling=10)
                            times["change"].append(time.perf_counter() - t1)
                            if screenshot is not None:
                                page.wait_for_timeout(1000)
                                page.screenshot(path=str(screenshot), full_page=True)
                        context.close()
            finally:
                browser.close()
    finally:
        server.stop()
    return times


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--lake", type=Path, help="Lake root (default: build a sample under .cache/)")
    parser.add_argument("--screenshot", type=Path, help="Save a PNG of the explorer here")
    args = parser.parse_args(argv)

    base = ROOT / ".cache"
    base.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-forecast-explorer-", dir=base) as tmp:
        tmp = Path(tmp)
        lake = args.lake.resolve() if args.lake else _build_lake(tmp)
        cache = tmp / "cache"
        py = _python_work(lake / "gold.duckdb", cache, args.repeat)
        web = _page_loads(lake, cache, args.repeat, args.screenshot)

    def fmt(times: list[float]) -> str:
        return f"{statistics.median(times):.2f} s" if times else "-"

    def spread(times: list[float]) -> str:
        return ", ".join(f"{t:.2f}" for t in times)

    rows = [
        ("explorer first render in the browser, preheated kernel", web[EXPLORER]),
        ("baseline: executive dashboard first render, same server", web[DASHBOARD]),
        ("explorer service-line change in the browser (select -> new jobs figure)", web["change"]),
        ("Python: fit the engines from scratch + first page (no cache)", py["cold"]),
        ("Python: load the engines from the cache + first page", py["warm"]),
        ("Python: a new service line (sum, 2 charts)", py["line"]),
        ("Python: a new scenario (one demand prediction, 2 charts)", py["scenario"]),
    ]
    print(f"| measure (median of {args.repeat}) | median | runs (s) |")
    print("|---|---|---|")
    for label, times in rows:
        print(f"| {label} | {fmt(times)} | {spread(times)} |")


if __name__ == "__main__":
    main()
