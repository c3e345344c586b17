"""The quote pricer (``notebooks/apps/quote_pricer.ipynb``): pick a customer, service line, job type
and urgency; read the cost build-up, the rule price, the risks, the recommended price with its win
probability and expected margin, the win curve; try any price with a slider.

The numbers come from :class:`quantlib.pricing.quote.QuotePricer` (fitted once per app, about
4 s) and :func:`quantlib.pricing.optimal.expected_margin`; this module only lays them out.
"""

from __future__ import annotations

import html
import logging

import numpy as np
import pandas as pd

from quantlib.apps.base import WidgetApp, gold_from_parameters
from quantlib.apps.base import chart_svg as svg_of
from quantlib.pricing.cost import PricingError
from quantlib.pricing.optimal import expected_margin
from quantlib.pricing.quote import QuoteAdvice, QuotePricer
from quantlib.pricing.rules import URGENCY_FACTORS

__all__ = ["QuotePricerApp", "pricer_from_parameters"]

log = logging.getLogger(__name__)

CHART_WIDTH = 620
CSS = """
<style>
.qp-root { font-family: Liberation Sans, Helvetica, Arial, sans-serif; color: #333; }
.qp-root h1 { font-size: 22px; font-weight: 600; margin: 4px 0 2px 0; }
.qp-sub { font-size: 13px; color: #666; }
.qp-panel { background: #fff; border: 1px solid #e2e5e9; border-radius: 6px; padding: 10px 12px; margin: 8px 8px 0 0; }
.qp-panel h2 { font-size: 15px; font-weight: 600; margin: 0 0 6px 0; }
table.qp-table { border-collapse: collapse; font-size: 12.5px; }
table.qp-table th { text-align: left; color: #5c6670; border-bottom: 2px solid #e2e5e9; padding: 3px 8px; }
table.qp-table td { padding: 3px 8px; border-bottom: 1px solid #eef0f2; }
table.qp-table td.num { text-align: right; white-space: nowrap; }
.qp-big { font-size: 24px; font-weight: 600; }
.qp-message { color: #a8352e; font-weight: 600; }
</style>
"""


def _money(x: float) -> str:
    return f"${x:,.2f}"


class QuotePricerApp(WidgetApp):
    """The quote pricer: one quote's build-up, recommended price and win curve, and a price slider.

    Parameters
    ----------
    pricer : QuotePricer
        Fitted (:meth:`QuotePricer.fit`).
    company : str
        Shown as the title.

    Notes
    -----
    :meth:`advise` and :meth:`at_price` are the figures the widgets show; they hold no widgets,
    so they can be checked against the engine directly.
    """

    def __init__(self, pricer: QuotePricer, company: str = ""):
        self.pricer = pricer
        self.company = company
        history = pricer.cost_model_.history_.index
        self.service_lines_ = sorted(history.get_level_values(0).unique())
        # Every job type of any line: a type never done on the chosen line shows a message.
        self.job_types_ = sorted(history.get_level_values(1).unique())
        self.urgencies_ = list(URGENCY_FACTORS)
        customers = pricer.customers_.sort_values(["name", "customer_id"])
        self.customer_options_ = [(f"{r.name} ({r.customer_id})", r.customer_id)
                                  for r in customers.itertuples(index=False)]
        # Start on a line and job type the rule pricer has a markup for (one it can price).
        priced = list(pricer.rules_.markup_.index)
        installs = [pair for pair in priced if pair[1] == "install"]
        self.default_line_, self.default_job_type_ = (installs or priced or [history[0]])[0]
        self._advice: dict[tuple, QuoteAdvice] = {}
        self._curves: dict[tuple, object] = {}
        self._widget = None

    # ------------------------------------------------------------------ figures

    def advise(self, customer_id: str, service_line: str, job_type: str, urgency: str) -> QuoteAdvice:
        """``QuotePricer.quote`` of the selection (remembered, so the slider does not re-price).

        Raises
        ------
        PricingError
            Unknown customer, line, job type or urgency; no price in the guard rails.
        """
        key = (customer_id, service_line, job_type, urgency)
        if key not in self._advice:
            self._advice[key] = self.pricer.quote(customer_id, service_line, job_type, urgency)
        return self._advice[key]

    def price_range(self, advice: QuoteAdvice) -> tuple[float, float]:
        """The slider's range: from the cost to 25 % above the upper guard rail, in whole dollars."""
        rec = advice.recommendation
        low = float(np.floor(min(advice.cost.total, rec.lower)))
        return low, float(np.ceil(rec.upper * 1.25))

    def at_price(self, advice: QuoteAdvice, prices) -> pd.DataFrame:
        """``price, win_probability, expected_margin`` of quoting ``prices`` (array-like) for this quote."""
        key = (advice.customer_id, advice.rule.service_line, advice.rule.urgency, advice.rule.total)
        if key not in self._curves:
            self._curves[key] = self.pricer.win_curve(advice.customer_id, advice.rule.service_line,
                                                      advice.rule.urgency, advice.rule.total)
        prices = np.atleast_1d(np.asarray(prices, float))
        p = self._curves[key](prices)
        return pd.DataFrame({"price": prices, "win_probability": p,
                             "expected_margin": expected_margin(prices, advice.cost.total, p, advice.risk)})

    def chart_svg(self, advice: QuoteAdvice) -> str:
        """Win probability and expected margin over the slider's range, rule and recommended prices marked."""
        import altair as alt


        low, high = self.price_range(advice)
        curve = self.at_price(advice, np.linspace(low, high, 121))
        rec = advice.recommendation
        base = alt.Chart(curve).encode(x=alt.X("price:Q", title="Quoted price", axis=alt.Axis(format="$,.0f")))
        win = base.mark_line(color="#2f6fa8").encode(
            y=alt.Y("win_probability:Q", title="P(win)", axis=alt.Axis(format=".0%", titleColor="#2f6fa8")))
        margin = base.mark_line(color="#c0792a").encode(
            y=alt.Y("expected_margin:Q", title="Expected margin",
                    axis=alt.Axis(format="$,.0f", titleColor="#c0792a")))
        marks = pd.DataFrame({"price": [rec.rule_price, rec.price],
                              "label": [f"rule {_money(rec.rule_price)}", f"recommended {_money(rec.price)}"]})
        rules = alt.Chart(marks).mark_rule(strokeDash=[4, 3], color="#555").encode(x="price:Q")
        # The two prices are often close: the lower one's label goes left of its line, the other right.
        ordered = marks.sort_values("price")
        left = alt.Chart(ordered.iloc[[0]]).mark_text(align="right", dx=-4, fontSize=11, color="#333").encode(
            x="price:Q", y=alt.value(10), text="label:N")
        right = alt.Chart(ordered.iloc[[1]]).mark_text(align="left", dx=4, fontSize=11, color="#333").encode(
            x="price:Q", y=alt.value(10), text="label:N")
        chart = (alt.layer(win, margin).resolve_scale(y="independent") + rules + left + right).properties(
            width=CHART_WIDTH, height=260)
        return svg_of(chart)

    # ------------------------------------------------------------------ widgets

    def _build(self) -> None:
        import ipywidgets as w

        style = {"description_width": "initial"}

        def dropdown(label, options, hook, width, value=None):
            box = w.Dropdown(options=options, value=value or options[0], description=label, style=style,
                             layout=w.Layout(width=width, margin="2px 14px 2px 0"))
            box.add_class(hook)
            box.observe(self._on_change, names="value")
            return box

        self.customer = dropdown("Customer", self.customer_options_, "qp-customer", "360px",
                                 self.customer_options_[0][1])
        self.service_line = dropdown("Service line", self.service_lines_, "qp-line", "220px", self.default_line_)
        self.job_type = dropdown("Job type", self.job_types_, "qp-job-type", "220px", self.default_job_type_)
        self.urgency = dropdown("Urgency", self.urgencies_, "qp-urgency", "200px")
        self.slider = w.FloatSlider(value=0.0, min=0.0, max=1.0, step=1.0, description="Try a price ($)",
                                    readout_format=".0f", continuous_update=False, style=style,
                                    layout=w.Layout(width="640px"))
        self.slider.add_class("qp-slider")
        self.slider.observe(self._on_slider, names="value")
        self.message = w.HTML()
        self.cost_panel, self.rule_panel, self.risk_panel = w.HTML(), w.HTML(), w.HTML()
        self.recommendation_panel, self.price_panel, self.chart = w.HTML(), w.HTML(), w.HTML()
        title = html.escape(self.company or "Quote pricer")
        header = w.HTML(f'<h1>{title}</h1><div class="qp-sub">Prices as of {self.pricer.as_of_:%d %b %Y}; '
                        "the win curve is learned from the company's quotes by segment, line and urgency.</div>")
        selectors = w.HBox([self.customer, self.service_line, self.job_type, self.urgency],
                           layout=w.Layout(flex_flow="row wrap", align_items="center"))
        self.details = w.VBox([
            w.HBox([self.cost_panel, self.rule_panel, self.risk_panel], layout=w.Layout(flex_flow="row wrap")),
            w.HBox([self.recommendation_panel, self.chart], layout=w.Layout(flex_flow="row wrap")),
            self.slider, self.price_panel])
        self._widget = w.VBox([w.HTML(CSS), header, selectors, self.message, self.details],
                              layout=w.Layout(padding="8px 16px", max_width="1500px"))
        self._widget.add_class("qp-root")

    def _on_change(self, _change=None) -> None:
        self.refresh()

    def selection(self) -> tuple[str, str, str, str]:
        """``customer_id, service_line, job_type, urgency`` of the dropdowns."""
        return self.customer.value, self.service_line.value, self.job_type.value, self.urgency.value

    def refresh(self) -> None:
        """Price the selection and fill every panel, or show why it cannot be priced."""
        try:
            advice = self.advise(*self.selection())
        except (PricingError, ValueError) as problem:
            self._show_message(str(problem))
            return
        except Exception as problem:  # never a stack trace in front of a user; the log has it
            log.exception("quote pricer update failed")
            self._show_message(f"Could not price this quote ({type(problem).__name__}).")
            return
        self.message.value = ""
        self.details.layout.display = None
        self.cost_panel.value = self._cost_html(advice)
        self.rule_panel.value = self._rule_html(advice)
        self.risk_panel.value = self._risk_html(advice)
        self.recommendation_panel.value = self._recommendation_html(advice)
        self.chart.value = f'<div class="qp-panel qp-chart">{self.chart_svg(advice)}</div>'
        low, high = self.price_range(advice)
        self._current = advice
        # Widen before narrowing so the slider never holds min > max.
        self.slider.max = max(high, self.slider.max)
        self.slider.min = low
        self.slider.max = high
        self.slider.value = float(round(advice.recommendation.price))
        self._on_slider()

    def _show_message(self, text: str) -> None:
        self._current = None
        self.message.value = f'<div class="qp-panel qp-message">{html.escape(text)}</div>'
        self.details.layout.display = "none"

    def _on_slider(self, _change=None) -> None:
        advice = getattr(self, "_current", None)
        if advice is None:
            return
        row = self.at_price(advice, self.slider.value).iloc[0]
        self.price_panel.value = (
            f'<div class="qp-panel qp-at-price" data-price="{row.price:.2f}" data-win="{row.win_probability:.6f}" '
            f'data-margin="{row.expected_margin:.4f}"><h2>At {_money(row.price)}</h2>'
            f"P(win) <b>{row.win_probability:.1%}</b> &middot; expected margin <b>{_money(row.expected_margin)}</b>"
            "</div>")

    @staticmethod
    def _cost_html(advice: QuoteAdvice) -> str:
        rows = "".join(f"<tr><td>{html.escape(r.component)}</td><td class='num'>{_money(r.amount)}</td>"
                       f"<td>{html.escape(r.basis)}</td></tr>" for r in advice.cost.lines().itertuples(index=False))
        return (f'<div class="qp-panel qp-cost" data-cost="{advice.cost.total:.4f}"><h2>Cost build-up</h2>'
                f'<table class="qp-table"><tbody>{rows}</tbody></table></div>')

    @staticmethod
    def _rule_html(advice: QuoteAdvice) -> str:
        rows = "".join(f"<tr><td>{html.escape(r.step)}</td><td class='num'>x {r.factor:.3g}</td>"
                       f"<td class='num'>{_money(r.price)}</td></tr>"
                       for r in advice.rule.factors().itertuples(index=False))
        return (f'<div class="qp-panel qp-rule" data-rule-price="{advice.rule.total:.4f}"><h2>Rule price '
                f'{_money(advice.rule.total)} ({html.escape(advice.segment)})</h2>'
                f'<table class="qp-table"><tbody>{rows}</tbody></table></div>')

    @staticmethod
    def _risk_html(advice: QuoteAdvice) -> str:
        risk = advice.risk
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in risk.notes)
        return (f'<div class="qp-panel qp-risk" data-cross-sell="{risk.extra_margin:.4f}"><h2>Risk adjustments</h2>'
                '<table class="qp-table"><tbody>'
                f"<tr><td>payment loss</td><td class='num'>{risk.payment_loss:.1%}</td></tr>"
                f"<tr><td>overrun</td><td class='num'>{_money(risk.completion_risk)}</td></tr>"
                f"<tr><td>weather</td><td class='num'>{_money(risk.weather_risk)}</td></tr>"
                f"<tr><td>cross-sell margin</td><td class='num'>{_money(risk.extra_margin)}</td></tr>"
                f"</tbody></table><ul class='qp-sub'>{notes}</ul></div>")

    @staticmethod
    def _recommendation_html(advice: QuoteAdvice) -> str:
        rec = advice.recommendation
        rail = f" &middot; guard rail: {html.escape(rec.binding)}" if rec.binding != "none" else ""
        return (f'<div class="qp-panel qp-recommended" data-price="{rec.price:.2f}" '
                f'data-win="{rec.win_probability:.6f}" data-margin="{rec.expected_margin:.4f}">'
                f'<h2>Recommended price</h2><div class="qp-big">{_money(rec.price)}</div>'
                f"<div>P(win) {rec.win_probability:.1%} &middot; expected margin {_money(rec.expected_margin)}</div>"
                f"<div class='qp-sub'>Rule price {_money(rec.rule_price)}: P(win) {rec.rule_win_probability:.1%}, "
                f"expected margin {_money(rec.rule_expected_margin)}</div>"
                f"<div class='qp-sub'>Guard rails {_money(rec.lower)} to {_money(rec.upper)}{rail}</div></div>")


def pricer_from_parameters(company: str = "mixed_trades", lake: str | None = None, as_of=None,
                           environ: dict | None = None) -> QuotePricerApp:
    """The fitted app of the notebook's parameters; ``QUANT_COMPANY`` / ``QUANT_LAKE`` / ``QUANT_AS_OF`` win.

    Raises
    ------
    quantlib.parameters.ParameterError
        Unknown company or a malformed date, in one line.
    FileNotFoundError
        The lake has no gold database yet.
    """
    from quantlib.data.gold import open_gold

    params, gold = gold_from_parameters(company, lake, as_of, environ)
    if not gold.exists():
        raise FileNotFoundError(f"{gold} does not exist; run 'quant warehouse build' first")
    pricer = QuotePricer().fit(gold, params.as_of)
    with open_gold(gold) as con:
        row = con.execute("SELECT any_value(company) FROM build_info").fetchone()
    return QuotePricerApp(pricer, company=(row[0] if row else None) or params.company)
