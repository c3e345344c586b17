import numpy as np
import pandas as pd

from benchmarks.forecast_calibration import coverage_by_windows


def test_coverage_is_scored_for_each_window_count(tmp_path):
    rng = np.random.default_rng(0)
    rows = []
    for s in range(30):
        y = 100 + np.cumsum(rng.normal(0, 1, 28))
        for t, v in enumerate(y, start=1):
            rows.append({"series_id": f"Y{s}", "frequency": "yearly", "category": "x", "horizon": 4, "t": t,
                         "y": v, "split": "test" if t > 24 else "train"})
    path = tmp_path / "val.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    out = pd.DataFrame(coverage_by_windows(str(path), windows=3, step=1, n_jobs=1))
    assert list(out.windows) == [1, 2, 3]
    assert list(out.scores) == [30, 60, 90]
    assert out.coverage_80.between(0, 1).all()
