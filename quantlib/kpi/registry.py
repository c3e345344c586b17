"""KPI objects, filters, the registry and the summary table.

A :class:`KPI` couples a definition (a function of a gold connection, an as-of
date, a window and filters) with what a dashboard needs to show it: unit,
direction, target. The definition is the function's docstring.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import duckdb
import pandas as pd

from quantlib.data.gold import Filters, gold_as_of, open_gold, to_date
from quantlib.errors import QuantError

#: Start of "all history" when a KPI has no default window.
ALL_HISTORY = dt.date(1900, 1, 1)

Window = int | dt.date | str | None


class KpiUnavailable(QuantError):
    """A KPI has no value here; the message says why (e.g. no data in the window)."""


@dataclass(frozen=True)
class KPI:
    """One KPI: its definition and how to show it.

    Attributes
    ----------
    name : str
        Registry key.
    label : str
        Short human name.
    unit : str
        ``ratio`` (0-1), ``currency``, ``days``, ``hours``, ``count`` or ``rating`` (0-10).
    direction : str
        ``higher`` or ``lower`` is better; an alert is raised only on the worse side.
    func : callable
        ``func(con, as_of, start, filters) -> float``; the definition is its docstring.
    target : float, optional
        Default target; a ``targets`` entry named like the KPI overrides it.
    tolerance : float, optional
        Distance from the target that still counts as "on target" (default 0: only equality).
    default_window : int, "month" or None
        Days up to as_of the KPI looks at by default; ``"month"``: the month of
        as_of to date; ``None``: all history, or a window that is part of the
        definition.
    filters : frozenset of str
        Which :class:`Filters` fields the KPI understands.
    target_aliases : tuple of str
        Other ``targets`` keys that set this KPI's target (e.g. ``quality``).
    """

    name: str
    label: str
    unit: str
    direction: str
    func: Callable[..., float]
    target: float | None = None
    tolerance: float | None = None
    default_window: int | str | None = 30
    filters: frozenset = field(default_factory=lambda: frozenset({"service_line", "region"}))
    target_aliases: tuple[str, ...] = ()

    def target_from(self, targets: dict[str, float]) -> float | None:
        """The target from a ``targets`` mapping (by name, then alias), else the default."""
        for key in (self.name, *self.target_aliases):
            if key in targets:
                return float(targets[key])
        return self.target

    @property
    def definition(self) -> str:
        """The definition (the docstring of the function)."""
        return " ".join((self.func.__doc__ or "").split())

    @property
    def description(self) -> str:
        """The first sentence of the definition."""
        return (self.func.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")

    def window_start(self, as_of: dt.date, window: Window = None) -> dt.date:
        """First day of the window ending at ``as_of`` (inclusive)."""
        window = self.default_window if window is None else window
        if window is None:
            return ALL_HISTORY
        if isinstance(window, dt.date):
            return window
        if window == "month":
            return as_of.replace(day=1)
        if window < 1:
            raise ValueError(f"window must be at least one day, got {window}")
        return as_of - dt.timedelta(days=int(window) - 1)

    def compute(self, con: duckdb.DuckDBPyConnection, as_of, window: Window = None,
                filters: Filters | None = None) -> float:
        """The KPI's value as of ``as_of``.

        Parameters
        ----------
        con : duckdb.DuckDBPyConnection
            Connection to a gold database.
        as_of : date or str
            Last day looked at (inclusive).
        window : int, date or "month", optional
            Days up to ``as_of``, the first day, or month to date; default
            ``default_window``.
        filters : Filters, optional
            Restrict to a service line, region or technician.

        Raises
        ------
        KpiUnavailable
            When the value is undefined (no data, a filter the KPI cannot use).
        """
        as_of = to_date(as_of)
        filters = filters or Filters()
        unsupported = set(filters.active()) - set(self.filters)
        if unsupported:
            raise KpiUnavailable(f"{self.name} cannot be filtered by {', '.join(sorted(unsupported))}")
        value = self.func(con, as_of, self.window_start(as_of, window), filters)
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            raise KpiUnavailable("no data in the window")
        return float(value)

    def status(self, value: float | None, target: float | None) -> str:
        """Where ``value`` stands against ``target``: see :func:`target_status`."""
        return target_status(value, target, self.tolerance)

    def alert(self, value: float | None, target: float | None) -> bool:
        """True when ``value`` is off target on the worse side: see :func:`is_alert`."""
        return is_alert(value, target, self.direction, self.tolerance)


def target_status(value: float | None, target: float | None, tolerance: float | None = None) -> str:
    """``above target``, ``on target``, ``below target``, ``no target`` or ``no data``.

    Says only where the value stands; whether that is good is the KPI's direction
    (:func:`is_alert`). Within ``tolerance`` of the target (inclusive) is on target.

    Parameters
    ----------
    value, target : float or None
    tolerance : float, optional
        Default 0.

    Returns
    -------
    str
    """
    if value is None or not math.isfinite(value):
        return "no data"
    if target is None or not math.isfinite(target):
        return "no target"
    if abs(value - target) <= (tolerance or 0):
        return "on target"
    return "above target" if value > target else "below target"


def is_alert(value: float | None, target: float | None, direction: str, tolerance: float | None = None) -> bool:
    """True when ``value`` is off target on the worse side for ``direction``.

    Parameters
    ----------
    value, target : float or None
    direction : {"higher", "lower"}
        Which way is better: below target alerts a ``higher`` KPI, above target a ``lower`` one.
    tolerance : float, optional
        Distance from the target that is still on target (default 0).

    Returns
    -------
    bool
        False without a value or a target.
    """
    status = target_status(value, target, tolerance)
    return status == ("below target" if direction == "higher" else "above target")


REGISTRY: dict[str, KPI] = {}
#: Which way is better; every KPI has one.
DIRECTIONS = ("higher", "lower")


def register(name: str, label: str, unit: str, direction: str, *, target: float | None = None,
             tolerance: float | None = None, default_window: int | str | None = 30,
             filters: tuple[str, ...] = ("service_line", "region"), target_aliases: tuple[str, ...] = ()):
    """Decorator: register the decorated function as KPI ``name``."""

    if direction not in DIRECTIONS:
        raise ValueError(f"KPI {name}: direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")

    def wrap(func):
        REGISTRY[name] = KPI(name, label, unit, direction, func, target, tolerance, default_window,
                             frozenset(filters), tuple(target_aliases))
        return func

    return wrap


def get_kpi(name: str) -> KPI:
    """The KPI called ``name``; ``KeyError`` lists the known ones."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown KPI {name!r}; known: {', '.join(REGISTRY)}") from None


def targets_of(con: duckdb.DuckDBPyConnection) -> dict[str, float]:
    """The numeric targets stored in gold's ``targets`` table."""
    try:
        rows = con.execute("SELECT key, value FROM targets WHERE value IS NOT NULL").fetchall()
    except duckdb.CatalogException:
        return {}
    return {key: value for key, value in rows}


def kpi_summary(gold_path: Path | str, as_of=None, filters: Filters | None = None,
                names: list[str] | None = None) -> pd.DataFrame:
    """Every registered KPI (or ``names``) as of ``as_of``, with target and status.

    Parameters
    ----------
    gold_path : Path, str, Lake or DuckDBPyConnection
        The gold warehouse (anything :func:`~quantlib.data.gold.open_gold` takes).
    as_of : date or str, optional
        Default: the as-of date of the build (latest date in the data).
    filters : Filters, optional
        Applied to every KPI; a KPI that cannot use a filter says so in ``note``.
    names : list of str, optional
        Restrict to these KPIs.

    Returns
    -------
    DataFrame
        Columns ``kpi, label, value, unit, direction, target, status, alert, note, as_of``:
        ``status`` is where the value stands (``above target``, ``on target``, ``below
        target``, ``no target``, ``no data``), ``alert`` is True only when that is the
        worse side for the KPI's ``direction``; ``value`` is NaN and ``note`` says why when
        a KPI has no value.
    """
    with open_gold(gold_path) as con:
        as_of = gold_as_of(con) if as_of is None else to_date(as_of)
        targets = targets_of(con)
        rows = []
        for kpi in (get_kpi(n) for n in (names or REGISTRY)):
            target = kpi.target_from(targets)
            try:
                value, note = kpi.compute(con, as_of, filters=filters), ""
            except KpiUnavailable as reason:
                value, note = math.nan, str(reason)
            rows.append({"kpi": kpi.name, "label": kpi.label, "value": value, "unit": kpi.unit,
                         "direction": kpi.direction, "target": target, "status": kpi.status(value, target),
                         "alert": kpi.alert(value, target), "note": note, "as_of": as_of})
    return pd.DataFrame(rows, columns=["kpi", "label", "value", "unit", "direction", "target", "status", "alert",
                                       "note", "as_of"])
