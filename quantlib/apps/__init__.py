"""The widget apps behind ``notebooks/apps/`` (served by Voila): one module an app.

An app lays out what its domain's views compute (``quantlib.<domain>.views``) as ipywidgets and
re-runs them when a widget changes; it holds no analytics of its own. Every app class mixes in
:class:`quantlib.apps.base.WidgetApp`, and every app notebook calls one ``*_from_parameters``
function that reads the ``QUANT_*`` environment over the notebook's values
(:func:`quantlib.parameters.app_parameters`).
"""
