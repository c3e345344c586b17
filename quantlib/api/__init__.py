"""The read API (``quant api``): gold and the engines' outputs over HTTP, for other tools.

>>> from quantlib.api import ApiSettings, create_app
>>> app = create_app(ApiSettings(gold="data/demo/mixed_trades/lake/gold.duckdb"))   # doctest: +SKIP

:mod:`quantlib.api.app` holds the routes; :mod:`quantlib.api.sources` the data behind them
(one DuckDB connection on gold, reopened when the warehouse is rebuilt, and a cache keyed by
query and data version).
"""

from quantlib.api.app import ApiSettings, create_app
from quantlib.api.sources import GoldSource

__all__ = ["ApiSettings", "GoldSource", "create_app"]
