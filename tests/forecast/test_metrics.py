"""Accuracy measures against hand-computed values."""

import math

import numpy as np
import pytest

from quantlib.forecast.metrics import accuracy, coverage, mase, smape, wape


def test_smape_hand_computed():
    # |100-110|/(210) = 0.047619..., |200-150|/350 = 0.142857...; mean * 200
    assert smape([100, 200], [110, 150]) == pytest.approx(200 * (10 / 210 + 50 / 350) / 2)
    assert smape([0, 5], [0, 5]) == 0.0  # 0/0 counts as a perfect forecast
    assert smape([1], [0]) == pytest.approx(200.0)


def test_mase_uses_seasonal_naive_scale_of_training_data():
    train = [1, 2, 3, 4, 3, 4, 5, 6]  # m=4 differences: 2,2,2,2 -> scale 2
    assert mase([7, 8], [6, 8], train, season_length=4) == pytest.approx(0.5 / 2)
    # m=1 differences: 1,1,1,-1,1,1,1 -> scale 1
    assert mase([7, 8], [6, 8], train, season_length=1) == pytest.approx(0.5)
    # training series not longer than a season: falls back to m=1
    assert mase([3], [1], [1, 2, 4], season_length=4) == pytest.approx(2 / 1.5)
    assert math.isnan(mase([1], [1], [5, 5, 5]))


def test_wape_coverage_accuracy():
    assert wape([10, 20, 30], [12, 18, 30]) == pytest.approx(4 / 60)
    assert coverage([1, 2, 3, 4], [0, 2.5, 2, 5], [2, 3, 3, 6]) == pytest.approx(0.5)
    # spec: 1 - |sum f - sum y| / sum y; errors of opposite sign cancel
    assert accuracy([100, 100], [90, 110]) == pytest.approx(1.0)
    assert accuracy([100, 100], [90, 90]) == pytest.approx(0.9)
    assert accuracy([50, 50], [150, 150]) == pytest.approx(-1.0)


def test_metrics_reject_mismatched_lengths():
    with pytest.raises(ValueError):
        smape([1, 2], [1])
    with pytest.raises(ValueError):
        wape([], [])
    assert np.isnan(wape([0, 0], [1, 1]))
