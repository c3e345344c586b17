"""The customer journey, lead to paid invoice: how many reach each stage and how many are lost on the way.

The counts come from gold's ``funnel`` mart, which traces every quote, job and invoice back to the
month its lead came in (a lead cohort). Summing the mart over a range of lead months gives the
journey of the leads of those months:

    lead -> quote -> won quote -> job -> invoice -> paid invoice

>>> journey_stages("data/demo/mixed_trades/lake", start="2024-01-01", service_line="hvac")  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from quantlib.data.gold import gold_as_of, open_gold, to_date

__all__ = ["JOURNEY_STAGES", "journey_stages"]

#: The journey's stages in order: the ``funnel`` mart's column and the stage's name.
JOURNEY_STAGES: dict[str, str] = {
    "leads": "Lead",
    "quotes": "Quote",
    "won_quotes": "Won quote",
    "jobs": "Job",
    "invoices": "Invoice",
    "paid_invoices": "Paid invoice",
}

#: The ``funnel`` rows that hold all service lines together (its ``GROUPING SETS`` total).
ALL_LINES = "all"


def journey_stages(con_or_lake, start=None, end=None, service_line: str | None = None,
                   months: int | None = None) -> pd.DataFrame:
    """Leads, quotes, won quotes, jobs, invoices and paid invoices of the leads of a range of months.

    Parameters
    ----------
    con_or_lake : connection, report context, Lake or path
        Gold (anything :func:`~quantlib.data.gold.open_gold` takes).
    start, end : date-like, optional
        The lead months counted: from ``start``'s month to ``end``'s month, both included.
        Default: every month in gold.
    service_line : str, optional
        One service line; default all lines together (the mart's ``'all'`` rows).
    months : int, optional
        Instead of ``start``: the last ``months`` lead months to ``end``'s month (default gold's
        as-of date), ``end``'s included.

    Returns
    -------
    DataFrame
        One row per stage, in journey order: ``stage`` (its name), ``count`` (how many reached
        it), ``continued`` (how many reached the next stage), ``dropped`` (``count - continued``,
        the ones lost before the next stage) and ``drop_rate`` (``dropped / count``; NaN when
        ``count`` is 0). The last stage has no next one: its ``continued`` and ``dropped`` are
        missing (``<NA>``) and its ``drop_rate`` NaN. A lead can get several quotes, so
        ``dropped`` can be negative where a stage multiplies.

    Raises
    ------
    ValueError
        When ``service_line`` is not in the mart, ``start`` is after ``end``, ``months`` is below 1
        or given with ``start``.
    """
    if months is not None:
        if start is not None or months < 1:
            raise ValueError(f"months must be 1 or more and replaces start; got months={months}, start={start}")
        if end is None:
            with open_gold(con_or_lake) as con:
                end = gold_as_of(con)
        start = (pd.Timestamp(to_date(end)) - pd.DateOffset(months=months - 1)).date()
    first = None if start is None else pd.Timestamp(to_date(start)).to_period("M").start_time.date()
    last = None if end is None else to_date(end)
    if first is not None and last is not None and first > last:
        raise ValueError(f"start {start} is after end {end}")
    line = ALL_LINES if service_line is None else service_line
    sums = ", ".join(f"coalesce(sum({column}), 0)::BIGINT AS {column}" for column in JOURNEY_STAGES)
    with open_gold(con_or_lake) as con:
        lines = {row[0] for row in con.execute("SELECT DISTINCT service_line FROM funnel").fetchall()}
        if line not in lines:
            raise ValueError(f"service_line {service_line!r} is not in the funnel; have {sorted(lines - {ALL_LINES})}")
        totals = con.execute(
            f"SELECT {sums} FROM funnel WHERE service_line = $line "
            "AND ($first IS NULL OR month >= $first) AND ($last IS NULL OR month <= $last)",
            {"line": line, "first": first, "last": last}).fetchone()
    counts = pd.Series(totals, index=list(JOURNEY_STAGES.values()), dtype="int64")
    continued = counts.shift(-1).astype("Int64")
    dropped = counts - continued
    frame = pd.DataFrame({"stage": counts.index, "count": counts.array, "continued": continued.array,
                          "dropped": dropped.array})
    frame["drop_rate"] = (dropped.astype("float64") / counts.where(counts > 0)).to_numpy(dtype=float, na_value=np.nan)
    frame.attrs.update(service_line=service_line, start=first, end=last)
    return frame
