"""Report views of model monitoring: model cards and metrics over time."""
