"""Views of the maintenance engines: the weekly maintenance report's tables and charts."""
