"""Views of the finance engines: the capital allocation report's tables and charts."""
