"""The stream processors, one per input topic, in a registry (``quant stream run --processors a,b``).

=================  ======================  =====================================================
processor          input topic             what it keeps and raises
=================  ======================  =====================================================
``operations``     work_orders             jobs, revenue, utilisation and wrench time per hour
                                           (real-time metrics / efficiency calculator); callback
                                           rate, ratings, completion times (quality monitor)
``finance``        financial_transactions  daily revenue invoiced, cash received, collection
                                           variance on a control chart
``equipment``      equipment_telemetry     a CUSUM chart per unit and signal (the maintenance
                                           package's detector, run per reading)
``behaviour``      customer_interactions   complaints, bursts and silences per customer
=================  ======================  =====================================================
"""

from __future__ import annotations

from quantlib.stream.live import Processor

PROCESSORS: dict[str, type[Processor]] = {}


def register(cls: type[Processor]) -> type[Processor]:
    PROCESSORS[cls.name] = cls
    return cls


def get_processor(name: str) -> type[Processor]:
    """The processor class called ``name``; ``KeyError`` names the known ones."""
    _load()
    if name not in PROCESSORS:
        raise KeyError(f"no stream processor {name!r}; known: {', '.join(sorted(PROCESSORS))}")
    return PROCESSORS[name]


def processor_names() -> list[str]:
    _load()
    return list(PROCESSORS)


def _load() -> None:
    # Importing registers them (one module per processor).
    from quantlib.stream.processors import behaviour, equipment, finance, operations  # noqa: F401
