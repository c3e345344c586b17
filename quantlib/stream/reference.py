"""Reference tables the processors join events with (technicians, customers), read once at start.

They come from the company's gold warehouse (read-only; a rebuild while processors run is seen
at their next start). Without a warehouse the processors still run; what needs a reference
(a region's capacity, a customer's type) is then left out of their outputs, not guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd


@dataclass
class Reference:
    """Technicians and customers, indexed by id."""

    technicians: pd.DataFrame = field(default_factory=pd.DataFrame)
    customers: pd.DataFrame = field(default_factory=pd.DataFrame)

    def region_capacity_per_hour(self) -> dict[str, float]:
        """Per region, the technicians' contracted hours per clock hour (weekly hours / 168) of those employed."""
        techs = self.technicians
        if techs.empty or "weekly_hours" not in techs:
            return {}
        employed = techs[techs["termination_date"].isna()] if "termination_date" in techs else techs
        return (employed.groupby("region")["weekly_hours"].sum() / 168.0).to_dict()


def load_reference(lake: str | Path | None = None) -> Reference:
    """The reference tables of the lake's gold warehouse (``--lake``, ``$QUANT_LAKE`` or the demo's)."""
    import duckdb

    from quantlib.config import resolve_lake

    gold = Path(resolve_lake(lake)) / "gold.duckdb"
    if not gold.is_file():
        return Reference()
    with duckdb.connect(str(gold), read_only=True) as con:
        technicians = con.execute("SELECT * FROM technicians").df().set_index("technician_id", drop=False)
        customers = con.execute("SELECT * FROM customers").df().set_index("customer_id", drop=False)
    return Reference(technicians, customers)


def reference_from_tables(tables: dict[str, pd.DataFrame]) -> Reference:
    """A reference from in-memory tables (a generated company's ``tables``)."""
    return Reference(tables["technicians"].set_index("technician_id", drop=False),
                     tables["customers"].set_index("customer_id", drop=False))
