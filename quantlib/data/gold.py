"""The one way to read the gold warehouse: open it, find its as-of date, slice it.

Every engine, view and app that reads gold goes through :func:`open_gold` (or, for an app that
keeps a connection for its lifetime, :func:`connect_gold`), so "a connection, a lake or a path"
means the same thing everywhere and a missing warehouse is always the same error,
:class:`~quantlib.errors.WarehouseNotFoundError`, naming the command that builds it.
Anchor: Kedro's dataset layer, where every read goes through one load call with one error type.

>>> with open_gold("data/demo/mixed_trades/lake") as con:          # doctest: +SKIP
...     day = gold_as_of(con)
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path

import duckdb
import pandas as pd

from quantlib.data.storage import ObjectPath, is_remote, local_copy
from quantlib.errors import WarehouseNotFoundError

__all__ = ["Filters", "as_of_date", "connect_gold", "connect_tables", "gold_as_of", "gold_file",
           "local_gold_lake", "open_gold", "to_date"]

GOLD_FILE = "gold.duckdb"

def gold_file(source) -> Path:
    """The gold DuckDB file ``source`` stands for.

    Parameters
    ----------
    source : Lake, str, PathLike or ObjectPath
        A lake (its ``gold``), a lake root folder (its ``gold.duckdb``) or the gold file; any of
        them may be on object storage (``s3://``).

    Returns
    -------
    Path
        The file. For gold on object storage, a local copy cached by the object's ETag
        (:func:`quantlib.data.storage.local_copy`): downloaded once per build, so every reader
        on every machine opens the build that was uploaded last, in full.

    Raises
    ------
    WarehouseNotFoundError
        When there is no such file, naming the command that builds it.
    TypeError
        When ``source`` is neither a lake nor a path.
    """
    path = getattr(source, "gold", source)
    if isinstance(path, ObjectPath) or is_remote(path):
        return _remote_gold_file(ObjectPath(str(path)))
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"a gold source is a DuckDB connection, a Lake, a lake folder or a gold file; "
                        f"got {type(source).__name__}")
    path = Path(path)
    if path.is_dir():
        path = path / GOLD_FILE
    if not path.is_file():
        lake = path.parent if path.name == GOLD_FILE else path
        raise WarehouseNotFoundError(f"no gold warehouse at {path}; build it with "
                                     f"`quant warehouse build --lake {lake}`")
    return path


def _remote_gold_file(path: ObjectPath) -> Path:
    if path.name != GOLD_FILE and not path.is_file():
        path = path / GOLD_FILE
    try:
        return local_copy(path)
    except FileNotFoundError:
        lake = path.parent if path.name == GOLD_FILE else path
        raise WarehouseNotFoundError(f"no gold warehouse at {path}; build it with "
                                     f"`quant warehouse build --lake {lake}`") from None


def local_gold_lake(source) -> Path:
    """A local lake folder for readers that must not reach object storage (the apps' kernels).

    Parameters
    ----------
    source : Lake, str, PathLike or ObjectPath
        A lake or a lake root, local or on object storage (``s3://``).

    Returns
    -------
    Path
        A local lake: its root, unchanged. An ``s3://`` lake: a local folder whose
        ``gold.duckdb`` is the lake's gold as :func:`gold_file` fetches it (the ETag-keyed copy
        in the gold cache): a hard link to that copy, in ``<QUANT_GOLD_CACHE>/<key>-lake/``,
        replaced in one rename when a later call finds a new build. The file then changes as a
        local rebuild changes ``gold.duckdb`` (a new file, a new inode), so readers that watch the
        file see the rebuild, and it outlives the cache's removal of old copies while open.
        Only gold is there: the caller fetches it with the credentials, the readers need none.

    Raises
    ------
    WarehouseNotFoundError
        There is no gold in the lake, naming the command that builds it.
    """
    root = getattr(source, "root", source)
    if not (isinstance(root, ObjectPath) or is_remote(root)):
        return Path(root)
    root = ObjectPath(str(root))
    cached = gold_file(root / GOLD_FILE)
    folder = cached.parent.with_name(f"{cached.parent.name}-lake")
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / GOLD_FILE
    try:
        if os.path.samefile(target, cached):
            return folder
    except FileNotFoundError:
        pass
    link = folder / f".{GOLD_FILE}.{os.getpid()}.tmp"
    link.unlink(missing_ok=True)
    os.link(cached, link)
    os.replace(link, target)
    return folder


def connect_gold(source) -> duckdb.DuckDBPyConnection:
    """A new read-only connection to the gold file of ``source`` (see :func:`gold_file`); close it yourself.

    For code that keeps a connection for its lifetime (an app); everything else uses :func:`open_gold`.
    """
    return duckdb.connect(str(gold_file(source)), read_only=True)


@contextmanager
def open_gold(source) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only gold connection for the ``with`` block; closed after it only if opened here.

    Parameters
    ----------
    source : DuckDBPyConnection, report context, Lake, str or PathLike
        An open connection (used as is and left open), an object with a ``.con`` connection (a
        :class:`~quantlib.kpi.views.report.ReportContext`), a lake, a lake root or the gold file.

    Raises
    ------
    WarehouseNotFoundError
        When a path is given and no gold file is there.
    """
    if isinstance(source, duckdb.DuckDBPyConnection):
        yield source
        return
    con = getattr(source, "con", None)
    if isinstance(con, duckdb.DuckDBPyConnection):
        yield con
        return
    con = connect_gold(source)
    try:
        yield con
    finally:
        con.close()


def connect_tables(tables: Mapping[str, pd.DataFrame]) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with ``tables`` (e.g. a generated company's) registered by name.

    Engines that read gold's base tables also accept this, for data that never went through a lake.
    """
    con = duckdb.connect(":memory:")
    for name, df in tables.items():
        con.register(name, df)
    return con


def gold_as_of(con: duckdb.DuckDBPyConnection) -> dt.date:
    """The as-of date the gold marts were built for (the latest date in the data)."""
    return con.execute("SELECT as_of FROM build_params").fetchone()[0]


def to_date(value) -> dt.date:
    """``value`` (a date, datetime, Timestamp or ISO string) as a :class:`datetime.date`."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return pd.Timestamp(value).date()


def as_of_date(con: duckdb.DuckDBPyConnection, as_of=None) -> dt.date:
    """``as_of`` as a date, or gold's build date when it is ``None``."""
    return gold_as_of(con) if as_of is None else to_date(as_of)


@dataclass(frozen=True)
class Filters:
    """Slices a read of gold can be restricted to; ``None`` means all.

    Attributes
    ----------
    service_line : str, optional
        A service line (``hvac``, ``plumbing`` ...).
    region : str, optional
        A region (of the job, technician, equipment or customer, as the reader says).
    technician_id : str, optional
        One technician.
    """

    service_line: str | None = None
    region: str | None = None
    technician_id: str | None = None

    def active(self) -> dict[str, str]:
        """The filters that are set, by name."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}
