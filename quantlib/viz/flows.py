"""Flow charts: the customer journey as a Sankey diagram.

Vega-Lite has no Sankey mark, so :func:`sankey_layout` computes the geometry in pandas (a node
per stage, a band per flow sampled along a smooth S-curve) and :func:`journey_sankey` draws it
with plain marks (``rect``, ``area``, ``text``): the chart stays a static SVG with no custom
JavaScript.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from quantlib.viz._style import INK, NEUTRAL, UNFAVOURABLE, require_columns

__all__ = ["SankeyLayout", "journey_sankey", "sankey_layout"]


class SankeyLayout:
    """The geometry of a journey Sankey, in data units (x: stage index, y: customers).

    Attributes
    ----------
    nodes : DataFrame
        One rectangle per stage and per drop-off sink: ``name, kind`` (``stage`` / ``lost``),
        ``x, x2, y, y2``, ``count``.
    bands : DataFrame
        Band outlines, ``samples`` points each: ``band`` (an id), ``kind`` (``continued`` /
        ``lost``), ``source, target, x, y, y2`` (bottom and top edge), ``count``, ``rate``
        (the share of the source stage the band carries).
    drops : DataFrame
        One row per stage that has a next stage: ``stage, dropped, drop_rate, label`` and the
        label's position ``x, y`` (under its sink).
    """

    def __init__(self, nodes: pd.DataFrame, bands: pd.DataFrame, drops: pd.DataFrame):
        self.nodes, self.bands, self.drops = nodes, bands, drops


def _s_curve(samples: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions ``t`` in [0, 1] and the smooth step ``(1 - cos(pi t)) / 2``: flat at both ends."""
    t = np.linspace(0.0, 1.0, samples)
    return t, (1.0 - np.cos(np.pi * t)) / 2.0


def _band(band: str, kind: str, source: str, target: str, x0: float, x1: float, start: tuple[float, float],
          end: tuple[float, float], count: float, rate: float, samples: int) -> pd.DataFrame:
    """A band from the edge ``start`` (bottom, top) at ``x0`` to the edge ``end`` at ``x1``."""
    t, ease = _s_curve(samples)
    return pd.DataFrame({
        "band": band, "kind": kind, "source": source, "target": target,
        "x": x0 + (x1 - x0) * t,
        "y": start[0] + (end[0] - start[0]) * ease,
        "y2": start[1] + (end[1] - start[1]) * ease,
        "count": count, "rate": rate,
    })


def _drop_label(rate: float, dropped: float) -> str:
    return "no entries" if np.isnan(rate) else f"{rate:.1%} lost ({dropped:,.0f})"


def sankey_layout(stages: pd.DataFrame, node_width: float = 0.14, samples: int = 20) -> SankeyLayout:
    """Nodes, bands and drop-off labels of a journey Sankey.

    Each stage is a node at ``x = i`` whose height is its count, centred on ``y = 0``. The top
    part of a node (``continued``) flows to the next node; the bottom part (``dropped``) flows
    down to a "lost" sink half-way to the next stage, below the tallest node.

    Parameters
    ----------
    stages : DataFrame
        ``stage, count, continued, dropped, drop_rate`` in journey order
        (:func:`quantlib.kpi.journey.journey_stages`).
    node_width : float
        A node's width, as a share of the distance between two stages.
    samples : int
        Points along each band's S-curve.

    Returns
    -------
    SankeyLayout
    """
    require_columns(stages, ["stage", "count", "continued", "dropped", "drop_rate"], "stages")
    if len(stages) < 2:
        raise ValueError("a journey needs at least two stages")
    names = stages["stage"].astype(str).tolist()
    counts = stages["count"].astype(float).to_numpy()
    # A stage can have more entries than the one before (several quotes per lead): nothing is
    # drawn as lost then, and the band simply widens into the bigger node.
    dropped = np.clip(pd.to_numeric(stages["dropped"], errors="coerce").fillna(0).astype(float).to_numpy(), 0, None)
    tallest = counts.max() if counts.max() > 0 else 1.0
    sink_top = -tallest / 2 - 0.25 * tallest
    half = node_width / 2

    nodes = [{"name": name, "kind": "stage", "x": i - half, "x2": i + half, "y": -c / 2, "y2": c / 2, "count": c}
             for i, (name, c) in enumerate(zip(names, counts))]
    bands, drops = [], []
    for i in range(len(names) - 1):
        c, lost, rate = counts[i], dropped[i], float(stages["drop_rate"].iloc[i])
        bottom = -c / 2
        # The continued flow leaves the top of the node, the lost flow its bottom.
        kept = c - lost
        bands.append(_band(f"{i}-continued", "continued", names[i], names[i + 1], i + half, i + 1 - half,
                           (c / 2 - kept, c / 2), (-counts[i + 1] / 2, counts[i + 1] / 2), counts[i + 1],
                           counts[i + 1] / c if c else np.nan, samples))
        sink_x = i + 0.5
        if lost > 0:
            bands.append(_band(f"{i}-lost", "lost", names[i], "Lost", i + half, sink_x - half / 2,
                               (bottom, bottom + lost), (sink_top - lost, sink_top), lost, rate, samples))
            nodes.append({"name": f"Lost after {names[i].lower()}", "kind": "lost", "x": sink_x - half / 2,
                          "x2": sink_x + half / 2, "y": sink_top - lost, "y2": sink_top, "count": lost})
        drops.append({"stage": names[i], "dropped": float(stages["dropped"].iloc[i]), "drop_rate": rate,
                      "label": _drop_label(rate, float(stages["dropped"].iloc[i])), "x": sink_x, "y": sink_top - lost})
    return SankeyLayout(pd.DataFrame(nodes), pd.concat(bands, ignore_index=True), pd.DataFrame(drops))


def journey_sankey(stages: pd.DataFrame, *, title: str = "Customer journey: lead to paid invoice",
                   width: int = 640, height: int = 320) -> alt.LayerChart:
    """A Sankey of the customer journey with a drop-off band, and its rate, at every stage.

    Parameters
    ----------
    stages : DataFrame
        :func:`quantlib.kpi.journey.journey_stages`: ``stage, count, continued, dropped,
        drop_rate`` in journey order.
    title : str
        The chart's title.
    width, height : int
        Plot size in pixels.

    Returns
    -------
    alt.LayerChart
        Nodes (a bar per stage, as tall as its count), bands to the next stage, a red band per
        stage down to its "lost" sink labelled with the drop rate, and the stages' names and
        counts above the nodes.
    """
    layout = sankey_layout(stages)
    x_scale = alt.Scale(domain=[-0.5, len(stages) - 0.5], nice=False)
    y_scale = alt.Scale(nice=False, zero=False)
    x, y = alt.X("x:Q", axis=None, scale=x_scale), alt.Y("y:Q", axis=None, scale=y_scale)
    kinds = alt.Scale(domain=["continued", "lost", "stage"], range=[NEUTRAL, UNFAVOURABLE, NEUTRAL])

    bands = alt.Chart(layout.bands).mark_area(opacity=0.35, interpolate="linear").encode(
        x=x, y=y, y2="y2:Q", detail="band:N", color=alt.Color("kind:N", scale=kinds, legend=None),
        tooltip=[alt.Tooltip("source:N", title="From"), alt.Tooltip("target:N", title="To"),
                 alt.Tooltip("count:Q", title="Count", format=",.0f"),
                 alt.Tooltip("rate:Q", title="Share of stage", format=".1%")],
    )
    nodes = alt.Chart(layout.nodes).mark_rect().encode(
        x=x, x2="x2:Q", y=y, y2="y2:Q", color=alt.Color("kind:N", scale=kinds, legend=None),
        tooltip=[alt.Tooltip("name:N", title="Stage"), alt.Tooltip("count:Q", title="Count", format=",.0f")],
    )
    stage_nodes = layout.nodes[layout.nodes["kind"] == "stage"].assign(
        mid=lambda d: (d["x"] + d["x2"]) / 2, count_label=lambda d: d["count"].map("{:,.0f}".format))
    above = alt.Chart(stage_nodes).encode(x=alt.X("mid:Q", axis=None, scale=x_scale),
                                          y=alt.Y("y2:Q", axis=None, scale=y_scale))
    stage_names = above.mark_text(baseline="bottom", dy=-18, fontSize=11, fontWeight=600, color=INK).encode(
        text="name:N")
    stage_counts = above.mark_text(baseline="bottom", dy=-4, fontSize=11, color=INK).encode(text="count_label:N")
    drop_labels = alt.Chart(layout.drops).mark_text(baseline="top", dy=4, fontSize=10, color=UNFAVOURABLE).encode(
        x=x, y=y, text="label:N",
        tooltip=[alt.Tooltip("stage:N", title="Lost after"), alt.Tooltip("dropped:Q", title="Lost", format=",.0f"),
                 alt.Tooltip("drop_rate:Q", title="Drop rate", format=".1%")],
    )
    layers = [bands, nodes, stage_names, stage_counts, drop_labels]
    return alt.layer(*layers, title=title).properties(width=width, height=height)
