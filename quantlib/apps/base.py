"""What every Voila app class shares: one ipywidgets tree, built and filled on first display."""

from __future__ import annotations


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
