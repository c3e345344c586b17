"""The 5-point <-> 0-10 rating mapping of issue 13 (x 2), defined once in quantlib.kpi."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantlib.kpi import REGISTRY, RatingScaleError, to_five_point, to_ten_point


@pytest.mark.parametrize("five, ten", [(4.0, 8.0), (4.5, 9.0), (0.0, 0.0), (5.0, 10.0), (2.5, 5.0)])
def test_mapping_both_ways(five, ten):
    assert to_ten_point(five) == ten
    assert to_five_point(ten) == five


def test_mapping_takes_series_and_arrays_and_keeps_missing_values():
    ratings = pd.Series([8.0, np.nan, 9.0])
    out = to_five_point(ratings)
    assert out.iloc[0] == 4.0 and np.isnan(out.iloc[1]) and out.iloc[2] == 4.5
    assert list(to_ten_point(np.array([1.0, 4.5]))) == [2.0, 9.0]


@pytest.mark.parametrize("func, value", [(to_ten_point, 5.5), (to_ten_point, -1), (to_five_point, 10.5)])
def test_out_of_scale_is_refused(func, value):
    with pytest.raises(RatingScaleError, match="scale"):
        func(value)
    with pytest.raises(ValueError):  # the built-in base is kept
        func(value)


def test_satisfaction_target_is_the_spec_four_on_five():
    assert REGISTRY["customer_satisfaction"].target == 8.0
