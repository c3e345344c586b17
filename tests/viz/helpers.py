"""Rendering charts the way reports do (vl-convert, house theme, offline) and reading the SVG back."""

from __future__ import annotations

import re

import altair as alt
import vl_convert as vlc

from quantlib.views.theme import THEME_NAME


def spec_of(chart) -> dict:
    """The chart's Vega-Lite spec with the house theme's config."""
    with alt.theme.enable(THEME_NAME):
        return chart.to_dict()


def render_svg(chart) -> str:
    """The chart as SVG, rendered by vl-convert; fails if the spec points at anything outside itself."""
    spec = spec_of(chart)
    assert not list(_urls(spec)), "a chart must carry its data inline"
    svg = vlc.vegalite_to_svg(spec)
    assert svg.startswith("<svg") and "<script" not in svg
    return svg


def _urls(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "url":
                yield v
            yield from _urls(v)
    elif isinstance(node, list):
        for v in node:
            yield from _urls(v)


def aria_labels(svg: str) -> list[str]:
    """The marks' accessible labels: Vega writes each mark's tooltip fields into them."""
    return re.findall(r'aria-label="([^"]*)"', svg)


def texts(svg: str) -> list[str]:
    """The contents of the SVG's ``<text>`` elements (labels, titles, axis ticks), unescaped."""
    found = re.findall(r"<text[^>]*>(.*?)</text>", svg, flags=re.S)
    return [t.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">").replace("&#39;", "'")
            .replace("&quot;", '"') for t in found]


def mark_texts(svg: str) -> list[str]:
    """The texts of ``text`` marks only (not of axes, legends or titles)."""
    groups = re.findall(r'<g class="mark-text role-mark[^"]*"[^>]*>(.*?)</g>', svg, flags=re.S)
    return [t for group in groups for t in texts(group)]


def marks(svg: str, kind: str) -> list[str]:
    """The SVG elements of the marks of one kind (``rect``, ``area``, ``geoshape``, ``text`` ...)."""
    return re.findall(rf'<(?:path|line)[^>]*aria-roledescription="{kind}(?: mark)?"[^>]*>', svg)


def inline_datasets(spec: dict) -> list[list[dict]]:
    """Every inline dataset of a spec (top-level ``datasets`` and ``data.values``)."""
    out = list(spec.get("datasets", {}).values())

    def walk(node):
        if isinstance(node, dict):
            data = node.get("data")
            if isinstance(data, dict) and isinstance(data.get("values"), list):
                out.append(data["values"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(spec)
    return out
