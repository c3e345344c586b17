"""Price segments of quotes: one rule, computed from the company's own data at quote time.

The generator (:mod:`quantlib.data.generate`) draws each quote's price sensitivity from the
segment this rule gives, and the win model
(:class:`quantlib.forecast.pipeline.QuoteConversionModel` with ``price_terms="segment"``)
uses the same rule for its features, so what the model estimates is observable. The rule
lives in the data layer because the generator may import nothing above it.

A quote's segment, in order of precedence:

* ``premium_loyal``: the customer holds a maintenance contract active on the quote's day
  (started on or before it, not ended by it), or is a priority account;
* ``volume``: another commercial customer;
* ``price_sensitive``: another residential customer acquired through ``advertising``;
* ``new``: another residential customer created less than ``NEW_CUSTOMER_DAYS`` days before
  the quote's day;
* ``standard``: the rest.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

QUOTE_SEGMENTS = ("premium_loyal", "volume", "price_sensitive", "new", "standard")
NEW_CUSTOMER_DAYS = 365
PRICE_SENSITIVE_CHANNEL = "advertising"


def customer_segment(commercial, acquisition_channel, tenure_days, has_active_contract,
                     is_priority) -> np.ndarray:
    """The segment of each (customer, quote day), element-wise.

    Parameters
    ----------
    commercial : array-like of bool
        The customer is commercial (``customer_type == "commercial"``).
    acquisition_channel : array-like of str
        How the customer came to the company.
    tenure_days : array-like of float
        Days from the customer's creation to the quote's day.
    has_active_contract : array-like of bool
        A maintenance contract of the customer is active on the quote's day.
    is_priority : array-like of bool
        The customer is a priority account.

    Returns
    -------
    numpy.ndarray
        Segment names (object dtype), one of :data:`QUOTE_SEGMENTS` each.
    """
    commercial = np.asarray(commercial, dtype=bool)
    channel = np.asarray(acquisition_channel, dtype=object)
    tenure = np.asarray(tenure_days, dtype=float)
    loyal = np.asarray(has_active_contract, dtype=bool) | np.asarray(is_priority, dtype=bool)
    # np.select takes the first condition that holds: the order is the precedence.
    return np.select(
        [loyal, commercial, channel == PRICE_SENSITIVE_CHANNEL, tenure < NEW_CUSTOMER_DAYS],
        ["premium_loyal", "volume", "price_sensitive", "new"], default="standard").astype(object)


def quote_segments(quotes: pd.DataFrame, customers: pd.DataFrame, contracts: pd.DataFrame | None) -> pd.Series:
    """The segment of each quote on the day it was created.

    Parameters
    ----------
    quotes : DataFrame
        ``customer_id, created_at``.
    customers : DataFrame
        ``customer_id, customer_type, acquisition_channel, created_date, is_priority`` (the
        silver or gold ``customers`` table).
    contracts : DataFrame or None
        ``customer_id, start_date, end_date`` (``end_date`` missing while active); ``None``
        for a company without contracts.

    Returns
    -------
    pandas.Series
        Indexed like ``quotes``, named ``segment``.

    Raises
    ------
    ValueError
        When a column is missing or a quote's customer is not in ``customers``.
    """
    for frame, columns, what in (
            (quotes, ("customer_id", "created_at"), "quotes"),
            (customers, ("customer_id", "customer_type", "acquisition_channel", "created_date", "is_priority"),
             "customers")):
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise ValueError(f"{what} is missing column(s) {missing} needed for the quote segments")
    day = pd.to_datetime(quotes["created_at"]).dt.normalize().to_numpy()
    cust = customers.drop_duplicates("customer_id").set_index("customer_id")
    pos = cust.index.get_indexer(quotes["customer_id"])
    if (pos < 0).any():
        unknown = quotes["customer_id"].to_numpy()[pos < 0][0]
        raise ValueError(f"{int((pos < 0).sum())} quote(s) have a customer_id not in customers (e.g. {unknown!r})")
    created = pd.to_datetime(cust["created_date"]).dt.normalize().to_numpy()[pos]
    tenure = (day - created) / np.timedelta64(1, "D")
    active = np.zeros(len(quotes), dtype=bool)
    if contracts is not None and len(contracts):
        missing = [c for c in ("customer_id", "start_date", "end_date") if c not in contracts.columns]
        if missing:
            raise ValueError(f"contracts is missing column(s) {missing} needed for the quote segments")
        q = pd.DataFrame({"row": np.arange(len(quotes)), "customer_id": quotes["customer_id"].to_numpy(),
                          "day": day})
        k = contracts[["customer_id", "start_date", "end_date"]].assign(
            start_date=lambda d: pd.to_datetime(d["start_date"]).dt.normalize(),
            end_date=lambda d: pd.to_datetime(d["end_date"]).dt.normalize())
        both = q.merge(k, on="customer_id")
        on = (both["start_date"] <= both["day"]) & (both["end_date"].isna() | (both["end_date"] > both["day"]))
        active[both.loc[on, "row"].to_numpy()] = True
    segment = customer_segment(cust["customer_type"].to_numpy()[pos] == "commercial",
                               cust["acquisition_channel"].to_numpy()[pos], tenure, active,
                               cust["is_priority"].astype(bool).to_numpy()[pos])
    return pd.Series(segment, index=quotes.index, name="segment", dtype=object)
