"""The one mapping between the specification's 5-point ratings and our 0-10 ratings.

Job ratings and survey satisfaction are recorded on a 0-10 scale (``jobs.rating``,
``interactions.satisfaction``); the product specification states its satisfaction
thresholds on a 5-point scale. The mapping is linear, ``ten_point = 2 x five_point``
(4.0 -> 8.0, 4.5 -> 9.0), and every threshold quoted on the 5-point scale goes through
:func:`to_ten_point` (and every figure shown on the 5-point scale through
:func:`to_five_point`), so the factor lives here only.

>>> to_ten_point(4.5)
9.0
>>> to_five_point(8.0)
4.0
"""

from __future__ import annotations

import numpy as np

from quantlib.errors import QuantError

#: Ten-point rating per five-point rating: ``ten_point = RATING_FACTOR x five_point``.
RATING_FACTOR = 2.0
FIVE_POINT_MAX = 5.0
TEN_POINT_MAX = 10.0

__all__ = ["FIVE_POINT_MAX", "RATING_FACTOR", "RatingScaleError", "TEN_POINT_MAX", "to_five_point",
           "to_ten_point"]


class RatingScaleError(QuantError, ValueError):
    """A rating outside the scale it was said to be on (e.g. 7 on the 5-point scale)."""


def _check(value, top: float, scale: str) -> None:
    values = np.asarray(value, dtype=float)
    finite = values[np.isfinite(values)]
    if finite.size and (finite.min() < 0 or finite.max() > top):
        raise RatingScaleError(f"rating {value!r} is outside the {scale} scale 0-{top:g}")


def to_ten_point(five_point):
    """A 5-point rating (scalar, array or Series) on our 0-10 scale: ``x 2`` (4.0 -> 8.0, 4.5 -> 9.0).

    Raises
    ------
    RatingScaleError
        When a value is outside 0-5 (missing values pass through).
    """
    _check(five_point, FIVE_POINT_MAX, "5-point")
    return five_point * RATING_FACTOR


def to_five_point(ten_point):
    """A 0-10 rating (scalar, array or Series) on the specification's 5-point scale: ``/ 2`` (9.0 -> 4.5).

    Raises
    ------
    RatingScaleError
        When a value is outside 0-10 (missing values pass through).
    """
    _check(ten_point, TEN_POINT_MAX, "0-10")
    return ten_point / RATING_FACTOR
