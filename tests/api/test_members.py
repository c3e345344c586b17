"""Members' tokens from parameters/teams.yaml: team scopes, saved charts shared by team, the shared token."""

from __future__ import annotations

import shutil

import httpx
import pytest
from typer.testing import CliRunner

from quantlib.api import ApiSettings, GoldSource, create_app
from quantlib.identity import hash_token, load_directory
from quantlib.viz.builder import ChartSpec, query
from quantlib.viz.saved import SavedChart, save_chart
from tests.api.helpers import serving

TOKENS = {"ana": "ana-token", "cy": "cy-token"}  # nosec B105 (the test's own tokens)
SHARED = "shared-token"  # nosec B105


@pytest.fixture(scope="module")
def api(demo_lake, tmp_path_factory):
    root = tmp_path_factory.mktemp("members")
    gold = root / "gold.duckdb"
    shutil.copy(demo_lake.gold, gold)
    teams = root / "teams.yaml"
    teams.write_text("teams:\n  operations: [ana, ben]\n  finance: [cy]\nmembers:\n"
                     + "".join(f"  {m}: {{token_sha256: {hash_token(t)}}}\n" for m, t in TOKENS.items())
                     + "scopes:\n  operations: [kpis, marts, charts]\n  finance: [kpis, charts]\n")
    directory = load_directory(teams)
    folder = root / "dashboards"
    spec = ChartSpec(title="Revenue by line", source="work_orders", chart="bar", x="service_line", y="revenue")
    save_chart(SavedChart(name="ops-revenue", owner="ana", team="operations", spec=spec), "ana", directory.teams,
               folder)
    source = GoldSource(gold)
    app = create_app(ApiSettings(gold=gold, token=SHARED, directory=directory, dashboards=folder, warm_days=0,
                                 reports=root / "reports"), source)
    with serving(app) as url:
        yield url, spec, gold
    source.close()


def get(url, path, token, **params):
    return httpx.get(url + path, params=params, headers={"Authorization": f"Bearer {token}"}, timeout=60)


def test_members_read_within_their_teams_scopes(api):
    url, _, _ = api
    assert get(url, "/kpis/dso", TOKENS["ana"]).status_code == 200
    assert get(url, "/marts", TOKENS["ana"]).status_code == 200
    denied = get(url, "/marts", TOKENS["cy"])
    assert denied.status_code == 403 and "cy may not read marts" in denied.json()["detail"]
    assert get(url, "/alerts", TOKENS["ana"]).status_code == 403  # not in operations' scopes
    assert get(url, "/alerts", SHARED).status_code == 200  # the shared token: one-person use, everything
    assert get(url, "/kpis", "nobody-token").status_code == 401


def test_a_chart_shared_with_a_team_is_hidden_from_another(api):
    url, spec, gold = api
    assert [c["name"] for c in get(url, "/charts", TOKENS["ana"]).json()] == ["ops-revenue"]
    assert get(url, "/charts", TOKENS["cy"]).json() == []
    hidden = get(url, "/charts/ops-revenue", TOKENS["cy"])
    assert hidden.status_code == 403 and "shared with operations" in hidden.json()["detail"]
    shown = get(url, "/charts/ops-revenue", TOKENS["ana"]).json()
    expected = query(gold, spec)
    assert ChartSpec.model_validate(shown["spec"]) == spec
    assert {r["x"]: r["value"] for r in shown["rows"]} == pytest.approx(dict(zip(expected["x"], expected["value"])))
    assert get(url, "/charts/missing", TOKENS["ana"]).status_code == 404


def test_quant_token_prints_a_token_and_only_its_hash_for_the_file():
    from quantlib.cli import app

    result = CliRunner().invoke(app, ["token", "dee"])
    assert result.exit_code == 0
    made = result.output.split("only its hash is stored): ")[1].split()[0]
    assert f"dee: {{token_sha256: {hash_token(made)}}}" in result.output


def test_team_app_lists_decide_which_apps_a_member_opens(tmp_path):
    from quantlib.apps.identity import _app_of

    teams = tmp_path / "teams.yaml"
    teams.write_text("teams:\n  ops: [ana]\n  field: [dee]\napps:\n  ops: [chart_builder, executive_dashboard.ipynb]\n")
    directory = load_directory(teams)
    assert directory.may_open("ana", "chart_builder") and directory.may_open("ana", "executive_dashboard")
    assert not directory.may_open("dee", "chart_builder")  # field lists no app
    assert load_directory(tmp_path / "none.yaml").may_open("anyone", "chart_builder")  # no file: every app
    teams.write_text("teams:\n  ops: [ana]\napps: [chart_builder]\n")
    with pytest.raises(ValueError, match="'apps' must map each team"):
        load_directory(teams)
    assert _app_of("/voila/render/chart_builder.ipynb") == "chart_builder"
    assert _app_of("/base/voila/render/apps/quote_pricer.ipynb") == "quote_pricer"
    assert _app_of("/voila/static/main.js") is None and _app_of("/api/kernels/abc/channels") is None
