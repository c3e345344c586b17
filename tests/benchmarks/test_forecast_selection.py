import numpy as np
import pandas as pd

from benchmarks.forecast_selection import select, selection_table


def test_selection_uses_only_series_with_enough_windows(tmp_path):
    rng = np.random.default_rng(1)
    rows = []
    # 10 long series (five windows of 4 before the held-out 4) and 10 too short for any selection window
    for s, length in [(s, 40) for s in range(10)] + [(s, 14) for s in range(10, 20)]:
        y = 50 + np.cumsum(rng.normal(0.5, 1, length))
        for t, v in enumerate(y, start=1):
            rows.append({"series_id": f"Y{s}", "frequency": "yearly", "category": "x", "horizon": 4, "t": t,
                         "y": v, "split": "test" if t > length - 4 else "train"})
    path = tmp_path / "val.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    (row,) = selection_table(str(path), n_jobs=1)
    assert row["series"] == 20
    assert row["series_selecting_2"] == row["series_selecting_3"] == 10
    assert sum(row["picked_2"].values()) == 10
    assert set(row["picked_2"]) <= {"combination", "SFDOTheta", "Theta", "Drift"}
    for key in ("combination", "selected_2", "selected_3"):
        assert 0 < row[key] < 200


def test_select_takes_the_lowest_mean_window_error_and_skips_missing_candidates():
    scores = np.array([[3.0, 1.0, 2.0], [3.0, 1.0, 2.0]])
    assert select(scores, [np.ones(2), np.ones(2), np.ones(2)], 2) == 1
    assert select(scores, [np.ones(2), None, np.ones(2)], 2) == 2  # the best could not forecast the series
    assert select(scores, [np.ones(2), np.ones(2), np.ones(2)], 3) == 0  # too few windows: the combination
    assert select(np.empty((0,)), [np.ones(2)], 2) == 0
