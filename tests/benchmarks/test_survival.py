import json

import numpy as np
import pandas as pd
import pytest

from benchmarks.survival import main


def _file(tmp_path, frame):
    path = tmp_path / "lives.csv"
    frame.to_csv(path, index=False)
    return path


def test_contract_without_covariates(tmp_path):
    rng = np.random.default_rng(0)
    life = 200 * rng.weibull(1.4, 2000)
    censor = rng.uniform(0, 500, 2000)
    path = _file(tmp_path, pd.DataFrame({"hours": np.minimum(life, censor), "failed": (life <= censor).astype(int)}))
    out = tmp_path / "out.json"
    main(["--data", str(path), "--time", "hours", "--event", "failed", "--out", str(out)])
    result = json.loads(out.read_text())
    assert set(result) == {"shape", "scale", "median_life", "b10_life"}
    assert result["shape"] == pytest.approx(1.4, rel=0.15) and result["scale"] == pytest.approx(200, rel=0.1)
    assert result["b10_life"] < result["median_life"]
    # without --event every row is a failure: the censored rows now count as early failures
    main(["--data", str(path), "--time", "hours", "--out", str(out)])
    assert json.loads(out.read_text())["median_life"] < result["median_life"]


def test_contract_with_covariates_and_at(tmp_path):
    rng = np.random.default_rng(1)
    temp = rng.uniform(20, 80, 600)
    life = np.exp(7 - 0.02 * temp) * rng.weibull(2.0, 600)
    path = _file(tmp_path, pd.DataFrame({"t": life, "temp": temp}))
    out = tmp_path / "out.json"
    main(["--data", str(path), "--time", "t", "--covariates", "temp", "--at", "temp=50", "--out", str(out)])
    result = json.loads(out.read_text())
    assert {"shape", "scale", "median_life", "b10_life", "coefficients"} <= set(result)
    assert result["coefficients"]["temp"] == pytest.approx(-0.02, abs=0.004)
    coef = result["coefficients"]
    assert result["scale"] == pytest.approx(np.exp(coef["Intercept"] + 50 * coef["temp"]))
    main(["--data", str(path), "--time", "t", "--covariates", "temp", "--out", str(out)])
    assert json.loads(out.read_text())["at"] == {"temp": pytest.approx(temp.mean())}


def test_bad_input_is_a_clear_error(tmp_path):
    path = _file(tmp_path, pd.DataFrame({"t": [5.0, 0.0], "x": [1, 2]}))
    with pytest.raises(SystemExit, match=r"lives.csv: row 2, column 't'"):
        main(["--data", str(path), "--time", "t", "--out", str(tmp_path / "o.json")])
    with pytest.raises(SystemExit, match="missing"):
        main(["--data", str(path), "--time", "t", "--covariates", "x", "--at", "y=1",
              "--out", str(tmp_path / "o.json")])
