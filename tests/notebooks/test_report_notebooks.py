"""Every scheduled report notebook runs top to bottom on a small company and renders cleanly."""

from __future__ import annotations

import re
import subprocess

import duckdb
import nbformat
import pytest

from quantlib.parameters import check_parameters_cell, validate_parameters
from quantlib.publish.render import ReportMeta, render_html, render_pdf, report_meta_for
from tests.conftest import ROOT
from tests.notebooks.helpers import render_clean_html, run_notebook, section_headings
from tests.publish.pages import markup

NOTEBOOKS = {
    # Starting cash low enough for the low-cash warning to fire on the test company.
    "monthly_business_review": {"months": 3, "starting_cash": 60_000.0, "plan_days": 1},
    "weekly_operations": {"weeks": 3, "plan_days": 1},
    "operations_efficiency": {"days": 3},
    "sales_performance": {"days": 14, "months": 2},
    "financial_summary": {"months": 2, "weeks": 3},
}

#: Charts of the specification's catalogue (quantlib.viz) a report must show, by their titles.
CHARTS = {
    "sales_performance": ("Customer journey, leads of the last 2 months", "lost (", "Revenue by area, last 365 days"),
    "weekly_operations": ("Technicians by revenue, last 7 days", "Technician revenue rank by week"),
    "financial_summary": ("Daily revenue by service line", "Revenue bridge: same days last month to this month",
                          "Revenue by service line against the same days last year", "This month to date"),
}


@pytest.mark.parametrize("stem", sorted(NOTEBOOKS))
def test_parameters_cell_mirrors_its_model(stem):
    path = ROOT / "notebooks" / f"{stem}.ipynb"
    check_parameters_cell(path)
    with pytest.raises(ValueError, match="unknown company"):
        validate_parameters(path, {"company": "no_such_company"})


@pytest.mark.parametrize("stem", sorted(NOTEBOOKS))
def test_notebook_is_committed_without_outputs(stem):
    nb = nbformat.read(ROOT / "notebooks" / f"{stem}.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and not any(c.outputs or c.execution_count for c in code)


@pytest.fixture(scope="module")
def monthly_review(demo_lake, tmp_path_factory):
    """The monthly review executed once for this module: (folder with run.ipynb, executed, outputs).

    Its operational store (``QUANT_OPS_DB``) is a tmp one with one open warning alert and the
    30-day revenue forecast recorded 65 days before the data ends (scored by now).
    """
    import datetime as dt

    from quantlib.data.gold import gold_as_of, open_gold
    from quantlib.forecast import RevenueModel, warehouse_snapshot
    from quantlib.monitor import revenue_prediction_rows
    from tests.alerts.helpers import VALUES, check, engine, rule

    folder = tmp_path_factory.mktemp("monthly_review")
    VALUES["mbr_late"] = [("technician T7", 9.0)]
    eng = engine(folder, [rule("mbr_late", title="Late jobs above five", comparison={
        "kind": "threshold", "op": ">", "value": 5, "level": "warning"})])
    check(eng)
    VALUES.pop("mbr_late")
    with open_gold(demo_lake) as con:
        origin = gold_as_of(con) - dt.timedelta(days=65)
    model = RevenueModel(horizons=(30,)).fit(warehouse_snapshot(demo_lake.gold, origin))
    eng.store.record_predictions(revenue_prediction_rows(model, run_id="mbr-run"))
    from quantlib.data.annotations import AnnotationStore

    notes = AnnotationStore(folder / "annotations.sqlite")
    notes.add("chart:executive_dashboard/daily_revenue", "Storm week <b>two vans down</b>", "ana",
              point_x="2024-12-03")
    notes.resolve(notes.add("dashboard:operations_dashboard", "Old, resolved", "ben").id, by="ben")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("QUANT_OPS_DB", str(eng.store.path))
        patch.setenv("QUANT_ANNOTATIONS_DB", str(notes.path))
        executed, outputs = run_notebook("monthly_business_review", demo_lake, folder,
                                         **NOTEBOOKS["monthly_business_review"])
    return folder, executed, outputs


# The monthly review is the longest report (25-55 s with its PDF).
@pytest.mark.parametrize("stem", [pytest.param(s, marks=pytest.mark.slow) if s == "monthly_business_review" else s
                                  for s in sorted(NOTEBOOKS)])
def test_notebook_runs_and_renders(stem, demo_lake, tmp_path, request):
    if stem == "monthly_business_review":
        run_dir, executed, outputs = request.getfixturevalue("monthly_review")
    else:
        run_dir = tmp_path
        executed, outputs = run_notebook(stem, demo_lake, tmp_path, **NOTEBOOKS[stem])
    # Charts are inline SVG, tables are HTML: something to show in every section.
    assert any("image/svg+xml" in o.get("data", {}) for o in outputs)
    assert any("text/html" in o.get("data", {}) for o in outputs)
    svgs = "".join(o.get("data", {}).get("image/svg+xml", "") for o in outputs)
    for title in CHARTS.get(stem, ()):
        assert title in svgs, title
    html = render_clean_html(run_dir / "run.ipynb", stem, tmp_path)
    for heading in section_headings(executed):
        assert heading in html


def test_monthly_review_pdf_reads_like_a_report(monthly_review, tmp_path):
    run_dir, _, _ = monthly_review
    meta = ReportMeta(title="Monthly business review", company="Prairie Home Services",
                      period="December 2024", run_date="2026-11-27")
    pdf = render_pdf(run_dir / "run.ipynb", tmp_path / "report.pdf", meta)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    for section in ("Executive summary", "Financial performance", "Operational metrics", "Customer analytics",
                    "Market analysis", "Risk assessment", "Prairie Home Services"):
        assert section in text
    for noise in ("Traceback", "Warning", "import ", "views."):
        assert noise not in text
    pages = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert int(re.search(r"Pages:\s+(\d+)", pages).group(1)) >= 4


def test_monthly_review_forecast_figures_are_the_engines(monthly_review, demo_lake):
    # The engines fitted here, independently of the notebook, on the warehouse as of its date.
    from quantlib.forecast import CashFlowSimulator, RevenueModel
    from quantlib.forecast.pipeline import warehouse_snapshot

    _, executed, outputs = monthly_review
    snap = warehouse_snapshot(demo_lake.gold)
    revenue = RevenueModel(horizons=(30,)).fit(snap).forecast(level=(80, 95)).iloc[0]
    cash = CashFlowSimulator(horizon=90, starting_cash=NOTEBOOKS["monthly_business_review"]["starting_cash"]).fit(snap)
    assert cash.warning_date_ is not None  # the parameters above make the warning fire

    def money(x):
        return f"${x:,.0f}"

    headings = [c.source.splitlines()[0] for c in executed.cells if c.cell_type == "markdown"]
    financial, operations = headings.index("## Financial performance"), headings.index("## Operational metrics")
    assert {"### Revenue outlook", "### Cash-flow outlook"} <= set(headings[financial:operations])
    texts = [o["data"].get("text/markdown", "") for o in outputs if "data" in o]
    tables = [o["data"].get("text/html", "") for o in outputs if "data" in o]
    outlook = next(t for t in texts if "next 30 days" in t)
    for value in (revenue["likely"], revenue["worst"], revenue["best"], revenue["lo_95"], revenue["hi_95"]):
        assert money(value) in outlook
    scenarios = next(t for t in tables if "Revenue scenarios, next 30 days" in t)
    for value in (revenue["worst"], revenue["likely"], revenue["best"], revenue["last_year"]):
        assert money(value) in scenarios
    alert = next(t for t in texts if "days of expenses" in t)
    assert alert.startswith("**Low-cash warning")
    assert f"{cash.warning_date_:%d %B %Y}" in alert and money(cash.threshold_) in alert
    flows = next(t for t in tables if "Cash-flow forecast" in t)
    totals = cash.totals((30, 60, 90)).set_index("window")
    for window in (30, 60, 90):
        assert money(totals.loc[window, "cash_end"]) in flows
        assert money(totals.loc[window, "inflow"]) in flows


def test_monthly_review_customer_and_operations_figures_are_the_engines(monthly_review, demo_lake):
    # Computed here, independently of the notebook, from the same warehouse and date.
    import duckdb

    from quantlib.customers.churn import churn_summary
    from quantlib.customers.views.value import value_summary
    from quantlib.ops.views.workforce import week_summary

    _, executed, outputs = monthly_review
    con = duckdb.connect(str(demo_lake.gold), read_only=True)
    try:
        as_of = con.execute("SELECT as_of FROM build_params").fetchone()[0]
        churn, value, week = churn_summary(con, as_of), value_summary(con, as_of), week_summary(con, as_of)
        names = dict(con.execute("SELECT customer_id, name FROM customers").fetchall())
    finally:
        con.close()
    headings = [c.source.splitlines()[0] for c in executed.cells if c.cell_type == "markdown"]
    assert "### Technician utilisation and drive time" in headings
    assert "### Churn risk, lifetime value and segments" in headings
    texts = [o["data"].get("text/markdown", "") for o in outputs if "data" in o]
    tables = [o["data"].get("text/html", "") for o in outputs if "data" in o]
    indicators = next(t for t in tables if "Customer analytics" in t)
    assert f"{value['retention_rate']:.1%}" in indicators and f"{churn['risk_share']:.1%}" in indicators
    assert f"${value['average_predicted_clv']:,.0f}" in indicators
    at_risk = next(t for t in tables if "High-value accounts at risk" in t)
    for customer_id in churn["top_accounts"]["customer_id"]:
        assert customer_id in at_risk and names[customer_id] in at_risk
    operations = next(t for t in texts if "technicians were booked for" in t)
    assert f"booked for {week['utilisation']:.0%} of their available hours" in operations
    assert "Re-planned by the router, the last 1 working days" in operations
    assert "Working days re-planned by the routing engine" in "".join(tables)


def test_monthly_review_html_shows_markdown_the_company_and_the_period(monthly_review, demo_lake, tmp_path):
    """Issue 11: no literal '**', the company's name (not MIXED_TRADES), the month covered."""
    import duckdb

    run_dir, _, _ = monthly_review
    notebook = ROOT / "notebooks" / "monthly_business_review.ipynb"
    values = validate_parameters(notebook, {"company": "mixed_trades", "lake": str(demo_lake.root),
                                            **NOTEBOOKS["monthly_business_review"]},
                                 trusted_lake=True)  # pytest's temporary lake, as the notebook helper passes it
    meta = report_meta_for(notebook, values, run_date="2026-12-07")
    html = markup(render_html(run_dir / "run.ipynb", tmp_path / "report.html", meta).read_text())
    shown = re.sub(r"<style.*?</style>|<svg.*?</svg>", "", html, flags=re.DOTALL)
    assert "**" not in shown
    with duckdb.connect(str(demo_lake.gold), read_only=True) as con:
        company = con.execute("SELECT company FROM build_info LIMIT 1").fetchone()[0]
        as_of = con.execute("SELECT as_of FROM build_params").fetchone()[0]
    assert company and company in shown
    assert f"{as_of:%B %Y}" in re.search(r'<span class="period">([^<]*)</span>', shown).group(1)
    assert "mixed_trades" not in shown.lower()


def test_monthly_review_risk_register_and_scorecard_are_the_engines(monthly_review, demo_lake):
    """Issue 13: Risk assessment is the risk register; the success scorecard is its own section."""
    from quantlib.risk import INDICATORS

    _, executed, outputs = monthly_review
    headings = [c.source.splitlines()[0] for c in executed.cells if c.cell_type == "markdown"]
    assert headings.index("## Risk assessment") < headings.index("## Success scorecard")
    tables = [o["data"].get("text/html", "") for o in outputs if "data" in o]
    register = next(t for t in tables if "Risk register" in t)
    dso = INDICATORS["dso"](demo_lake)
    assert dso.label in register and f"{dso.value:,.1f} d" in register and dso.owner in register
    card = next(t for t in tables if "Success scorecard against 2023" in t)
    assert "Revenue (completed jobs)" in card and "Customer satisfaction (5-point scale" in card


def test_monthly_review_risk_assessment_shows_open_alerts_and_market_signals(monthly_review, demo_lake):
    from quantlib.kpi.market import demand_changes, pricing_pressure

    _, executed, outputs = monthly_review
    texts = [o["data"].get("text/markdown", "") for o in outputs if "data" in o]
    tables = [o["data"].get("text/html", "") for o in outputs if "data" in o]
    assert "1 open alert: 1 warning." in texts
    alerts = next(t for t in tables if "Open alerts" in t)
    assert "technician T7" in alerts and "Late jobs above five: technician T7" in alerts
    # Open alerts sit in the Risk assessment section, after the register.
    sources = [c.source for c in executed.cells]
    risk = next(i for i, s in enumerate(sources) if s.startswith("## Risk assessment"))
    card = next(i for i, s in enumerate(sources) if s.startswith("## Success scorecard"))
    assert any("open_alerts_table" in s for s in sources[risk:card])
    demand = demand_changes(demo_lake, days=90)
    shown = next(t for t in tables if "Demand: jobs requested, biggest movers" in t)
    top = demand.iloc[0]
    assert f"{top['change']:+.1%}" in shown and "Same 90 days last year" in shown
    prices = pricing_pressure(demo_lake, days=90)
    pricing = next(t for t in tables if "Pricing: average price per completed job" in t)
    worst = prices.iloc[0]
    assert f"${worst['price']:,.0f}" in pricing and f"{worst['change']:+.1%}" in pricing
    assert "Quote discounts off list price" in "".join(tables)
    signals = next(t for t in texts if t.startswith("Jobs requested in the last 90 days"))
    assert f"{demand.attrs['total_recent']:,.0f} against {demand.attrs['total_baseline']:,.0f}" in signals


def test_monthly_review_appendix_has_model_cards_scored_from_recorded_runs(monthly_review):
    """Issue 13: a model card per engine in the appendix; the scorecard's 30-day accuracy from the recorded run."""
    _, executed, outputs = monthly_review
    headings = [c.source.splitlines()[0] for c in executed.cells if c.cell_type == "markdown"]
    assert headings[-1] == "## Appendix: model cards"
    tables = [o["data"].get("text/html", "") for o in outputs if "data" in o]
    cards = next(t for t in tables if "Model cards: what each engine predicts" in t)
    for engine in ("revenue_forecast", "demand_forecast", "churn_risk", "clv"):
        assert engine in cards
    scores = next(t for t in tables if "Model scores per run and horizon" in t)
    assert "revenue_forecast" in scores
    card = next(t for t in tables if "Success scorecard against 2023" in t)
    assert "mean of 1 recorded run" in card


def test_monthly_review_financial_performance_has_activity_based_profitability(monthly_review, demo_lake):
    """Issue 14: the monthly review gains a profitability section (the costing engine's figures)."""
    from quantlib.finance.profitability import cost_jobs, profit_by

    _, executed, outputs = monthly_review
    sources = [c.source for c in executed.cells]
    financial = next(i for i, s in enumerate(sources) if s.startswith("## Financial performance"))
    section = next(i for i, s in enumerate(sources) if s.startswith("### Profitability"))
    operations = next(i for i, s in enumerate(sources) if s.startswith("## Operational metrics"))
    assert financial < section < operations
    tables = [o["data"].get("text/html", "") for o in outputs if "data" in o]
    shown = next(t for t in tables if "Profit by service line, overhead assigned by activity" in t)
    with duckdb.connect(str(demo_lake.gold), read_only=True) as con:
        as_of = con.execute("SELECT as_of FROM build_params").fetchone()[0]
    by_line = profit_by(cost_jobs(demo_lake, as_of, months=NOTEBOOKS["monthly_business_review"]["months"]),
                        "service line")
    for row in by_line.itertuples():
        assert row[1] in shown and f"{row.margin:.1%}" in shown
    assert any("Where margin leaks" in t for t in tables)


def test_monthly_review_shows_the_open_comments(monthly_review):
    _, executed, outputs = monthly_review
    tables = [o["data"].get("text/html", "") for o in outputs if "data" in o]
    comments = next(t for t in tables if "Open comments" in t)
    assert "Storm week &lt;b&gt;two vans down&lt;/b&gt;" in comments and "daily revenue at 2024-12-03" in comments
    assert "Old, resolved" not in comments
