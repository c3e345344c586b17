"""What every Voila app shares: one ipywidgets tree, built and filled on first display, and the gold
database its notebook's parameters name."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any


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
