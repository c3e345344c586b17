"""Quant: analytics engines for field-service companies."""

__version__ = "0.1.0"
