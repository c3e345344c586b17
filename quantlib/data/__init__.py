"""Data layer: contracts, sample-company generator, ingest, warehouse."""

from quantlib.data.contracts import CONTRACTS, TABLE_ORDER, TableContract, check_relations, get_contract

__all__ = ["CONTRACTS", "TABLE_ORDER", "TableContract", "check_relations", "get_contract"]
