"""Connectors: data that comes from outside the company's own exports.

:mod:`quantlib.connectors.base`: the CRM and accounting connector interface and its sync engine
(``quant sync``): pages land through the ordinary ingest, cursors and write-back audit in the lake.
:mod:`quantlib.connectors.external`: weather and economic indicators from public providers.
"""

# The CRM and accounting connectors register themselves in base.CONNECTORS when imported (their
# vendors' clients are imported only when a sync runs).
from quantlib.connectors import hubspot, quickbooks, salesforce, xero  # noqa: E402,F401
