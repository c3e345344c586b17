"""``quant scorecard``: exit codes, the table and the JSON shape."""

from __future__ import annotations

import json

from typer.testing import CliRunner

import quantlib.cli  # noqa: F401  (registers every command)
from quantlib.cli.app import app
from quantlib.risk.scorecard import METRICS, SCORECARD_COLUMNS


def test_scorecard_json(demo_lake):
    result = CliRunner().invoke(app, ["scorecard", "--lake", str(demo_lake.root), "--baseline-year", "2023",
                                      "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["baseline"] == ["2023-01-01", "2023-12-31"]
    assert [row["metric"] for row in data["metrics"]] == list(METRICS)
    for row in data["metrics"]:
        assert list(row) == SCORECARD_COLUMNS
        assert row["met"] in (True, False, None)
    unavailable = {row["metric"]: row for row in data["metrics"] if row["current"] is None}
    assert "demand_forecast_accuracy" in unavailable and unavailable["demand_forecast_accuracy"]["note"]


def test_scorecard_table_and_as_of(demo_lake):
    result = CliRunner().invoke(app, ["scorecard", "--lake", str(demo_lake.root), "--baseline-year", "2022",
                                      "--as-of", "2023-12-31"])
    assert result.exit_code == 0, result.output
    assert "Success scorecard: 2022 against 2023-01-01 to 2023-12-31" in result.output
    assert "Revenue (completed jobs)" in result.output and "pts" in result.output


def test_scorecard_refuses_a_baseline_that_does_not_fit(demo_lake, tmp_path):
    result = CliRunner().invoke(app, ["scorecard", "--lake", str(demo_lake.root), "--baseline-year", "2024"])
    assert result.exit_code == 2 and "overlaps" in result.output
    result = CliRunner().invoke(app, ["scorecard", "--lake", str(tmp_path), "--baseline-year", "2023"])
    assert result.exit_code != 0 and "warehouse build" in result.output
    result = CliRunner().invoke(app, ["scorecard", "--lake", str(demo_lake.root)])
    assert result.exit_code == 2  # --baseline-year is required
