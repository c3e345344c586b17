"""What the CRM connectors share: the fields a mapping reads, and writing Quant's scores back.

:func:`mapping_columns` lists the source columns the shipped mapping reads from a vendor's export
of one object, so an API sync asks the vendor for exactly those fields (a company that maps
another field in its mapping gets it synced too).

:func:`push` writes Quant's owned fields back to a bidirectional CRM (``quant sync SOURCE
--push``). The values come from gold's ``customer_features`` (:data:`MEASURES`: the churn rule
score and the lifetime revenue); the records written are the customers that came from that
vendor (their ids are in its files landed in bronze), so a customer from another system is never
written to this one. The connector writes only its :attr:`~quantlib.connectors.base.Connector.owned_fields`
(the system of record per field, see :mod:`quantlib.connectors.base`), only the values that
changed, and every field written is an audit row.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from quantlib.connectors.base import (
    CONNECTORS,
    Connector,
    SyncError,
    WriteBackRefused,
    mapping_path,
    record_writes,
    scrub,
)

__all__ = ["MEASURES", "PushReport", "changed", "gold_measures", "mapping_columns", "push", "scrub",
           "source_record_ids"]

#: What Quant writes back, by name: the gold ``customer_features`` column and the decimals kept.
MEASURES: dict[str, tuple[str, int]] = {
    "churn_risk": ("churn_score", 3),  # the churn rule score, 0..1 (quantlib.customers.churn)
    "lifetime_value": ("monetary_lifetime", 2),  # revenue of the customer's jobs to date
}


def mapping_columns(source: str, file_name: str) -> list[str]:
    """The source columns the shipped mapping of ``source`` reads from a file named ``file_name``.

    Columns renamed, joined and tested by ``where`` or a ``choose`` rule, for every table the file
    feeds (its own and those whose ``also_from`` names it) and every update it is (the mapping's
    ``updates``, with their ``latest_by`` stamp), in the mapping's order, without repeats.
    """
    from quantlib.data.ingest.mapping import load_mapping

    mapping = load_mapping(mapping_path(source))
    table, _ = mapping.match(file_name)
    found: list[str] = []
    feeds = [mapping.tables[t] for t in ([table] if table else []) + mapping.also(file_name, table)]
    for tm in feeds + [mapping.updates[u] for u in mapping.updated_by(file_name)]:
        chosen = [c for rules in tm.choose.values() for _, when in rules for c in when]
        for column in [*tm.columns, *(c for cols in tm.join.values() for c in cols), *tm.where, *chosen,
                       *([tm.latest_by] if tm.latest_by else [])]:
            if column not in found:
                found.append(column)
    return found


def changed(before, after, decimals: int) -> bool:
    """Whether ``after`` differs from the vendor's ``before`` at ``decimals`` (blank and NaN alike)."""
    def number(value):
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        try:
            out = float(value)
        except (TypeError, ValueError):
            return value
        return None if math.isnan(out) else round(out, decimals)

    return number(before) != number(after)


def gold_measures(lake) -> pd.DataFrame:
    """``customer_id`` and each of :data:`MEASURES` from gold's ``customer_features`` (its build day)."""
    from quantlib.data.gold import open_gold

    select = ", ".join(f"{column} AS {name}" for name, (column, _) in MEASURES.items())
    with open_gold(lake) as con:
        return con.execute(f"SELECT customer_id, {select} FROM customer_features "  # nosec B608 - fixed names
                           "ORDER BY customer_id").df()


def source_record_ids(lake, source: str, table: str = "customers") -> set[str]:
    """Ids of ``table`` rows that came from ``source``: the key column of its files landed in bronze.

    A file is the source's when the source's shipped mapping matches its name to ``table``; the
    key is the source column the mapping renames to the table's key.
    """
    from quantlib.data.contracts import get_contract
    from quantlib.data.ingest.commit import MANIFEST_COLUMNS, _read_parquet_or
    from quantlib.data.ingest.mapping import _norm, load_mapping
    from quantlib.data.lake import Lake

    lake = lake if isinstance(lake, Lake) else Lake(Path(lake))
    mapping = load_mapping(mapping_path(source))
    if table not in mapping.tables:
        return set()
    key = get_contract(table).key[0]
    sources = {_norm(src) for src, dst in mapping.tables[table].columns.items() if dst == key} | {_norm(key)}
    manifest = _read_parquet_or(lake.manifest, MANIFEST_COLUMNS)
    ids: set[str] = set()
    for row in manifest[(manifest["table"] == table) & (manifest["status"] == "loaded")].itertuples():
        if mapping.match(Path(row.file).name)[0] != table:
            continue
        path = lake.root / row.bronze_path
        if not path.is_file():
            continue
        head = pd.read_csv(path, dtype=str, nrows=0).columns
        column = next((c for c in head if _norm(c) in sources), None)
        if column is not None:
            ids.update(pd.read_csv(path, dtype=str, usecols=[column])[column].dropna().str.strip())
    return ids


@dataclass
class PushReport:
    """What :func:`push` wrote: the audit rows, customers left out, and the records the vendor refused."""

    source: str
    written: pd.DataFrame
    unchanged: int = 0
    not_from_source: int = 0
    failures: list[str] = field(default_factory=list)


def push(lake, source: str, env: Mapping[str, str] | None = None, connector: Connector | None = None,
         measures: pd.DataFrame | None = None) -> PushReport:
    """Write Quant's owned fields of ``source``'s customers back to it, and audit every field written.

    Parameters
    ----------
    lake : Lake, str or Path
        The lake (its gold, its bronze files of ``source``, its audit table).
    source : str
        A registered bidirectional connector.
    env : mapping, optional
        Credentials (default ``os.environ``).
    connector : Connector, optional
        An instance to use instead of ``CONNECTORS[source]()``.
    measures : DataFrame, optional
        ``customer_id`` and :data:`MEASURES` columns, instead of gold's.

    Raises
    ------
    WriteBackRefused
        ``source`` is inbound only (Quant never writes to it).
    SyncError
        Unknown source, a missing credential, or the vendor failed.
    """
    env = os.environ if env is None else env
    if connector is None:
        if source not in CONNECTORS:
            raise SyncError(f"unknown source {source!r}; known: {', '.join(sorted(CONNECTORS))}")
        connector = CONNECTORS[source]()
    if not connector.settings.writes_back:
        raise WriteBackRefused(f"{source} is {connector.settings.direction}: Quant never writes to it")
    reason = connector.missing(env)
    if reason:
        raise SyncError(reason)
    values = gold_measures(lake) if measures is None else measures
    ids = source_record_ids(lake, source)
    mine = values[values["customer_id"].astype(str).isin(ids)]
    report = PushReport(source, pd.DataFrame(columns=["written_at", "source", "object", "record_id", "field",
                                                      "before", "after"]),
                        not_from_source=len(values) - len(mine))
    parts = []
    for obj, fields in getattr(connector, "write_fields", {}).items():
        updates = pd.DataFrame({"record_id": mine["customer_id"].astype(str).to_numpy()})
        for vendor_field, measure in fields.items():
            decimals = MEASURES[measure][1]
            updates[vendor_field] = [None if pd.isna(v) else round(float(v), decimals) for v in mine[measure]]
        written = connector.write_back(obj, updates, env)
        report.failures.extend(getattr(connector, "failures", []))
        report.unchanged += getattr(connector, "unchanged", 0)
        if len(written):
            parts.append(record_writes(lake, source, written))
    if parts:
        report.written = pd.concat(parts, ignore_index=True)
    return report
