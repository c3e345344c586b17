"""What every Voila app shares: one ipywidgets tree, built and filled on first display, the gold
database its notebook's parameters name, and download links."""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: The media types of the files apps offer for download, by extension.
DOWNLOAD_TYPES = {"csv": "text/csv", "pdf": "application/pdf",
                  "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                  "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation"}


def download_link(name: str, data: bytes, label: str, css_class: str) -> str:
    """An ``<a download>`` holding ``data`` as a ``data:`` URI: nothing is written on the server, and
    the file reaches only the visitor who asked for it.

    Raises
    ------
    ValueError
        ``name`` has an extension not in :data:`DOWNLOAD_TYPES`.
    """
    kind = name.rpartition(".")[2].lower()
    if kind not in DOWNLOAD_TYPES:
        raise ValueError(f"no download type for {name!r}; known: {', '.join(DOWNLOAD_TYPES)}")
    return (f'<a class="{html.escape(css_class)}" download="{html.escape(name)}" '
            f'href="data:{DOWNLOAD_TYPES[kind]};base64,{base64.b64encode(data).decode()}">{html.escape(label)}</a>')


class WidgetApp:
    """Mixin for app classes: ``widget`` builds the ipywidgets tree once, then shows it.

    Subclasses set ``self._widget = None`` in ``__init__`` and define ``_build()`` (which
    sets ``self._widget``) and ``refresh()`` (which fills it).
    """

    _widget = None

    @property
    def widget(self):
        """The app as one ipywidgets container (built and filled on first use)."""
        if self._widget is None:
            self._build()
            self.refresh()
        return self._widget

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def _build(self) -> None:
        raise NotImplementedError

    def refresh(self) -> None:
        raise NotImplementedError


def gold_from_parameters(company: str, lake: str | None, as_of, environ: Mapping | None = None, *,
                         model=None, prefix: str | None = None, **values) -> tuple[Any, Path]:
    """The validated parameters of an app notebook and the gold database of the lake they name.

    Voila cannot inject notebook parameters, so ``quant apps`` passes them as environment
    variables, which win over the notebook's values (:func:`quantlib.parameters.app_parameters`).

    Parameters
    ----------
    company, lake, as_of
        The notebook's values (the lake defaults to ``data/demo/<company>/lake`` under the
        project root).
    environ : mapping, optional
        Default ``os.environ``.
    model : NotebookParameters subclass, optional
        The app's parameter model (default :class:`~quantlib.parameters.NotebookParameters`).
    prefix : str, optional
        With ``prefix``, ``<prefix><FIELD>`` in the environment overrides the model's own fields.
    **values
        The notebook's values of the model's own fields.

    Returns
    -------
    (model instance, Path)
        The parameters and the lake's gold database (not checked to exist).

    Raises
    ------
    quantlib.parameters.ParameterError
        Unknown company, a malformed date or any other bad value, in one line each.
    """
    from quantlib.data.lake import Lake
    from quantlib.parameters import NotebookParameters, app_parameters

    values = {"company": company, "lake": lake, "as_of": as_of, **values}
    params, root = app_parameters(model or NotebookParameters, values, environ, prefix=prefix)
    return params, Lake(root).gold


#: The look of :func:`frame_html`'s tables (an app puts it once in its page).
TABLE_CSS = """
<style>
table.em-table { border-collapse: collapse; font-size: 12.5px; }
table.em-table th { text-align: left; color: #5c6670; border-bottom: 2px solid #e2e5e9; padding: 3px 8px; }
table.em-table td { padding: 3px 8px; border-bottom: 1px solid #eef0f2; }
table.em-table td.num { text-align: right; white-space: nowrap; }
</style>
"""
_NUM = ' class="num"'


def _cell(value, fmt: str | None) -> str:
    import pandas as pd

    from quantlib.views.tables import FORMATS

    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "&ndash;"
    if fmt is None:
        return html.escape(str(value))
    return html.escape(FORMATS.get(fmt, fmt).format(value))


def frame_html(frame, cls: str, row_attrs=None, row_class=None) -> str:
    """``frame`` as an HTML table in the formats and labels its view declared (:func:`table_view`).

    ``row_attrs(row) -> dict`` adds ``data-*`` attributes to each row (for tests and styling);
    ``row_class(row) -> str`` a class.
    """
    import pandas as pd

    formats, labels = frame.attrs.get("formats", {}), frame.attrs.get("labels", {})
    head = "".join(f"<th>{html.escape(labels.get(c, c.replace('_', ' ').capitalize()))}</th>" for c in frame.columns)
    numeric = {c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c]) and frame[c].dtype != bool}
    rows = []
    for row in frame.itertuples(index=False):
        attrs = "".join(f' data-{k}="{html.escape(str(v))}"' for k, v in (row_attrs(row) if row_attrs else {}).items())
        klass = f' class="{row_class(row)}"' if row_class and row_class(row) else ""
        cells = "".join(f'<td{_NUM if c in numeric else ""}>{_cell(v, formats.get(c))}</td>'
                        for c, v in zip(frame.columns, row))
        rows.append(f"<tr{klass}{attrs}>{cells}</tr>")
    return f'<table class="em-table {cls}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def chart_svg(chart) -> str:
    """An Altair chart as SVG in the house theme, rendered in the kernel (no vega script from a CDN)."""
    import vl_convert as vlc

    from quantlib.views.theme import house_theme

    spec = chart.to_dict()
    spec["config"] = {**house_theme()["config"], **spec.get("config", {})}
    return vlc.vegalite_to_svg(spec)
