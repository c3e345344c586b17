"""The pricing report's tables and charts (``notebooks/pricing.ipynb``)."""
