"""Waterfall and variance charts: running totals, the total bar, signs and favourable colours."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantlib.viz import variance_chart, waterfall
from quantlib.viz._style import FAVOURABLE, NEUTRAL, UNFAVOURABLE
from quantlib.viz.finance import variance_table, waterfall_steps
from tests.viz.helpers import aria_labels, marks, render_svg, texts


@pytest.fixture
def steps():
    return pd.DataFrame({"step": ["Revenue", "Labour", "Materials", "Overhead", "Other income"],
                         "value": [120_000.0, -42_000.0, -23_000.0, -30_000.0, 4_000.0]})


@pytest.fixture
def budget():
    return pd.DataFrame({"line": ["HVAC", "Plumbing", "Electrical", "New line"],
                         "actual": [105_000.0, 48_000.0, 30_000.0, 1_000.0],
                         "plan": [100_000.0, 52_000.0, 30_000.0, 0.0]})


def test_steps_float_from_running_total_and_end_in_the_total(steps):
    bars = waterfall_steps(steps, label="step", amount="value", total_label="Profit")
    assert bars["label"].tolist() == [*steps["step"], "Profit"]
    assert bars["end"].iloc[-1] == steps["value"].sum() == 29_000.0
    assert bars["start"].iloc[-1] == 0.0
    np.testing.assert_allclose(bars["start"].iloc[1:-1], bars["end"].iloc[:-2])  # each step starts where one ended
    np.testing.assert_allclose(bars["end"] - bars["start"], bars["amount"])
    assert bars["kind"].tolist() == ["increase", "decrease", "decrease", "decrease", "increase", "total"]
    assert bars["next_label"].tolist()[:-1] == bars["label"].tolist()[1:] and bars["next_label"].iloc[-1] is None
    assert bars["text"].tolist() == ["+$120,000", "−$42,000", "−$23,000", "−$30,000", "+$4,000", "$29,000"]


def test_waterfall_renders_labelled_bars_connectors_and_colours(steps):
    svg = render_svg(waterfall(steps, "step", "value", title="Revenue to profit"))
    words = texts(svg)
    for text in ["+$120,000", "−$42,000", "+$4,000", "$29,000", "Total", "Revenue to profit"]:
        assert text in words
    bars = marks(svg, "bar")
    assert len(bars) == len(steps) + 1
    fills = " ".join(bars)
    assert FAVOURABLE in fills and UNFAVOURABLE in fills and NEUTRAL in fills
    assert len(marks(svg, "rule")) == len(steps) + 1  # a connector between every pair of bars, the zero line
    assert any("Step: Total" in label and "Running total: $29,000" in label for label in aria_labels(svg))


def test_an_opening_balance_is_drawn_like_a_total(steps):
    bars = waterfall_steps(steps, label="step", amount="value", total_label="Profit", opening=True)
    assert bars["kind"].tolist() == ["total", "decrease", "decrease", "decrease", "increase", "total"]
    assert bars["text"].iloc[0] == "$120,000" and bars["start"].iloc[0] == 0.0
    fills = " ".join(marks(render_svg(waterfall(steps, "step", "value", opening=True)), "bar"))
    assert fills.count(NEUTRAL) == 2 and FAVOURABLE in fills  # the opening and the total; Other income


def test_subtotals_are_checkpoints_drawn_from_zero():
    steps = pd.DataFrame({"step": ["List price", "Discounts", "Revenue", "Labour", "Margin", "Overhead"],
                          "value": [1_000.0, -100.0, 900.0, -300.0, 600.0, -200.0]})
    bars = waterfall_steps(steps, "step", "value", total_label="Net profit", opening=True,
                           subtotals=["Revenue", "Margin"])
    assert bars["kind"].tolist() == ["total", "decrease", "total", "decrease", "total", "decrease", "total"]
    assert bars["start"].tolist() == [0, 1_000, 0, 900, 0, 600, 0]
    assert bars["end"].tolist() == [1_000, 900, 900, 600, 600, 400, 400]
    assert bars["text"].tolist() == ["$1,000", "−$100", "$900", "−$300", "$600", "−$200", "$400"]
    with pytest.raises(ValueError, match="subtotal 'Margin' is 650.00 but the steps before it add up to 600.00"):
        waterfall_steps(steps.assign(value=[1_000.0, -100.0, 900.0, -300.0, 650.0, -200.0]), "step", "value",
                        subtotals=["Revenue", "Margin"])


def test_waterfall_refuses_a_step_named_like_the_total(steps):
    with pytest.raises(ValueError, match="total_label"):
        waterfall_steps(steps.assign(step=["Total", *steps["step"][1:]]), "step", "value")


@pytest.mark.parametrize("favourable, expected", [("higher", [True, False, True, True]),
                                                   ("lower", [False, True, True, False])])
def test_variance_is_favourable_by_direction(budget, favourable, expected):
    table = variance_table(budget, "line", favourable=favourable)
    assert table["variance"].tolist() == [5_000.0, -4_000.0, 0.0, 1_000.0]
    assert table["favourable"].tolist() == expected
    np.testing.assert_allclose(table["variance_pct"].iloc[:3], [0.05, -4 / 52, 0.0])
    assert np.isnan(table["variance_pct"].iloc[3])
    assert table["pct_label"].tolist() == ["+5.0%", "−7.7%", "+0.0%", "n/a"]


def test_variance_chart_labels_percentages_and_colours_outcomes(budget):
    svg = render_svg(variance_chart(budget, item="line", favourable="lower", sort=True))
    words = texts(svg)
    for text in ["+5.0%", "−7.7%", "n/a", "HVAC", "Plumbing"]:
        assert text in words
    bars = marks(svg, "bar")
    assert len(bars) == len(budget)
    plumbing = next(b for b in bars if "line: Plumbing" in b or "Line: Plumbing" in b)
    hvac = next(b for b in bars if "Line: HVAC" in b)
    assert FAVOURABLE in plumbing and UNFAVOURABLE in hvac  # lower is better: under plan is good news
    # Sorted by variance: HVAC (+5,000) first, Plumbing (−4,000) last.
    order = [w for w in words if w in set(budget["line"])]
    assert order[0] == "HVAC" and order[-1] == "Plumbing"


def test_variance_direction_is_checked(budget):
    with pytest.raises(ValueError, match="favourable"):
        variance_table(budget, "line", favourable="up")
