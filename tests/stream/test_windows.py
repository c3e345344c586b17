"""Window arithmetic: tumbling and hopping starts, closing with a grace period."""

from datetime import datetime, timedelta

import pytest

from quantlib.stream.windows import Window, hopping, is_closed, tumbling


def test_tumbling_windows_hold_one_start():
    assert tumbling("5m", 5).starts(datetime(2024, 3, 1, 10, 7, 30)) == [datetime(2024, 3, 1, 10, 5)]
    assert tumbling("5m", 5).starts(datetime(2024, 3, 1, 10, 5)) == [datetime(2024, 3, 1, 10, 5)]


def test_hopping_windows_hold_size_over_step_starts():
    starts = hopping("1h", 60, 15).starts(datetime(2024, 3, 1, 10, 7))
    assert starts == [datetime(2024, 3, 1, 9, 15), datetime(2024, 3, 1, 9, 30), datetime(2024, 3, 1, 9, 45),
                      datetime(2024, 3, 1, 10, 0)]
    assert all(s <= datetime(2024, 3, 1, 10, 7) < s + timedelta(hours=1) for s in starts)


def test_a_window_closes_once_the_watermark_passes_its_end_plus_grace():
    end, grace = datetime(2024, 3, 1, 10, 5), timedelta(minutes=10)
    assert not is_closed(end, None, grace)
    assert not is_closed(end, datetime(2024, 3, 1, 10, 14, 59), grace)
    assert is_closed(end, datetime(2024, 3, 1, 10, 15), grace)


def test_a_size_that_is_not_a_multiple_of_the_step_is_refused():
    with pytest.raises(ValueError, match="multiple"):
        Window("bad", timedelta(minutes=60), timedelta(minutes=25))
