"""Sanitise a rendered report: keep what reports show, drop anything that could run.

Notebook outputs and markdown cells can carry arbitrary HTML (a customer name with markup, a
pasted snippet, a library's widget). The report body is passed through an allow-list
sanitiser (`nh3 <https://nh3.readthedocs.io>`_, the Rust *ammonia* library): tables, text,
inline SVG charts, images as ``data:`` URIs and ``<style>`` blocks survive; scripts, event
handlers (``onerror=``, ``onload=``), ``javascript:`` links, frames, forms and objects do
not. The page around it comes from the project template and is trusted; its head gets a
Content-Security-Policy that forbids scripts and any network load, so even something the
sanitiser missed cannot run or call home.
"""

from __future__ import annotations

import re

import nh3

__all__ = ["CSP", "CSP_META", "add_csp", "sanitize_fragment", "sanitize_report"]

#: No script, no frame, no network: styles inline, images and fonts only as data: URIs.
CSP = ("default-src 'none'; script-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'; "
       "frame-src 'none'; img-src data:; font-src data:; style-src 'unsafe-inline'")
CSP_META = f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'

_HTML_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "col", "colgroup", "dd", "del", "details", "div",
    "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins",
    "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "samp", "small", "span", "strong", "style", "sub",
    "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul", "var",
}
# The elements charts are drawn with (vl-convert, matplotlib); no <a>, <use>, <image>,
# <foreignObject> or animation elements, which can link, load or script.
_SVG_TAGS = {
    "svg", "g", "path", "rect", "circle", "ellipse", "line", "polyline", "polygon", "text", "tspan", "defs",
    "clipPath", "linearGradient", "radialGradient", "stop", "title", "desc", "symbol", "marker", "pattern",
    "mask",
}
_SVG_ATTRIBUTES = {
    "aria-hidden", "aria-label", "aria-roledescription", "role", "class", "id", "style", "transform",
    "viewBox", "version", "width", "height", "x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "rx", "ry",
    "dx", "dy", "d", "points", "fill", "fill-opacity", "fill-rule", "stroke", "stroke-width",
    "stroke-opacity", "stroke-dasharray", "stroke-dashoffset", "stroke-linecap", "stroke-linejoin",
    "stroke-miterlimit", "opacity", "display", "visibility", "pointer-events", "clip-path", "clip-rule",
    "clipPathUnits", "mask", "font-family", "font-size", "font-style", "font-weight", "text-anchor",
    "dominant-baseline", "alignment-baseline", "letter-spacing", "preserveAspectRatio", "offset",
    "stop-color", "stop-opacity", "gradientUnits", "gradientTransform", "patternUnits", "markerWidth",
    "markerHeight", "refX", "refY", "orient", "marker-start", "marker-mid", "marker-end", "vector-effect",
    "shape-rendering", "text-rendering", "paint-order",
}
_ATTRIBUTES = {
    "*": {"class", "id", "style", "title", "lang", "dir", "role", "aria-label", "aria-hidden"},
    "a": {"href", "name"},
    "img": {"src", "alt", "width", "height"},
    "table": {"border"},
    "td": {"colspan", "rowspan", "headers"},
    "th": {"colspan", "rowspan", "scope", "headers"},
    "col": {"span"},
    "colgroup": {"span"},
    "ol": {"start", "type"},
    "style": {"type", "scoped"},
    **{tag: _SVG_ATTRIBUTES for tag in _SVG_TAGS},
}
# Only images may be data: URIs, and only raster or SVG images (an SVG <img> runs no script).
_DATA_IMAGE = re.compile(r"^data:image/(png|jpeg|gif|webp|svg\+xml)[;,]", re.IGNORECASE)
# CSS that loads or evaluates: @import, url(...) other than an in-page #fragment, IE's expression(),
# and script-bearing schemes. Applied to <style> blocks and style="" attributes.
_CSS_DANGER = re.compile(r"@import|expression\s*\(|javascript:|vbscript:|behavior\s*:|-moz-binding|"
                         r"url\s*\(\s*(?!['\"]?#)", re.IGNORECASE)
_STYLE_BLOCK = re.compile(r"(<style\b[^>]*>)(.*?)(</style>)", re.IGNORECASE | re.DOTALL)


def _attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    if attribute in {"href", "src"} and value.strip().lower().startswith("data:"):
        return value if tag == "img" and attribute == "src" and _DATA_IMAGE.match(value.strip()) else None
    if attribute == "style" and _CSS_DANGER.search(value):
        return None
    return value


def _clean_css(match: re.Match) -> str:
    css = match.group(2)
    return match.group(1) + ("" if _CSS_DANGER.search(css) else css) + match.group(3)


def sanitize_fragment(html: str) -> str:
    """The HTML fragment ``html`` with everything that could run or load removed.

    Parameters
    ----------
    html : str
        Body HTML (no ``<html>``/``<head>``).

    Returns
    -------
    str
        Tables, text, inline SVG, ``data:`` images and CSS kept; scripts, event handlers,
        ``javascript:`` and ``data:`` links, frames, forms and CSS that loads anything removed.
    """
    cleaned = nh3.clean(
        html,
        tags=_HTML_TAGS | _SVG_TAGS,
        clean_content_tags={"script", "iframe", "object", "embed", "noscript", "template", "textarea"},
        attributes=_ATTRIBUTES,
        attribute_filter=_attribute_filter,
        url_schemes={"http", "https", "mailto", "data"},
        link_rel=None,
        strip_comments=True,
    )
    return _STYLE_BLOCK.sub(_clean_css, cleaned)


def add_csp(page: str) -> str:
    """``page`` with :data:`CSP_META` as the first element of its ``<head>``."""
    return re.sub(r"<head>", "<head>\n" + CSP_META, page, count=1, flags=re.IGNORECASE)


def sanitize_report(page: str, start: str = '<main class="report-body">', end: str = "</main>") -> str:
    """Sanitise the body of a rendered report page and add the Content-Security-Policy.

    Parameters
    ----------
    page : str
        A full page from the report template.
    start, end : str
        The markers around the untrusted part (notebook cells); what lies outside them is
        the template's, with its metadata already escaped.

    Returns
    -------
    str
    """
    head, found, rest = page.partition(start)
    if not found:
        return add_csp(sanitize_fragment(page))
    body, found_end, tail = rest.rpartition(end)
    if not found_end:
        body, tail = rest, ""
    return add_csp(head) + start + sanitize_fragment(body) + end + tail
