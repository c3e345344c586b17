"""The read API on a lake on object storage (the session's S3-compatible server, moto's server
mode): gold is read through its ETag-keyed local copy, the answers are the local lake's, and a
build uploaded later is picked up as a new data version."""

from __future__ import annotations

import shutil

import duckdb
from fastapi.testclient import TestClient

from quantlib.api import ApiSettings, create_app
from quantlib.api.sources import GoldSource
from quantlib.data.lake import Lake
from quantlib.data.storage import ObjectPath


def _rounded(value):
    """``value`` with floats to 9 significant digits: DuckDB's parallel sums may differ in the last bits."""
    if isinstance(value, float):
        return float(f"{value:.9g}")
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def _answers(client: TestClient) -> dict:
    marts = client.get("/marts")
    assert marts.status_code == 200, marts.text
    first = marts.json()[0]["name"]
    found = {"/marts": marts.json()}
    for path in ("/kpis", f"/marts/{first}?limit=20", "/kpis/revenue_vs_target"):
        response = client.get(path)
        assert response.status_code == 200, (path, response.text)
        found[path] = response.json()
    return _rounded(found)


def test_the_api_on_an_s3_lake_answers_as_on_the_local_lake(demo_lake, s3_bucket, tmp_path):
    lake = Lake(f"{s3_bucket}/acme/lake")
    lake.gold.upload(demo_lake.gold)
    reports = tmp_path / "reports"
    with TestClient(create_app(ApiSettings(gold=demo_lake.gold, reports=reports), warm=False)) as client:
        local = _answers(client)
    settings = ApiSettings(gold=str(lake.gold), reports=reports)
    assert settings.gold == "s3://" + lake.gold.path  # kept a URL, not folded into a path
    source = GoldSource(settings.gold, refresh=0)
    with TestClient(create_app(settings, source, warm=False)) as client:
        assert _answers(client) == local
        before = client.get("/health").json()["data_version"]
        assert source.path.is_file() and not str(source.path).startswith("s3:")  # the local copy

        # A rebuild uploaded by another machine: the next request reads it.
        rebuilt = tmp_path / "gold.duckdb"
        shutil.copy(demo_lake.gold, rebuilt)
        with duckdb.connect(str(rebuilt)) as con:
            con.execute("CREATE TABLE rebuilt_marker AS SELECT 1 AS x")
        ObjectPath(str(lake.gold)).upload(rebuilt)
        after = client.get("/health").json()["data_version"]
        assert after != before
        with source.cursor()[0] as cursor:
            assert cursor.execute("SELECT x FROM rebuilt_marker").fetchone() == (1,)
    source.close()

    missing = GoldSource(f"{s3_bucket}/nothing/gold.duckdb")
    with TestClient(create_app(ApiSettings(gold=str(missing.remote), reports=reports), missing, warm=False)) as c:
        response = c.get("/kpis")
        assert response.status_code == 503 and "quant warehouse build" in response.text
