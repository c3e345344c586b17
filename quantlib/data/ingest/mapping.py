"""Which source files feed which tables, and how their columns are named.

A mapping (YAML; see ``parameters/mappings/default.yaml``) matches file names to
contract tables by glob and renames source columns to contract columns. Column names
are compared after :func:`_norm` (case and surrounding blanks ignored).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from quantlib.config import project_root
from quantlib.data.contracts import CONTRACTS, TABLE_ORDER, TableContract
from quantlib.data.ingest.report import UnusableFile
from quantlib.errors import QuantError


def default_mapping_path() -> Path:
    """The shipped mapping, ``parameters/mappings/default.yaml`` under :func:`~quantlib.config.project_root`.

    Resolved at each call, so ``$QUANT_HOME`` set after import is honoured.
    """
    return project_root() / "parameters" / "mappings" / "default.yaml"


class MappingError(QuantError, ValueError):
    """The mapping file is unreadable or names unknown tables or columns."""


@dataclass(frozen=True)
class TableMapping:
    """How files of one table are found and read.

    Attributes
    ----------
    table : str
        Contract table name.
    files : tuple of str
        File-name globs (matched case-insensitively against the file name).
    columns : dict of str to str
        Source column name -> contract column name. Unlisted columns whose name
        equals a contract column (ignoring case and blanks) are taken as is.
    delimiter : str
        CSV field separator.
    join : dict of str to tuple of str
        Contract column -> source columns whose non-blank values are joined with a space (a
        vendor's ``First name`` and ``Last name`` into ``name``).
    values : dict of str to dict
        Contract column -> {source value: contract value}, compared ignoring case and blanks
        (a vendor's ``Customer - Direct`` into ``commercial``); values not listed stay as they
        are, so the contract check rejects the ones that do not fit, with their reason.
    defaults : dict of str to str
        Contract column -> the value of rows that have none (the column absent, or a blank
        cell): what a vendor's export does not hold.
    also_from : tuple of str
        Globs of files that belong to another table (its ``files``) and feed this table too: one
        vendor export holding two tables (a CRM's opportunities are leads, and quotes once priced).
    strip : dict of str to tuple of str
        Contract column -> texts removed from each of its values before anything else is done
        with them (a vendor's ``$1,234.50`` read as ``1234.50`` with ``["$", ","]``, a
        spreadsheet-guarded ``="678"`` as ``678`` with ``["=", '"']``).
    where : dict of str to tuple of str or None
        Source column -> the values (compared ignoring case and blanks; ``""`` is a blank cell)
        a row must hold to be a row of this table, or None for any non-blank value; all must
        hold. Other rows are not this table's: they are counted in a note, not rejected.
    one_row_per : tuple of str
        Source columns naming a record the export repeats on each of its lines (an accounting
        export's invoice, one row per invoice line with the invoice's own columns on each): the
        first row of each record is read, the record's other lines are counted in a note. Rows
        where all these columns are blank are all read.
    choose : dict of str to tuple of (str, dict)
        Contract column -> ordered rules ``(value, when)``: the first rule whose ``when`` (source
        column -> accepted values, as in ``where``; a column absent from the file is blank) holds
        for a row gives the column's value (a CRM contact's opt-outs and numbers deciding the
        channel). Applied after ``values``, before ``defaults``; a row no rule fits keeps its value.
    sets : tuple of str
        Only for an *update* (``Mapping.updates``): the contract columns its files set on rows
        another file landed (every column it maps or chooses but the key).
    latest_by : str or None
        Only for an update: the source column (a modification stamp) deciding which of several
        rows for one key wins (the latest); without it the last row of the file.
    """

    table: str
    files: tuple[str, ...]
    columns: dict[str, str] = field(default_factory=dict)
    delimiter: str = ","
    join: dict[str, tuple[str, ...]] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)
    strip: dict[str, tuple[str, ...]] = field(default_factory=dict)
    also_from: tuple[str, ...] = ()
    where: dict[str, tuple[str, ...] | None] = field(default_factory=dict)
    one_row_per: tuple[str, ...] = ()
    choose: dict[str, tuple[tuple[str, dict[str, tuple[str, ...] | None]], ...]] = field(default_factory=dict)
    sets: tuple[str, ...] = ()
    latest_by: str | None = None


@dataclass(frozen=True)
class Mapping:
    """Which files feed which tables; see ``parameters/mappings/default.yaml``.

    ``updates`` (the YAML's top-level ``updates:``, by name) are files that land no rows of their
    own but set columns of rows a table's files landed, by key (a CRM's contacts setting their
    account's preferred channel); see :mod:`quantlib.data.ingest.updates`.
    """

    tables: dict[str, TableMapping]
    source: str = "built-in"
    updates: dict[str, TableMapping] = field(default_factory=dict)

    def updated_by(self, name: str) -> list[str]:
        """The updates whose file globs match ``name``, in the mapping's order."""
        lower = name.lower()
        return [u for u, tm in self.updates.items() if any(fnmatch.fnmatchcase(lower, p.lower()) for p in tm.files)]

    def match(self, name: str) -> tuple[str | None, str | None]:
        """Return ``(table, None)`` for the table ``name`` belongs to, else ``(None, why)``.

        When globs of several tables match, the most specific glob (most literal
        characters) wins, so ``equipment_usage*.csv`` beats ``equipment*.csv``.
        """
        lower = name.lower()
        best: dict[str, int] = {}
        for table, tm in self.tables.items():
            for pattern in tm.files:
                if fnmatch.fnmatchcase(lower, pattern.lower()):
                    literal = sum(ch not in "*?[]" for ch in pattern)
                    best[table] = max(best.get(table, -1), literal)
        if not best:
            return None, "matches no table of the mapping"
        top = max(best.values())
        winners = sorted(t for t, v in best.items() if v == top)
        if len(winners) > 1:
            return None, f"matches several tables ({', '.join(winners)}); make the mapping globs distinct"
        return winners[0], None

    def also(self, name: str, table: str | None = None) -> list[str]:
        """The tables other than ``table`` whose ``also_from`` globs match ``name``, in load order."""
        lower = name.lower()
        return [t for t in TABLE_ORDER if t in self.tables and t != table
                and any(fnmatch.fnmatchcase(lower, p.lower()) for p in self.tables[t].also_from)]


def default_mapping() -> Mapping:
    """The identity mapping: ``<table>.csv``, ``<table>_*.csv`` (and Parquet) per table."""
    tables = {
        t: TableMapping(t, (f"{t}.csv", f"{t}_*.csv", f"{t}.parquet", f"{t}_*.parquet"))
        for t in TABLE_ORDER
    }
    return Mapping(tables, "built-in")


def load_mapping(path: str | Path | None = None) -> Mapping:
    """Read a mapping YAML file; ``None`` means the shipped default mapping.

    Parameters
    ----------
    path : str or Path, optional
        The YAML file. Without it :func:`default_mapping_path` is read
        (``parameters/mappings/default.yaml`` of the project root), or the built-in
        identity mapping when it is not there (an installed package).

    Raises
    ------
    MappingError
        One line naming the file and what is wrong with it.
    """
    if path is None:
        path = default_mapping_path()
        if not path.exists():
            return default_mapping()
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MappingError(f"mapping file {path} not found") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MappingError(f"mapping file {path} is not valid YAML: {first}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("tables"), dict):
        raise MappingError(f"mapping file {path} needs a top-level 'tables:' mapping")
    tables = {table: _table_mapping(path, f"tables.{table}", table, spec or {})
              for table, spec in doc["tables"].items()}
    updates = {}
    for name, spec in (doc.get("updates") or {}).items():
        if not isinstance(spec, dict) or spec.get("table") not in CONTRACTS:
            raise MappingError(f"mapping file {path}: updates.{name} needs a 'table:' naming a known table")
        um = _table_mapping(path, f"updates.{name}", spec["table"], spec)
        contract = CONTRACTS[um.table]
        if len(contract.key) != 1 or contract.key[0] not in um.columns.values():
            raise MappingError(f"mapping file {path}: updates.{name}.columns must map a source column to "
                               f"{um.table}'s key {', '.join(contract.key)}")
        sets = tuple(dict.fromkeys(c for c in [*um.columns.values(), *um.join, *um.choose] if c != contract.key[0]))
        if not sets:
            raise MappingError(f"mapping file {path}: updates.{name} sets no column of {um.table}")
        latest = spec.get("latest_by")
        if latest is not None and not isinstance(latest, str):
            raise MappingError(f"mapping file {path}: updates.{name}.latest_by must name a source column")
        updates[name] = replace(um, sets=sets, latest_by=latest)
    return Mapping(tables, str(path), updates)


def _conditions(path, label: str, where) -> dict[str, tuple[str, ...] | None]:
    """A ``where`` (or a ``choose`` rule's ``when``): source column -> accepted values, None for nonblank."""
    if not isinstance(where, dict):
        raise MappingError(f"mapping file {path}: {label} must map source columns to values")
    for column, accepted in where.items():
        if not (accepted in ("nonblank", "blank") or isinstance(accepted, list) and accepted
                and all(isinstance(v, (str, int, float, bool)) for v in accepted)):
            raise MappingError(f"mapping file {path}: {label}.{column} must list values, or be nonblank or blank")
    return {str(k): None if v == "nonblank" else ("",) if v == "blank" else tuple(_norm(x) for x in v)
            for k, v in where.items()}


def _table_mapping(path: Path, label: str, table: str, spec: dict) -> TableMapping:
    """One table's (or update's) entry of a mapping file; ``label`` names it in errors."""
    if table not in CONTRACTS:
        raise MappingError(f"mapping file {path}: unknown table {table!r}; "
                           f"known tables: {', '.join(TABLE_ORDER)}")
    files = spec.get("files") or []
    if isinstance(files, str):
        files = [files]
    columns = spec.get("columns") or {}
    if not isinstance(columns, dict):
        raise MappingError(f"mapping file {path}: {label}.columns must map source to contract names")
    contract = CONTRACTS[table]
    for src, dst in columns.items():
        if dst not in contract.columns:
            raise MappingError(f"mapping file {path}: {label}.columns maps {src!r} to {dst!r}, "
                               f"which is not a column of {table}")
    delimiter = spec.get("delimiter", ",")
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise MappingError(f"mapping file {path}: {label}.delimiter must be one character")
    extras = {}
    for key in ("join", "values", "defaults", "strip"):
        entries = spec.get(key) or {}
        if not isinstance(entries, dict):
            raise MappingError(f"mapping file {path}: {label}.{key} must map contract columns")
        for target, entry in entries.items():
            if target not in contract.columns:
                raise MappingError(f"mapping file {path}: {label}.{key} names {target!r}, "
                                   f"which is not a column of {table}")
            if key == "join" and not (isinstance(entry, list) and entry and all(isinstance(e, str) for e in entry)):
                raise MappingError(f"mapping file {path}: {label}.join.{target} must list source columns")
            if key == "values" and not isinstance(entry, dict):
                raise MappingError(f"mapping file {path}: {label}.values.{target} must map source "
                                   "values to contract values")
            if key == "strip" and not (isinstance(entry, list) and entry
                                       and all(isinstance(e, str) and e for e in entry)):
                raise MappingError(f"mapping file {path}: {label}.strip.{target} must list the "
                                   "texts to remove")
        extras[key] = entries
    also_from = spec.get("also_from") or []
    also_from = [also_from] if isinstance(also_from, str) else also_from
    if not isinstance(also_from, list) or not all(isinstance(g, str) for g in also_from):
        raise MappingError(f"mapping file {path}: {label}.also_from must list file globs")
    where = _conditions(path, f"{label}.where", spec.get("where") or {})
    choose = spec.get("choose") or {}
    if not isinstance(choose, dict):
        raise MappingError(f"mapping file {path}: {label}.choose must map contract columns to rules")
    rules = {}
    for target, entry in choose.items():
        if target not in contract.columns:
            raise MappingError(f"mapping file {path}: {label}.choose names {target!r}, which is not a column "
                               f"of {table}")
        if not (isinstance(entry, list) and entry and all(isinstance(r, dict) and "value" in r for r in entry)):
            raise MappingError(f"mapping file {path}: {label}.choose.{target} must list rules with a value "
                               "and a when")
        rules[str(target)] = tuple((str(r["value"]), _conditions(path, f"{label}.choose.{target}.when",
                                                                r.get("when") or {})) for r in entry)
    one_row_per = spec.get("one_row_per") or []
    one_row_per = [one_row_per] if isinstance(one_row_per, str) else one_row_per
    if not isinstance(one_row_per, list) or not all(isinstance(c, str) for c in one_row_per):
        raise MappingError(f"mapping file {path}: {label}.one_row_per must list source columns")
    return TableMapping(
        table, tuple(str(f) for f in files), {str(k): str(v) for k, v in columns.items()}, delimiter,
        join={str(k): tuple(str(c) for c in v) for k, v in extras["join"].items()},
        values={str(k): {_norm(a): str(b) for a, b in v.items()} for k, v in extras["values"].items()},
        defaults={str(k): str(v) for k, v in extras["defaults"].items()},
        strip={str(k): tuple(v) for k, v in extras["strip"].items()},
        also_from=tuple(also_from),
        where=where, one_row_per=tuple(one_row_per), choose=rules)


# --------------------------------------------------------------------------- column names


def _norm(name: str) -> str:
    return str(name).strip().lower()


def _known_names(tm: TableMapping) -> set[str]:
    return {_norm(c) for c in CONTRACTS[tm.table].columns} | {_norm(c) for c in tm.columns}


def _rename(frame: pd.DataFrame, tm: TableMapping, contract: TableContract) -> tuple[dict[str, str], list[str]]:
    """Source column -> contract column, and the notes about ignored / absent columns.

    Mapping entries win; otherwise a source column whose name equals a contract
    column, ignoring case and surrounding blanks, is taken.
    """
    by_norm_map = {_norm(k): v for k, v in tm.columns.items()}
    by_norm_contract = {_norm(c): c for c in contract.columns if c not in tm.join}
    joined = {_norm(c) for sources in tm.join.values() for c in sources}
    rename: dict[str, str] = {}
    ignored = []
    for col in frame.columns:
        if _norm(col) in joined and _norm(col) not in by_norm_map:
            continue  # read by a join
        target = tm.columns.get(col) or by_norm_map.get(_norm(col)) or by_norm_contract.get(_norm(col))
        if target is None:
            ignored.append(col)
            continue
        if target in rename.values():
            other = next(k for k, v in rename.items() if v == target)
            raise UnusableFile(f"columns {other!r} and {col!r} both map to {target!r}")
        rename[col] = target
    supplied = set(rename.values()) | set(tm.join) | set(tm.defaults)
    missing = [c for c in contract.required_columns if c not in supplied]
    if missing:
        cols = ", ".join(repr(c) for c in missing)
        raise UnusableFile(f"missing required column{'s' if len(missing) > 1 else ''} {cols} "
                           f"(map it in the mapping file if the export names it differently)")
    notes = []
    if ignored:
        notes.append(f"ignored column{'s' if len(ignored) > 1 else ''} not in {contract.name}: "
                     + ", ".join(ignored[:10]) + (" ..." if len(ignored) > 10 else ""))
    absent = [c for c in contract.columns if c not in supplied]
    if absent:
        notes.append("optional column" + ("s " if len(absent) > 1 else " ") + ", ".join(absent)
                     + " absent: left empty")
    return rename, notes


def where_rows(source: pd.DataFrame, tm: TableMapping) -> tuple[np.ndarray, str | None]:
    """Which rows of ``source`` (the file as read) are rows of ``tm.table`` by its ``where``, and a note.

    Raises
    ------
    UnusableFile
        A column ``where`` names is not in the file.
    """
    keep = np.ones(len(source), dtype=bool)
    if not tm.where and not tm.one_row_per:
        return keep, None
    by_norm = {_norm(c): c for c in source.columns}
    shown = []
    for column, accepted in tm.where.items():
        if _norm(column) not in by_norm:
            raise UnusableFile(f"column {column!r} (which rows are {tm.table}) is not in the file")
        values = source[by_norm[_norm(column)]].astype("string").str.strip().str.lower().fillna("")
        if accepted is None:
            keep &= (values != "").to_numpy()
            shown.append(f"{column} set")
        else:
            keep &= values.isin(list(accepted)).to_numpy()
            shown.append(f"{column} one of " + ", ".join(a or "(blank)" for a in accepted))
    skipped = int((~keep).sum())
    notes = [f"{skipped} row{'s' if skipped != 1 else ''} not {tm.table} (taken when {' and '.join(shown)})"] \
        if skipped else []
    if tm.one_row_per:
        absent = [c for c in tm.one_row_per if _norm(c) not in by_norm]
        if absent:
            raise UnusableFile(f"column {absent[0]!r} (one row per record of it) is not in the file")
        ids = source[[by_norm[_norm(c)] for c in tm.one_row_per]].astype("string").apply(lambda s: s.str.strip())
        ids = ids.fillna("")
        repeated = np.zeros(len(source), dtype=bool)  # among the rows of this table only
        repeated[keep] = (ids[keep].duplicated(keep="first") & (ids[keep] != "").any(axis=1)).to_numpy()
        if repeated.any():
            keep &= ~repeated
            lines = int(repeated.sum())
            notes.append(f"{lines} further line{'s' if lines != 1 else ''} of a record read from its first row "
                         f"(one row per {', '.join(tm.one_row_per)})")
    return keep, "; ".join(notes) or None


def apply_rules(source: pd.DataFrame, frame: pd.DataFrame, tm: TableMapping) -> pd.DataFrame:
    """``frame`` (renamed to contract columns) with the mapping's joins, strips, value maps, choices and
    defaults applied.

    ``source`` is the file as read (the joins read its columns).

    Raises
    ------
    UnusableFile
        None of a join's source columns is in the file.
    """
    if not (tm.join or tm.values or tm.defaults or tm.strip or tm.choose):
        return frame
    frame = frame.copy()
    by_norm = {_norm(c): c for c in source.columns}
    for target, sources in tm.join.items():
        found = [by_norm[_norm(c)] for c in sources if _norm(c) in by_norm]
        if not found:
            raise UnusableFile(f"none of {', '.join(repr(c) for c in sources)} (joined into {target!r}) is in the file")
        parts = source[found].astype("string").apply(lambda col: col.str.strip())
        joined = parts.apply(lambda row: " ".join(v for v in row if isinstance(v, str) and v), axis=1)
        frame[target] = joined.where(joined.str.len() > 0).to_numpy() if len(frame) else pd.Series(dtype=object)
    for target, texts in tm.strip.items():
        if target in frame:
            text = frame[target].astype("string")
            for part in texts:
                text = text.str.replace(part, "", regex=False)
            frame[target] = text.astype(object).where(text.notna(), None).to_numpy()
    for target, mapping in tm.values.items():
        if target in frame:
            frame[target] = frame[target].map(
                lambda v: mapping.get(_norm(v), v) if isinstance(v, str) or pd.notna(v) else v)
    for target, rules in tm.choose.items():
        chosen = pd.Series([None] * len(frame), index=frame.index, dtype=object)
        for value, when in rules:
            holds = np.ones(len(frame), dtype=bool)
            for column, accepted in when.items():
                cells = (source[by_norm[_norm(column)]].astype("string").str.strip().str.lower().fillna("")
                         if _norm(column) in by_norm else pd.Series("", index=source.index))  # absent: blank
                holds &= (cells != "").to_numpy() if accepted is None else cells.isin(list(accepted)).to_numpy()
            chosen = chosen.where(chosen.notna() | ~holds, value)
        kept = frame[target] if target in frame else pd.Series([None] * len(frame), index=frame.index, dtype=object)
        frame[target] = chosen.where(chosen.notna(), kept).to_numpy() if len(frame) else pd.Series(dtype=object)
    for target, default in tm.defaults.items():
        if target not in frame:
            frame[target] = default
        else:
            blank = frame[target].isna() | (frame[target].astype("string").str.strip() == "")
            frame[target] = frame[target].where(~blank, default)
    return frame
