"""``quant kpi`` prints the KPI table of a gold database."""

from __future__ import annotations

from typer.testing import CliRunner

import quantlib.cli.kpi  # noqa: F401  (registers the command)
from quantlib.cli.app import app


def test_kpi_command(gold):
    result = CliRunner().invoke(app, ["kpi", "--as-of", "2024-06-30", "--lake", str(gold.parent)])
    assert result.exit_code == 0, result.output
    assert "KPIs as of 2024-06-30" in result.output
    assert "86.4" in result.output          # dso
    assert "above target, alert" in result.output      # dso 86.4 days against 45: lower is better
    assert "on target" in result.output                # revenue within 15 % of its target


def test_kpi_command_filters_and_reasons(gold):
    result = CliRunner().invoke(app, ["kpi", "--lake", str(gold.parent), "--service-line", "plumbing"])
    assert result.exit_code == 0, result.output
    assert "no monthly_revenue_plumbing target" in result.output


def test_kpi_command_without_gold(tmp_path):
    result = CliRunner().invoke(app, ["kpi", "--lake", str(tmp_path)])
    assert result.exit_code != 0
    assert "warehouse build" in result.output
