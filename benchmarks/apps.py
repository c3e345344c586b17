"""Voila apps: time to first render of the executive dashboard in a real browser.

    python -m benchmarks.apps [--repeat 5] [--lake DIR] [--screenshot PATH]

Serves ``notebooks/apps/`` through :func:`quantlib.cli.apps.start_voila` (what ``quant
apps`` runs) and opens the dashboard in Chromium (``/usr/bin/chromium``) ``--repeat`` times,
each in a fresh browser context (cold page cache, like a first visit). Time to first render =
from navigation start to the eight KPI cards visible with values. Measured:

* with preheated kernels (the default of ``quant apps``): before each load the benchmark
  waits until Voila has a fresh kernel and it is idle, i.e. has executed the notebook, as
  it would have long before a real visitor arrives;
* without preheating (a kernel is started and the notebook executed per request);
* the dashboard's work alone in Python (open gold, compute all cards, chart, table);
* one filter change in the browser (service line: select to new revenue value shown,
  debounce included) and in Python.

Without ``--lake`` a fresh sample company (mixed_trades at scale 0.4, the test fixture's
size) is generated and built under ``.cache/``. Prints a markdown table of medians.

With ``--every-app`` (what ``python -m benchmarks.apps --every-app`` records), every app of
``notebooks/apps/`` instead, each served alone by Voila with a preheated kernel after
``quant prepare-apps`` (as ``make demo`` leaves things): the first visit right after the
server is up (the pool's kernel may still be executing the notebook) and ``--repeat``
visits once a fresh kernel is idle; first render = navigation start to the app's own
"ready" element (:data:`READY`). Target (issue 17): under 2 s.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
CARDS_READY = "document.querySelectorAll('span.kpi-value').length === 8"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cpu(pids) -> float:
    """CPU seconds used so far by ``pids`` (gone processes count 0)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def _wait_heated(voila_pid: int, used: set[int], timeout: float = 180.0, quiet: float = 1.5) -> None:
    """Wait for a kernel not used yet (the refilled pool) and for it and Voila to be idle.

    Idle = under 5 % of a CPU for ``quiet`` seconds: the kernel has executed the notebook
    and waits, as it would long before a real visitor arrives.
    """
    from quantlib.cli.apps import _children

    deadline = time.monotonic() + timeout
    while not set(_children(voila_pid)) - used:
        if time.monotonic() > deadline:
            raise TimeoutError("Voila did not start a new kernel")
        time.sleep(0.2)
    pids = lambda: [voila_pid, *(set(_children(voila_pid)) - used)]  # noqa: E731
    last, since = _cpu(pids()), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = _cpu(pids())
        if now - last > 0.05 * 0.25:
            since = time.monotonic()
        last = now
        if time.monotonic() - since >= quiet:
            return
    raise TimeoutError("Voila did not settle")


def _build_lake(root: Path) -> Path:
    from quantlib.data.generate import generate_company, write_company
    from quantlib.data.ingest import ingest
    from quantlib.data.lake import Lake
    from quantlib.data.profile import load_profile
    from quantlib.data.warehouse import build_warehouse

    profile = load_profile(ROOT / "parameters" / "companies" / "mixed_trades.yaml")
    write_company(generate_company(profile, scale=0.4), root / "raw")
    lake = Lake(root / "lake")
    ingest(root / "raw", lake)
    build_warehouse(lake, targets={k: v * 0.4 if k == "monthly_revenue" else v
                                   for k, v in profile.targets.items()}, company=profile.name)
    return lake.root


def _page_loads(lake: Path, preheat: bool, repeat: int, screenshot: Path | None = None
                ) -> tuple[list[float], list[float]]:
    """First-render times of ``repeat`` page loads, and filter-change times (browser)."""
    from playwright.sync_api import sync_playwright

    from quantlib.cli.apps import _children, start_voila

    server = start_voila(_free_port(), preheat=preheat, lake=lake)
    renders, updates, used = [], [], set()
    try:
        server.wait_ready(timeout=180, preheated=preheat)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                for i in range(repeat):
                    if preheat:
                        _wait_heated(server.process.pid, used)
                    used |= set(_children(server.process.pid))  # the pool's kernel serves this load
                    context = browser.new_context(viewport={"width": 1440, "height": 1000})
                    page = context.new_page()
                    t0 = time.perf_counter()
                    page.goto(server.app_url(), wait_until="commit", timeout=180_000)
                    page.wait_for_function(CARDS_READY, timeout=180_000, polling=20)
                    page.locator("span.kpi-value[data-kpi='revenue']").wait_for(state="visible")
                    renders.append(time.perf_counter() - t0)
                    if i == 0:
                        # One filter change per server: the kernel is warm, as for a real user.
                        old = page.inner_text("span.kpi-value[data-kpi='revenue']")
                        t1 = time.perf_counter()
                        page.locator(".qd-service-line select").select_option(index=1)
                        page.wait_for_function(
                            f"document.querySelector(\"span.kpi-value[data-kpi='revenue']\").textContent !== {old!r}",
                            timeout=60_000, polling=10)
                        updates.append(time.perf_counter() - t1)
                        if screenshot is not None:
                            page.locator(".qd-service-line select").select_option(index=0)
                            page.wait_for_function(
                                f"document.querySelector(\"span.kpi-value[data-kpi='revenue']\")"
                                f".textContent === {old!r}",
                                timeout=60_000)
                            page.wait_for_timeout(1000)  # let the chart and table arrive too
                            page.screenshot(path=str(screenshot), full_page=True)
                    context.close()  # closes the page: Voila shuts its kernel down
            finally:
                browser.close()
    finally:
        server.stop()
    return renders, updates


def _python_work(gold: Path, repeat: int) -> tuple[list[float], list[float]]:
    """The dashboard's first render and one filter change, in Python (no server, no browser)."""
    from quantlib.apps.executive_dashboard import ExecutiveDashboard

    first, change = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        dash = ExecutiveDashboard(gold, debounce=0)
        dash.widget  # noqa: B018  (computes cards, chart and table)
        first.append(time.perf_counter() - t0)
        t1 = time.perf_counter()
        dash.service_line.value = dash.service_lines[0]
        change.append(time.perf_counter() - t1)
        dash.close()
    return first, change


#: Per app: the element whose presence means the first page is drawn with its numbers.
READY = {
    "executive_dashboard.ipynb": "span.kpi-value[data-kpi='revenue']",
    "operations_dashboard.ipynb": "span.kpi-value[data-kpi='customer_retention']",
    "forecast_explorer.ipynb": "span.fe-value[data-value='jobs']",
    "churn_explorer.ipynb": ".ce-status[data-rows]",
    "dispatch_board.ipynb": ".db-result",
    "quote_pricer.ipynb": ".qp-recommended[data-price]",
    "equipment_monitor.ipynb": ".em-unit",
    "live_operations.ipynb": ".lo-root .lo-sub",
    "chart_builder.ipynb": ".cb-status[data-rows]",
}


def _every_app(lake: Path, repeat: int, work: Path) -> list[tuple[str, float, list[float]]]:
    """(app, first visit after start, preheated visits) for every app, after ``quant prepare-apps``."""
    import shutil

    from playwright.sync_api import sync_playwright

    from quantlib.cli.apps import _children, apps_dir, start_voila

    caches = {"QUANT_FORECAST_CACHE": str(work / "forecast"), "QUANT_DISPATCH_CACHE": str(work / "dispatch"),
              "QUANT_CHURN_CACHE": str(work / "churn"), "QUANT_EQUIPMENT_CACHE": str(work / "equipment")}
    env = {**os.environ, **caches, "QUANT_OPS_DB": str(work / "ops.sqlite"),
           "QUANT_ANNOTATIONS_DB": str(work / "notes.sqlite")}
    from typer.testing import CliRunner

    from quantlib.cli import app as cli

    os.environ.update(caches)
    done = CliRunner().invoke(cli, ["prepare-apps", "--lake", str(lake)])
    print(done.output.strip(), flush=True)
    missing = sorted({p.name for p in apps_dir().glob("*.ipynb")} - set(READY))
    if missing:
        raise SystemExit(f"no ready element known for {missing}: add them to READY")
    rows = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for notebook, ready in READY.items():
                root = work / "apps" / notebook.removesuffix(".ipynb")
                root.mkdir(parents=True, exist_ok=True)
                shutil.copy(apps_dir() / notebook, root / notebook)
                server = start_voila(_free_port(), lake=lake, env=env, root=root)
                try:
                    server.wait_ready(timeout=180, preheated=False)
                    times, used = [], set()
                    for i in range(repeat + 1):
                        if i:
                            _wait_heated(server.process.pid, used)
                        used |= set(_children(server.process.pid))
                        context = browser.new_context(viewport={"width": 1440, "height": 1000})
                        page = context.new_page()
                        t0 = time.perf_counter()
                        page.goto(server.app_url(notebook), wait_until="commit", timeout=180_000)
                        page.wait_for_selector(ready, timeout=180_000)
                        times.append(time.perf_counter() - t0)
                        context.close()
                finally:
                    server.stop()
                rows.append((notebook.removesuffix(".ipynb"), times[0], times[1:]))
                print(f"{notebook}: first visit {times[0]:.2f} s, preheated "
                      f"{', '.join(f'{t:.2f}' for t in times[1:])} s", flush=True)
        finally:
            browser.close()
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--lake", type=Path, help="Lake root (default: build a sample under .cache/)")
    parser.add_argument("--screenshot", type=Path, help="Save a PNG of the dashboard here")
    parser.add_argument("--every-app", action="store_true", help="First render of every app (see above)")
    args = parser.parse_args(argv)

    if args.every_app:
        cache = ROOT / ".cache"
        cache.mkdir(exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="bench-apps-", dir=cache) as tmp:
            lake = args.lake.resolve() if args.lake else _build_lake(Path(tmp))
            rows = _every_app(lake, args.repeat, Path(tmp))
        print(f"\n| app | first visit after the server starts | preheated, median of {args.repeat} | runs (s) |")
        print("|---|---:|---:|---|")
        for name, first, hot in rows:
            print(f"| {name} | {first:.2f} s | {statistics.median(hot):.2f} s | {', '.join(f'{t:.2f}' for t in hot)} |")
        return

    cache = ROOT / ".cache"
    cache.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-apps-", dir=cache) as tmp:
        lake = args.lake.resolve() if args.lake else _build_lake(Path(tmp))
        gold = lake / "gold.duckdb"
        py_first, py_change = _python_work(gold, args.repeat)
        hot, hot_updates = _page_loads(lake, True, args.repeat, args.screenshot)
        cold, _ = _page_loads(lake, False, args.repeat)

    def fmt(times: list[float]) -> str:
        return f"{statistics.median(times):.2f} s" if times else "-"

    def spread(times: list[float]) -> str:
        return ", ".join(f"{t:.2f}" for t in times)

    rows = [
        ("first render in the browser, preheated kernel (`quant apps`)", fmt(hot), spread(hot)),
        ("first render in the browser, no preheating", fmt(cold), spread(cold)),
        ("dashboard work alone in Python (open gold, 8 cards x 2 periods, chart, table)",
         fmt(py_first), spread(py_first)),
        ("filter change in the browser (select -> new revenue shown, 0.1 s debounce incl.)",
         fmt(hot_updates), spread(hot_updates)),
        ("filter change in Python (recompute cards, chart, table)", fmt(py_change), spread(py_change)),
    ]
    print(f"| measure (median of {args.repeat}) | median | runs (s) |")
    print("|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
