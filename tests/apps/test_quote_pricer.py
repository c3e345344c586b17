"""The quote pricer's figures and widgets, without a browser, against ``QuotePricer`` directly."""

from __future__ import annotations

import html
import re

import numpy as np
import pytest

from quantlib.apps.quote_pricer import QuotePricerApp, pricer_from_parameters
from quantlib.data.gold import open_gold
from quantlib.pricing.optimal import expected_margin
from quantlib.pricing.quote import QuotePricer


@pytest.fixture(scope="module")
def pricer(demo_lake):
    return QuotePricer().fit(demo_lake.gold)


@pytest.fixture()
def app(pricer):
    return QuotePricerApp(pricer, company="demo")


def attrs(html_text: str, cls: str) -> dict:
    tag = re.search(rf'<div class="qp-panel {cls}"([^>]*)>', html_text)
    assert tag, f"no {cls} panel in {html_text[:200]}"
    return {k: float(v) for k, v in re.findall(r'data-([a-z-]+)="([^"]+)"', tag.group(1))}


def known_pair(pricer):
    # An install (a quoted job type of the sample, so every segment prices within the rails).
    return next(pair for pair in pricer.rules_.markup_.index if pair[1] == "install"), None


def test_starts_on_a_priced_selection(app, pricer):
    app.widget  # noqa: B018 - builds and fills the widgets
    assert app.message.value == ""
    rec = pricer.quote(*app.selection()).recommendation
    assert attrs(app.recommendation_panel.value, "qp-recommended")["price"] == pytest.approx(rec.price, abs=0.005)


def test_choices_cover_every_customer_sorted_by_name(app, pricer):
    assert len(app.customer_options_) == len(pricer.customers_)
    names = [label.rsplit(" (", 1)[0] for label, _ in app.customer_options_]
    assert names == sorted(names)
    assert app.urgencies_ == ["routine", "urgent", "emergency"]


def test_selection_shows_the_engines_figures(app, pricer):
    (line, job), _ = known_pair(pricer)
    customer = app.customer_options_[3][1]
    app.widget  # noqa: B018 - builds and fills the widgets
    app.customer.value = customer
    app.service_line.value = line
    app.job_type.value = job
    app.urgency.value = "urgent"
    expected = pricer.quote(customer, line, job, "urgent")
    rec = expected.recommendation
    shown = attrs(app.recommendation_panel.value, "qp-recommended")
    assert shown["price"] == pytest.approx(rec.price, abs=0.005)
    assert shown["win"] == pytest.approx(rec.win_probability, abs=1e-6)
    assert shown["margin"] == pytest.approx(rec.expected_margin, abs=1e-4)
    assert attrs(app.cost_panel.value, "qp-cost")["cost"] == pytest.approx(expected.cost.total, abs=1e-4)
    assert attrs(app.rule_panel.value, "qp-rule")["rule-price"] == pytest.approx(expected.rule.total, abs=1e-4)
    assert attrs(app.risk_panel.value, "qp-risk")["cross-sell"] == pytest.approx(expected.cross_sell_margin, abs=1e-4)
    assert f"cross-sell margin</td><td class='num'>${expected.cross_sell_margin:,.2f}" in app.risk_panel.value
    assert f"${rec.price:,.2f}" in app.recommendation_panel.value
    assert app.message.value == "" and app.details.layout.display is None
    # The slider starts at the recommended price, inside its range.
    assert app.slider.min <= app.slider.value <= app.slider.max
    assert app.slider.value == pytest.approx(round(rec.price))
    assert app.slider.min <= rec.lower and rec.upper <= app.slider.max
    assert "<svg" in app.chart.value


def test_slider_shows_the_win_curve_at_that_price(app, pricer):
    (line, job), _ = known_pair(pricer)
    customer = app.customer_options_[0][1]
    app.widget  # noqa: B018
    app.customer.value = customer
    app.service_line.value = line
    app.job_type.value = job
    app.urgency.value = "routine"
    advice = pricer.quote(customer, line, job, "routine")
    curve = pricer.win_curve(customer, line, "routine", advice.rule.total)
    for price in (app.slider.min + 1, round(advice.rule.total), app.slider.max - 1):
        app.slider.value = float(price)
        shown = attrs(app.price_panel.value, "qp-at-price")
        p = float(curve([price])[0])
        assert shown["price"] == pytest.approx(price)
        assert shown["win"] == pytest.approx(p, abs=1e-6)
        assert shown["margin"] == pytest.approx(
            float(expected_margin(price, advice.cost.total, p, advice.risk)), abs=1e-4)
    # At the recommended price the slider agrees with the optimiser's own figures.
    figures = app.at_price(advice, [advice.recommendation.price]).iloc[0]
    assert figures["win_probability"] == pytest.approx(advice.recommendation.win_probability, abs=1e-9)
    assert figures["expected_margin"] == pytest.approx(advice.recommendation.expected_margin, abs=1e-6)
    # Higher prices are won less often.
    assert np.all(np.diff(app.at_price(advice, np.linspace(app.slider.min, app.slider.max, 20))
                          ["win_probability"]) <= 1e-12)


def test_an_impossible_selection_shows_a_message(app, pricer):
    from quantlib.pricing import PricingError

    customer = app.customer_options_[0][1]
    refused = None
    for line in app.service_lines_:
        for job in app.job_types_:
            try:
                pricer.quote(customer, line, job, "routine")
            except PricingError as problem:
                refused = (line, job, str(problem))
                break
        if refused:
            break
    assert refused, "the sample has a line and job type the engine refuses"
    line, job, reason = refused
    app.widget  # noqa: B018
    app.customer.value = customer
    app.urgency.value = "routine"
    app.service_line.value = line
    app.job_type.value = job
    assert reason and reason in html.unescape(app.message.value)
    assert "Traceback" not in app.message.value
    assert app.details.layout.display == "none"
    # A possible selection brings the panels back.
    (ok_line, ok_job), _ = known_pair(pricer)
    app.service_line.value = ok_line
    app.job_type.value = ok_job
    assert app.message.value == "" and app.details.layout.display is None


def test_from_parameters_reads_the_environment(demo_lake):
    app = pricer_from_parameters("seasonal_outdoor", environ={"QUANT_COMPANY": "mixed_trades",
                                                              "QUANT_LAKE": str(demo_lake.root)})
    with open_gold(demo_lake.gold) as con:
        assert app.company == con.execute("SELECT any_value(company) FROM build_info").fetchone()[0]
    assert app.pricer.as_of_ == QuotePricer().fit(demo_lake.gold).as_of_
    assert len(app.customer_options_) > 0
