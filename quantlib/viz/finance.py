"""Finance charts: a waterfall of the steps from zero to a total, and actual-against-plan variances."""

from __future__ import annotations

from collections.abc import Iterable

import altair as alt
import numpy as np
import pandas as pd

from quantlib.viz._style import FAVOURABLE, INK, MONEY, MUTED, NEUTRAL, UNFAVOURABLE, require_columns

__all__ = ["variance_chart", "variance_table", "waterfall", "waterfall_steps"]


def _format(value: float, number_format: str, signed: bool = False) -> str:
    """``value`` as text in the d3 ``number_format`` (``$,.0f``, ``,.1f``, ``.1%``), optionally signed.

    Python's format mini-language agrees with d3's for these; other d3 formats fall back to ``,.0f``.
    """
    prefix = "$" if number_format.startswith("$") else ""
    spec = number_format.removeprefix("$")
    try:
        digits = format(abs(value), spec)
    except ValueError:
        digits = format(abs(value), ",.0f")
    sign = ("+" if value >= 0 else "−") if signed else ("-" if value < 0 else "")
    return f"{sign}{prefix}{digits}"


def waterfall_steps(steps: pd.DataFrame, label: str = "label", amount: str = "amount",
                    total_label: str = "Total", value_format: str = MONEY, opening: bool = False,
                    subtotals: Iterable[str] = ()) -> pd.DataFrame:
    """The bars of a waterfall: each step floats from the running total before it to the one after.

    Parameters
    ----------
    steps : DataFrame
        One row per step, in order: ``label`` and a signed ``amount``.
    total_label : str
        The name of the last bar, the total (from 0 to the sum of the amounts).
    value_format : str
        d3 number format of the bars' labels.
    opening : bool
        The first step is an opening balance (last month's revenue, the cash at the start): drawn
        as a total from 0, its label without a sign.
    subtotals : iterable of str
        Labels of steps that are checkpoints (gross margin between revenue and overheads): drawn
        as totals from 0 to the running total there, not added to it; their ``amount`` must equal it.

    Returns
    -------
    DataFrame
        ``label, amount, start, end, kind`` (``increase`` / ``decrease`` / ``total``),
        ``order`` (position), ``next_label`` (the bar the connector after this one leads to,
        missing for the total) and ``text`` (a step's amount with its sign, the total's as is).
    """
    require_columns(steps, [label, amount], "steps")
    amounts = steps[amount].astype(float).to_numpy()
    if np.isnan(amounts).any():
        raise ValueError(f"steps: {amount} has missing values")
    labels = steps[label].astype(str).tolist()
    if total_label in labels:
        raise ValueError(f"a step is already called {total_label!r}; pass another total_label")
    checkpoints = set(subtotals)
    is_subtotal = np.array([name in checkpoints for name in labels], dtype=bool)
    increments = np.where(is_subtotal, 0.0, amounts)
    end = np.cumsum(increments)
    start = np.where(is_subtotal, 0.0, end - increments)
    for i in np.flatnonzero(is_subtotal):
        if not np.isclose(amounts[i], end[i], rtol=1e-9, atol=0.005):
            raise ValueError(f"steps: subtotal {labels[i]!r} is {amounts[i]:,.2f} but the steps before it add up "
                             f"to {end[i]:,.2f}")
    total = float(end[-1]) if len(end) else 0.0
    kinds = ["total" if sub else ("increase" if a >= 0 else "decrease") for a, sub in zip(amounts, is_subtotal)]
    if opening and len(kinds):
        kinds[0] = "total"
    bars = pd.DataFrame({
        "label": labels + [total_label],
        "amount": np.append(np.where(is_subtotal, end, amounts), total),
        "start": np.append(start, 0.0),
        "end": np.append(end, total),
        "kind": kinds + ["total"],
    })
    bars["order"] = np.arange(len(bars))
    bars["next_label"] = bars["label"].shift(-1)
    bars.loc[bars.index[-1], "next_label"] = None
    bars["text"] = [_format(a, value_format, signed=kind != "total") for a, kind in zip(bars["amount"], bars["kind"])]
    return bars


def waterfall(steps: pd.DataFrame, label: str = "label", amount: str = "amount", total_label: str = "Total", *,
              opening: bool = False, subtotals: Iterable[str] = (), label_angle: int = 0,
              title: str = "", value_title: str = "Amount", value_format: str = MONEY, width: int = 560,
              height: int = 300) -> alt.LayerChart:
    """A waterfall from 0: a floating bar per step (green up, red down), a total bar, connectors, labels.

    Parameters
    ----------
    steps : DataFrame
        One row per step, in order, with a ``label`` and a signed ``amount`` (e.g. revenue,
        then costs as negative amounts).
    label, amount : str
        Column names.
    total_label : str
        Name of the total bar.
    opening : bool
        The first step is an opening balance, drawn like a total (:func:`waterfall_steps`).
    subtotals : iterable of str
        Checkpoint steps drawn as totals (:func:`waterfall_steps`).
    label_angle : int
        Angle of the step labels (e.g. -35 for many long ones).
    title, value_title, value_format : str
        Chart title, the value axis' title and its d3 format (also used for the bar labels).
    width, height : int
        Plot size in pixels.

    Returns
    -------
    alt.LayerChart
    """
    bars = waterfall_steps(steps, label, amount, total_label, value_format, opening=opening, subtotals=subtotals)
    bars["top"] = bars[["start", "end"]].max(axis=1)
    bars["bottom"] = bars[["start", "end"]].min(axis=1)
    order = bars["label"].tolist()
    x = alt.X("label:N", sort=order, title=None, axis=alt.Axis(labelAngle=label_angle, labelLimit=110))
    kinds = alt.Scale(domain=["increase", "decrease", "total"], range=[FAVOURABLE, UNFAVOURABLE, NEUTRAL])
    base = alt.Chart(bars)
    floating = base.mark_bar(width={"band": 0.7}).encode(
        x=x,
        y=alt.Y("start:Q", title=value_title, axis=alt.Axis(format=value_format)),
        y2="end:Q",
        color=alt.Color("kind:N", scale=kinds, title=None, legend=None),
        tooltip=[alt.Tooltip("label:N", title="Step"), alt.Tooltip("amount:Q", title=value_title,
                                                                    format=value_format),
                 alt.Tooltip("end:Q", title="Running total", format=value_format)],
    )
    # A connector joins a bar's end to the next bar, at the running total they share.
    connectors = base.transform_filter("datum.next_label != null").mark_rule(color=MUTED, strokeDash=[3, 3]).encode(
        x=alt.X("label:N", sort=order, bandPosition=0.85), x2=alt.X2("next_label:N", bandPosition=0.15),
        y="end:Q")
    rises = base.transform_filter("datum.amount >= 0").mark_text(baseline="bottom", dy=-3, fontSize=10,
                                                                 color=INK).encode(x=x, y="top:Q", text="text:N")
    falls = base.transform_filter("datum.amount < 0").mark_text(baseline="top", dy=3, fontSize=10,
                                                                color=INK).encode(x=x, y="bottom:Q", text="text:N")
    zero = alt.Chart(pd.DataFrame({"zero": [0.0]})).mark_rule(color="#999999").encode(y="zero:Q")
    return alt.layer(floating, zero, connectors, rises, falls, title=title).properties(width=width, height=height)


def variance_table(frame: pd.DataFrame, item: str = "item", actual: str = "actual", plan: str = "plan",
                   favourable: str = "higher") -> pd.DataFrame:
    """Per item: ``variance`` (actual − plan), ``variance_pct`` (of plan), ``favourable`` and its label.

    Parameters
    ----------
    favourable : {"higher", "lower"}
        Whether an actual above plan is good news (revenue) or bad news (costs).

    Returns
    -------
    DataFrame
        ``item, actual, plan, variance, variance_pct`` (NaN when plan is 0), ``favourable``
        (bool; no variance counts as favourable), ``outcome`` (``favourable`` /
        ``unfavourable``) and ``pct_label`` (``+5.2%``, ``−3.0%`` with a minus sign; ``n/a`` without a plan).
    """
    if favourable not in ("higher", "lower"):
        raise ValueError(f"favourable must be 'higher' or 'lower', got {favourable!r}")
    require_columns(frame, [item, actual, plan], "frame")
    out = frame[[item, actual, plan]].copy()
    out["variance"] = out[actual].astype(float) - out[plan].astype(float)
    out["variance_pct"] = out["variance"] / out[plan].astype(float).where(out[plan] != 0).abs()
    good = out["variance"] >= 0 if favourable == "higher" else out["variance"] <= 0
    out["favourable"] = good
    out["outcome"] = np.where(good, "favourable", "unfavourable")
    out["pct_label"] = [("n/a" if np.isnan(p) else f"{p:+.1%}".replace("-", "−")) for p in out["variance_pct"]]
    return out


def variance_chart(frame: pd.DataFrame, item: str = "item", actual: str = "actual", plan: str = "plan",
                   favourable: str = "higher", *, title: str = "Actual against plan",
                   value_title: str = "Variance (actual − plan)", value_format: str = MONEY, sort: bool = False,
                   width: int = 520, bar_height: int = 22) -> alt.LayerChart:
    """Diverging horizontal bars of each item's variance from plan, coloured favourable / unfavourable.

    Parameters
    ----------
    frame : DataFrame
        One row per item with its ``actual`` and ``plan``.
    item, actual, plan : str
        Column names.
    favourable : {"higher", "lower"}
        ``"higher"`` when beating plan means a higher actual (revenue, jobs), ``"lower"`` when
        it means a lower one (costs, hours).
    title, value_title, value_format : str
        Chart title, the variance axis' title and its d3 format.
    sort : bool
        Order items by variance (largest first) instead of keeping the frame's order.
    width, bar_height : int
        Plot width and the height of one item's row, in pixels.

    Returns
    -------
    alt.LayerChart
        Bars from zero to the variance, a zero rule and the % variance labelled at each bar's end.
    """
    data = variance_table(frame, item, actual, plan, favourable)
    data = data.rename(columns={item: "item", actual: "actual", plan: "plan"})
    order = (data.sort_values("variance", ascending=False) if sort else data)["item"].astype(str).tolist()
    outcomes = alt.Scale(domain=["favourable", "unfavourable"], range=[FAVOURABLE, UNFAVOURABLE])
    # Zero in the middle, and room beyond the longest bar for its label.
    reach = 1.25 * (float(data["variance"].abs().max()) or 1.0)
    y = alt.Y("item:N", sort=order, title=None, axis=alt.Axis(labelLimit=160, ticks=False, domain=False))
    base = alt.Chart(data)
    bars = base.mark_bar().encode(
        x=alt.X("variance:Q", title=value_title, axis=alt.Axis(format=value_format, tickCount=6),
                scale=alt.Scale(domain=[-reach, reach])),
        y=y,
        color=alt.Color("outcome:N", scale=outcomes, title=None, legend=alt.Legend(symbolType="square")),
        tooltip=[alt.Tooltip("item:N", title=item.replace("_", " ").capitalize()),
                 alt.Tooltip("actual:Q", title="Actual", format=value_format),
                 alt.Tooltip("plan:Q", title="Plan", format=value_format),
                 alt.Tooltip("variance:Q", title="Variance", format=value_format),
                 alt.Tooltip("variance_pct:Q", title="Variance %", format="+.1%")],
    )
    labels_right = base.transform_filter("datum.variance >= 0").mark_text(align="left", dx=4, fontSize=10,
                                                                          color=INK).encode(
        x="variance:Q", y=y, text="pct_label:N")
    labels_left = base.transform_filter("datum.variance < 0").mark_text(align="right", dx=-4, fontSize=10,
                                                                        color=INK).encode(
        x="variance:Q", y=y, text="pct_label:N")
    zero = alt.Chart(pd.DataFrame({"zero": [0.0]})).mark_rule(color="#999999").encode(x="zero:Q")
    return alt.layer(bars, zero, labels_right, labels_left, title=title).properties(
        width=width, height=alt.Step(bar_height))
