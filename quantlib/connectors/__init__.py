"""Connectors: data that comes from outside the company's own exports.

:mod:`quantlib.connectors.external`: weather and economic indicators from public providers.
"""
