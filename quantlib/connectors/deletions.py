"""Records a vendor deleted: out of silver, kept in bronze, explained in ``<lake>/sync/deletions.parquet``.

Silver holds what is true now, in exactly the contracts' columns (no tombstone column: a contract
fixes them, and every reader of silver would have to know to skip such rows). So a record the
vendor deleted (a Salesforce record in the recycle bin, a voided or deleted Xero invoice or
payment) is **removed from silver**; the pages that landed it stay in bronze, untouched; and one
row per removal is appended to ``<lake>/sync/deletions.parquet``, so a count that went down can be
explained:

=================  ==================================================================
``recorded_at``    when Quant took it out (UTC)
``deleted_at``     when the vendor deleted it (its modification stamp), if known
``source``         ``salesforce``, ``xero`` ...
``object``         the vendor object (``Account``, ``Invoices``)
``table``          the lake table (an object feeding two, an opportunity, gives two rows)
``key``            the row's key in that table
``removed``        whether silver held the row (False: it never landed, or was removed before)
=================  ==================================================================

Which rows: for every table the object's file feeds (the shipped mapping's ``files`` and
``also_from``), the key column is read from the deleted records' source column the mapping
renames to it (an opportunity's ``Id`` is both ``lead_id`` and ``quote_id``). A deletion already
recorded (same source, object, table, key and time) is not recorded twice. The silver write and
the record are made under the lake's write lock.

Not undone: rows of other tables that refer to a removed row stay (jobs of a deleted customer
landed from an FSM); a record the vendor restores comes back with its next change, like any
other; an older export ingested again brings a deleted record back into silver.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["DELETION_COLUMNS", "apply_deletions", "read_deletions"]

DELETION_COLUMNS = ("recorded_at", "deleted_at", "source", "object", "table", "key", "removed")


def _record_path(lake):
    from quantlib.data.lake import Lake

    return (lake if isinstance(lake, Lake) else Lake(lake)).root / "sync" / "deletions.parquet"


def read_deletions(lake) -> pd.DataFrame:
    """Every deletion recorded (:data:`DELETION_COLUMNS`), oldest first."""
    path = _record_path(lake)
    return pd.read_parquet(path) if path.is_file() else pd.DataFrame(columns=list(DELETION_COLUMNS))


def _key_source(tm, key: str, columns) -> tuple[str | None, bool]:
    """The deleted records' column holding the table's key, and whether it is only the key's first part.

    A key the mapping joins from several columns (a QuickBooks payment row: its Id and the invoice
    it pays) is matched by its first column: every row whose key is that value, or starts with it
    and a space, belonged to the deleted record.
    """
    from quantlib.data.ingest.mapping import _norm

    names = {_norm(c): c for c in columns}
    for src, dst in tm.columns.items():
        if dst == key and _norm(src) in names:
            return names[_norm(src)], False
    if key in tm.join and _norm(tm.join[key][0]) in names:
        return names[_norm(tm.join[key][0])], True
    return names.get(_norm(key)), False


def _fed_keys(mapping, file_name: str, columns):
    """Per table the file ``file_name`` feeds (its own, then ``also``): ``(table, key, column, first_part)``,
    the column of ``columns`` holding the table's key (None for a key of several columns or one no column
    holds) and whether it is only the key's first part (:func:`_key_source`)."""
    from quantlib.data.contracts import get_contract

    table, _ = mapping.match(file_name)
    for name in ([table] if table else []) + mapping.also(file_name, table):
        key = get_contract(name).key
        column, first_part = (_key_source(mapping.tables[name], key[0], columns) if len(key) == 1
                              else (None, False))
        yield name, key, column, first_part


def record_key_columns(mapping_file, file_name: str, columns) -> list[str] | None:
    """The columns of a vendor page named ``file_name`` that hold the keys of the tables it feeds.

    None when some table's key cannot be read from one of ``columns`` (a key of several columns, or
    one the mapping builds otherwise): :func:`quantlib.connectors.base.sync` then lands such pages one
    by one, as it cannot tell whether two pages hold the same record.
    """
    from quantlib.data.ingest.mapping import load_mapping

    found = [column for _, _, column, _ in _fed_keys(load_mapping(mapping_file), file_name, columns)]
    return None if not found or None in found else found


def apply_deletions(lake, source: str, batch, stamp_column: str | None = None) -> pd.DataFrame:
    """Take ``batch.deleted`` out of silver and record it; returns the rows recorded (:data:`DELETION_COLUMNS`).

    Parameters
    ----------
    lake : Lake, str or Path
        The lake.
    source : str
        The connector (its shipped mapping, ``parameters/mappings/<source>.yaml``, says which tables
        ``batch.file_name`` feeds).
    batch : quantlib.connectors.base.Batch
        Its ``deleted`` frame holds the deleted records in the export's columns.
    stamp_column : str, optional
        The column of ``batch.deleted`` holding the deletion time.
    """
    from quantlib.config import project_root
    from quantlib.data.ingest.mapping import load_mapping
    from quantlib.data.lake import Lake, atomic_path, read_parquet
    from quantlib.data.writelock import write_lock

    lake = lake if isinstance(lake, Lake) else Lake(lake)
    deleted = batch.deleted if batch.deleted is not None else pd.DataFrame()
    mapping = load_mapping(project_root() / "parameters" / "mappings" / f"{source}.yaml")
    stamps = (deleted[stamp_column].astype("string") if stamp_column and stamp_column in deleted
              else pd.Series(pd.NA, index=deleted.index, dtype="string"))
    now = pd.Timestamp.now(tz="UTC").tz_localize(None)
    rows = []
    with write_lock(lake):
        for name, key, column, first_part in _fed_keys(mapping, batch.file_name, deleted.columns):
            if column is None:
                continue  # the deleted records do not say this table's key
            keys = deleted[column].astype("string").str.strip()
            path = lake.silver_table(name)
            silver = read_parquet(path) if path.exists() else None
            held = silver[key[0]].astype("string").str.strip() if silver is not None else pd.Series(dtype="string")
            # The silver key(s) of each deleted record: the value itself, or (a joined key) those starting with it.
            owner = held.str.split(" ", n=1).str[0] if first_part else held
            gone = owner.isin(keys.dropna().tolist()).fillna(False).to_numpy(dtype=bool)
            if gone.any():
                with atomic_path(path) as tmp:
                    silver[~gone].reset_index(drop=True).to_parquet(tmp, index=False)
            removed: dict[str, list[str]] = {}
            for own, one in zip(owner[gone], held[gone]):
                removed.setdefault(own, []).append(one)
            for k, when in zip(keys, stamps):
                if pd.isna(k) or not k:
                    continue
                rows += [{"recorded_at": now, "deleted_at": None if pd.isna(when) else str(when), "source": source,
                          "object": batch.object, "table": name, "key": one, "removed": k in removed}
                         for one in removed.get(k, [k])]
        recorded = pd.DataFrame(rows, columns=list(DELETION_COLUMNS))
        old = read_deletions(lake)
        if len(old) and len(recorded):
            seen = set(map(tuple, old[["source", "object", "table", "key", "deleted_at"]].astype("string")
                           .fillna("").values.tolist()))
            fresh = [tuple(r) not in seen for r in recorded[["source", "object", "table", "key", "deleted_at"]]
                     .astype("string").fillna("").values.tolist()]
            recorded = recorded[fresh]
        if len(recorded):
            recorded = recorded.astype({"deleted_at": "string", "source": "string", "object": "string",
                                        "table": "string", "key": "string", "removed": "bool"})
            out = pd.concat([old.astype(recorded.dtypes.to_dict()), recorded], ignore_index=True) if len(old) \
                else recorded
            with atomic_path(_record_path(lake)) as tmp:
                out.to_parquet(tmp, index=False)
    return recorded.reset_index(drop=True)
