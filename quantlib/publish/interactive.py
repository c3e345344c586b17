"""Interactive charts in HTML reports: Vega embedded in the page, nothing from the network.

The specification asks for reports "with interactive charts": the HTML report's charts get
tooltips, zoom and pan, and legend filtering, while the PDF keeps the static vector charts.

How, without giving up what keeps reports safe:

* report notebooks show charts with the ``quant`` Altair renderer
  (:func:`quantlib.views.use_svg`): each output carries the static SVG *and* the Vega-Lite spec;
* :func:`interactive_spec` adds the interactions to a spec (a tooltip on every mark that has
  none, scale-bound zoom and pan on single charts with two continuous axes, a legend-bound
  selection that fades the other series);
* the HTML renderer puts the static SVG in a ``<div class="quant-chart">`` that goes through the
  sanitiser like any output, and :func:`embed_charts` adds, after sanitising, the specs as a
  JSON data block, the Vega / Vega-Lite / Vega-Embed bundle that vl-convert ships (inline, no
  CDN) and a few lines that draw each chart over its static copy;
* the page's Content-Security-Policy allows exactly those two scripts by their SHA-256 hashes
  (no ``'unsafe-inline'``, no ``'unsafe-eval'``: Vega-Embed evaluates expressions with its
  AST interpreter, ``ast: true``) and still forbids every network load;
* printing shows the static SVG (the same chart, without the hover state); a browser without
  JavaScript shows it too.

The bundle holds a few URL strings (XML namespaces, the Vega schema's id, an issue link in a
message); none is fetched: the policy's ``default-src 'none'`` would refuse it, and the browser
test records every request the page makes.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
from functools import lru_cache

__all__ = ["CHART_CLASS", "chart_placeholder", "embed_charts", "interactive_spec", "script_csp", "vega_bundle"]

#: The class of the element that holds a chart's static SVG and, once drawn, its live copy.
CHART_CLASS = "quant-chart"
_ZOOM, _LEGEND = "quant_zoom", "quant_legend"
_CONTINUOUS = {"quantitative", "temporal"}
_CATEGORIES = {"nominal", "ordinal"}

_STYLE = f"""<style>
.{CHART_CLASS} {{ position: relative; }}
.{CHART_CLASS}.live > svg {{ display: none; }}
@media print {{
  .{CHART_CLASS}.live > svg {{ display: block; }}
  .{CHART_CLASS}.live > .quant-live {{ display: none; }}
}}
</style>"""

# Draws every chart over its static copy; on any failure the static chart stays.
_INIT = f"""(function () {{
  var specs = JSON.parse(document.getElementById("quant-chart-specs").textContent);
  specs.forEach(function (spec, i) {{
    var holder = document.getElementById("{CHART_CLASS}-" + i);
    if (!holder) {{ return; }}
    var live = document.createElement("div");
    live.className = "quant-live";
    holder.appendChild(live);
    vegaEmbed(live, spec, {{mode: "vega-lite", renderer: "svg", actions: false, ast: true}}).then(function () {{
      holder.classList.add("live");
    }}).catch(function () {{ holder.removeChild(live); }});
  }});
}})();"""


@lru_cache(maxsize=4)
def vega_bundle(vl_version: str | None = None) -> str:
    """Vega, Vega-Lite and Vega-Embed as one script (vl-convert's bundle; about 0.9 MB)."""
    import vl_convert as vlc

    return vlc.javascript_bundle(vl_version=vl_version)


def _vl_version(spec: dict) -> str | None:
    """The bundle's Vega-Lite version for ``spec``'s ``$schema`` (its major.minor when vl-convert has it)."""
    import vl_convert as vlc

    match = re.search(r"/v(\d+)\.(\d+)", str(spec.get("$schema", "")))
    if not match:
        return None
    wanted = f"{match.group(1)}.{match.group(2)}"
    versions = vlc.get_vegalite_versions()
    if wanted in versions:
        return wanted
    same_major = [v for v in versions if v.split(".")[0] == match.group(1)]
    return same_major[-1] if same_major else None


def _field_type(channel) -> str | None:
    return channel.get("type") if isinstance(channel, dict) and "field" in channel else None


def _with_tooltip(unit: dict) -> None:
    encoding = unit.get("encoding", {})
    if "tooltip" in encoding:
        return
    mark = unit.get("mark")
    if isinstance(mark, str):
        unit["mark"] = {"type": mark, "tooltip": True}
    elif isinstance(mark, dict) and "tooltip" not in mark:
        mark["tooltip"] = True


def _zoomable(unit: dict) -> bool:
    encoding = unit.get("encoding", {})
    x, y = encoding.get("x", {}), encoding.get("y", {})
    plain = all(isinstance(c, dict) and not c.get("bin") and not c.get("aggregate") for c in (x, y))
    return plain and _field_type(x) in _CONTINUOUS and _field_type(y) in _CONTINUOUS


def _add_legend_filter(unit: dict) -> bool:
    encoding = unit.get("encoding", {})
    color = encoding.get("color")
    if _field_type(color) not in _CATEGORIES or "opacity" in encoding:
        return False
    unit.setdefault("params", []).append({"name": _LEGEND, "bind": "legend",
                                          "select": {"type": "point", "fields": [color["field"]]}})
    encoding["opacity"] = {"condition": {"param": _LEGEND, "value": 1}, "value": 0.15}
    return True


def interactive_spec(spec: dict) -> dict:
    """``spec`` with tooltips, zoom and pan, and legend filtering where they fit.

    * every mark without a ``tooltip`` encoding shows its encoded fields on hover;
    * a single chart, or the first layer of a layered one, whose x and y are continuous
      fields (not binned or aggregated) zooms with the wheel and pans by dragging;
    * the first (layer of a) chart whose colour is a category gets a legend-bound selection:
      clicking a legend entry fades the other series (shift-click adds one).

    Concatenated, faceted and repeated charts get the tooltips only. The spec is copied.
    """
    spec = copy.deepcopy(spec)
    units = spec.get("layer") if "layer" in spec else ([spec] if "mark" in spec else [])
    for unit in _all_units(spec):
        _with_tooltip(unit)
    if units:
        if any(_zoomable(u) for u in units):
            first = next(u for u in units if _zoomable(u))
            first.setdefault("params", []).append({"name": _ZOOM, "select": "interval", "bind": "scales"})
        for unit in units:
            if _add_legend_filter(unit):
                break
    return spec


def _all_units(spec: dict):
    if "mark" in spec:
        yield spec
    for key in ("layer", "hconcat", "vconcat", "concat"):
        for part in spec.get(key, []):
            yield from _all_units(part)
    if isinstance(spec.get("spec"), dict):
        yield from _all_units(spec["spec"])


def chart_placeholder(index: int, svg: str) -> str:
    """The element the report body holds for chart ``index``: its static SVG (sanitised like any output)."""
    return f'<div class="{CHART_CLASS}" id="{CHART_CLASS}-{index}">{svg}</div>'


def _sha256(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode() + "'"


def script_csp(hashes: list[str]) -> str:
    """The report policy with scripts allowed by hash only."""
    from quantlib.publish.sanitize import CSP

    return CSP.replace("script-src 'none'", "script-src " + " ".join(hashes))


def embed_charts(page: str, specs: list[dict]) -> str:
    """``page`` (sanitised, with its CSP meta) made interactive for ``specs`` (chart ``i`` is ``specs[i]``).

    Adds the specs as a JSON data block, the Vega bundle and the drawing script before
    ``</body>``, the chart CSS in the head, and swaps the policy for one that allows exactly
    these two scripts. A page without specs is returned as it is.
    """
    from quantlib.publish.sanitize import CSP_META

    if not specs:
        return page
    versions = {_vl_version(s) for s in specs}
    bundle = vega_bundle(max(versions - {None}, key=lambda v: tuple(map(int, v.split("."))), default=None))
    # "</" would end the data block early; JSON allows "<\/".
    # The $schema URL only names the grammar (the mode says it), so the page carries none.
    ready = [{k: v for k, v in interactive_spec(s).items() if k != "$schema"} for s in specs]
    data = json.dumps(ready, separators=(",", ":")).replace("</", "<\\/")
    scripts = (f'<script type="application/json" id="quant-chart-specs">{data}</script>\n'
               f"<script>{bundle}</script>\n<script>{_INIT}</script>\n")
    meta = f'<meta http-equiv="Content-Security-Policy" content="{script_csp([_sha256(bundle), _sha256(_INIT)])}">'
    page = page.replace(CSP_META, meta + "\n" + _STYLE, 1)
    head, found, tail = page.rpartition("</body>")
    return head + scripts + found + tail if found else page + scripts
