import numpy as np
import pandas as pd

from benchmarks.forecast_competition import read_competition
from benchmarks.forecast_interval_scores import coverage_by_scale, history_scale, summary
from quantlib.forecast.combination import CombinationForecaster
from quantlib.forecast.metrics import smape


def _competition_file(tmp_path, n_series=30, length=28, horizon=4, offset=100.0):
    rng = np.random.default_rng(0)
    rows = []
    for s in range(n_series):
        y = offset + np.cumsum(rng.normal(0.3, 1, length))
        for t, v in enumerate(y, start=1):
            rows.append({"series_id": f"Y{s}", "frequency": "yearly", "category": "x", "horizon": horizon, "t": t,
                         "y": v, "split": "test" if t > length - horizon else "train"})
    path = tmp_path / "val.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_the_combination_scale_with_one_window_is_the_product_calibration(tmp_path):
    path = _competition_file(tmp_path)
    out = pd.DataFrame(coverage_by_scale(str(path), windows=2, n_jobs=1))
    assert set(out.scale) == {"comb", "naive_mae", "seasonal_mae", "relative", "log", "comb_debiased"}
    assert sorted(set(out.windows)) == [1, 2]
    # the product's own fit and conformal intervals on the same file
    train, _ = read_competition(path)
    raw = pd.read_csv(path)
    pred = CombinationForecaster(h=4, n_jobs=1).fit(train[["series_id", "ds", "y"]], season_length=1).predict(
        4, level=(80,)).rename(columns={"ds": "t"})
    merged = raw.loc[raw.split == "test"].merge(pred, on=["series_id", "t"])
    product = ((merged.y >= merged.yhat_lo_80) & (merged.y <= merged.yhat_hi_80)).mean()
    ours = out.loc[(out.scale == "comb") & (out.windows == 1), "coverage_80"].item()
    assert ours == round(float(product), 3)
    # every variant but the debiased one keeps the product's point forecast
    product_smape = np.mean([smape(g.y, g.yhat) for _, g in merged.groupby("series_id")])
    kept = out.loc[out.scale != "comb_debiased", "smape"]
    assert (kept == round(float(product_smape), 3)).all()
    # the walks drift upwards, so the debiased point forecast moves and its error changes
    assert (out.loc[out.scale == "comb_debiased", "smape"] != kept.iloc[0]).all()
    assert out.coverage_80.between(0, 1).all() and (out.above <= 1 - out.coverage_80 + 1e-9).all()
    table = summary(out)
    assert {"mean_distance", "outside"} <= set(table.columns) and len(table) == 12
    assert table["mean_smape"].notna().all()


def test_log_scale_leaves_non_positive_series_without_an_interval_and_does_not_fail(tmp_path):
    path = _competition_file(tmp_path, offset=-50.0)
    out = pd.DataFrame(coverage_by_scale(str(path), windows=1, n_jobs=1))
    log = out.loc[out.scale == "log"]
    assert len(log) == 1 and log.coverage_80.item() < 0.2  # points only: nothing is covered by chance


def test_history_scale_uses_the_season_only_when_the_history_holds_one():
    y = np.array([1.0, 5.0, 1.0, 5.0, 2.0, 6.0])
    assert history_scale(y, 2, "seasonal_mae") == np.mean([0.0, 0.0, 1.0, 1.0])
    assert history_scale(y, 1, "seasonal_mae") == history_scale(y, 1, "naive_mae") == np.mean([4, 4, 4, 3, 4])
    assert np.isnan(history_scale(y[:1], 1, "naive_mae"))
