"""External data providers against local servers answering in the documented shapes (Open-Meteo's
archive, OpenWeatherMap's day summary, FRED's observations): rows land in silver through the
ordinary ingest, bad rows in the rejects, answers are cached, keys never leave the request."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import urllib.parse
from http.server import BaseHTTPRequestHandler

import pandas as pd
import pytest
from typer.testing import CliRunner

from quantlib.connectors.external import (
    PROVIDERS,
    ExternalDataError,
    FredIndicators,
    OpenMeteoWeather,
    OpenWeatherMapWeather,
    Site,
    refresh,
)
from quantlib.data.lake import Lake
from tests.schedule.servers import LocalHttpServer, reply_json

FRED_KEY = "fred-key-s3cret"
OWM_KEY = "owm-key-s3cret"
DAYS = ["2024-06-01", "2024-06-02", "2024-06-03"]


class ProviderServer(LocalHttpServer):
    """Open-Meteo, OpenWeatherMap and FRED on one port, each checking its documented parameters."""

    def __init__(self, hot_day: bool = False):
        self.requests: list[tuple[str, dict]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                path, _, query = self.path.partition("?")
                params = dict(urllib.parse.parse_qsl(query))
                outer.requests.append((path, params))
                if path == "/v1/archive":
                    assert {"latitude", "longitude", "start_date", "end_date", "daily", "timezone"} <= set(params)
                    temps = [21.5, 99.0 if hot_day else 23.0, 19.0]  # 99 C: outside the contract's range
                    reply_json(self, 200, {"latitude": float(params["latitude"]), "daily_units": {},
                                           "daily": {"time": DAYS, "temperature_2m_mean": temps,
                                                     "precipitation_sum": [0.0, 41.2, 3.0],
                                                     "wind_gusts_10m_max": [20.1, 35.0, 80.5]}})
                elif path == "/data/3.0/onecall/day_summary":
                    if params.get("appid") != OWM_KEY:
                        reply_json(self, 401, {"cod": 401, "message": "Invalid API key."})
                        return
                    reply_json(self, 200, {"lat": float(params["lat"]), "lon": float(params["lon"]),
                                           "date": params["date"], "units": "metric",
                                           "temperature": {"min": 10.0, "max": 20.0, "afternoon": 19.0},
                                           "precipitation": {"total": 2.5},
                                           "wind": {"max": {"speed": 22.0, "direction": 120}}})
                elif path == "/fred/series/observations":
                    if params.get("api_key") != FRED_KEY or params.get("file_type") != "json":
                        reply_json(self, 400, {"error_code": 400, "error_message": "Bad Request."})
                        return
                    values = {"UNRATE": ["4.0", "4.1"], "HOUST": ["1300", "."], "UMCSENT": ["68.2", "70.1"]}
                    reply_json(self, 200, {"observation_start": params["observation_start"], "units": "lin",
                                           "observations": [
                                               {"realtime_start": "2024-08-01", "realtime_end": "2024-08-01",
                                                "date": month, "value": value}
                                               for month, value in zip(("2024-05-01", "2024-06-01"),
                                                                       values[params["series_id"]])]})
                else:
                    reply_json(self, 404, {"error": "not found"})

            def log_message(self, *args):
                pass

        self._listen(Handler)

    def env(self, tmp_path) -> dict[str, str]:
        return {"QUANT_OPEN_METEO_BASE_URL": self.url, "QUANT_OPENWEATHERMAP_BASE_URL": self.url,
                "QUANT_FRED_BASE_URL": self.url, "FRED_API_KEY": FRED_KEY, "OPENWEATHERMAP_API_KEY": OWM_KEY,
                "QUANT_EXTERNAL_CACHE": str(tmp_path / "cache")}


SITES = [Site("decatur", 39.84, -88.95), Site("springfield", 39.78, -89.65)]
START, END = dt.date(2024, 6, 1), dt.date(2024, 6, 3)


def test_open_meteo_rows_and_storm_days(tmp_path):
    with ProviderServer() as server:
        rows = OpenMeteoWeather().fetch(START, END, server.env(tmp_path), SITES)
    assert len(rows) == 6 and set(rows["region"]) == {"decatur", "springfield"}
    first = rows[rows["region"] == "decatur"].reset_index(drop=True)
    assert first["temp_c"].tolist() == [21.5, 23.0, 19.0]
    # Day 2: 41.2 mm of rain; day 3: an 80.5 km/h gust; day 1 neither.
    assert first["storm"].tolist() == [False, True, True]
    path, params = server.requests[0]
    assert (params["start_date"], params["end_date"]) == ("2024-06-01", "2024-06-03")
    assert params["daily"] == "temperature_2m_mean,precipitation_sum,wind_gusts_10m_max"


def test_openweathermap_and_fred_need_their_keys(tmp_path):
    with ProviderServer() as server:
        env = server.env(tmp_path)
        weather = OpenWeatherMapWeather().fetch(START, END, env, SITES[:1])
        indicators = FredIndicators().fetch(START, END, env)
        with pytest.raises(ExternalDataError, match="HTTP 401") as refused:
            OpenWeatherMapWeather().fetch(dt.date(2024, 7, 1), dt.date(2024, 7, 1),
                                          {**env, "OPENWEATHERMAP_API_KEY": "wrong"}, SITES[:1])
    assert weather["temp_c"].tolist() == [15.0] * 3 and weather["precip_mm"].tolist() == [2.5] * 3
    assert weather["storm"].tolist() == [True] * 3  # 22 m/s = 79 km/h
    assert indicators.to_dict("records") == [
        {"month": "2024-05-01", "unemployment_rate": "4.0", "housing_starts": "1300", "consumer_confidence": "68.2"},
        {"month": "2024-06-01", "unemployment_rate": "4.1", "housing_starts": None, "consumer_confidence": "70.1"}]
    assert "wrong" not in str(refused.value)
    assert OpenWeatherMapWeather().missing({}) == "openweathermap skipped: OPENWEATHERMAP_API_KEY is not set"
    assert FredIndicators().missing({}) == "fred skipped: FRED_API_KEY is not set"
    # The keys are in the requests (that is how the APIs take them) and nowhere in the cache.
    cached = "".join(p.name + p.read_text() for p in (tmp_path / "cache").iterdir())
    assert FRED_KEY not in cached and OWM_KEY not in cached


def test_refresh_ingests_rejects_and_caches(demo_lake, tmp_path):
    lake = Lake(tmp_path / "lake")
    shutil.copytree(demo_lake.root, lake.root)
    with ProviderServer(hot_day=True) as server:
        env = server.env(tmp_path)
        results = refresh(lake.root, ["open-meteo", "fred", "openweathermap"], START, END,
                          env={**env, "OPENWEATHERMAP_API_KEY": ""})
    assert results["openweathermap"] == "openweathermap skipped: OPENWEATHERMAP_API_KEY is not set"
    def decatur(folder):
        weather = pd.read_parquet(Lake(folder).silver_table("weather")).set_index(["region", "date"])["temp_c"]
        return [weather[("decatur", pd.Timestamp(day))] for day in DAYS]

    # Days 1 and 3 replaced the synthetic rows; day 2's 99 C is rejected with its reason and the
    # synthetic day stays.
    assert decatur(lake.root) == [21.5, decatur(demo_lake.root)[1], 19.0]
    rejects = pd.read_parquet(lake.rejects)
    hot = rejects[(rejects["table"] == "weather") & (rejects["field"] == "temp_c")]
    assert len(hot) == 2 and hot["file"].str.startswith("weather_open-meteo_20240601_20240603").all()
    manifest = pd.read_parquet(lake.manifest)
    assert manifest["file"].str.startswith("economic_indicators_fred_").any()
    indicators = pd.read_parquet(lake.silver_table("economic_indicators")).set_index("month")
    assert indicators.loc[pd.Timestamp("2024-05-01"), "unemployment_rate"] == 4.0
    fred = results["fred"]
    assert fred.rows_read == 2 and fred.rows_rejected == 1  # June's housing starts are "." in FRED
    # A final range comes from the cache: the same refresh with the server gone still works, and the
    # same rows make the same file, which the lake knows already.
    again = refresh(lake.root, ["open-meteo"], START, END, env=env)["open-meteo"]
    assert again.ok and "already ingested" in again.files[0].notes[0]
    assert FRED_KEY not in json.dumps([str(v) for v in results.values()])


def test_the_command(demo_lake, tmp_path, monkeypatch):
    from quantlib.cli import app

    lake = tmp_path / "lake"
    shutil.copytree(demo_lake.root, lake)
    with ProviderServer() as server:
        for name, value in server.env(tmp_path).items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("FRED_API_KEY")
        done = CliRunner().invoke(app, ["external", "refresh", "--lake", str(lake), "--from", "2024-06-01",
                                        "--to", "2024-06-03"])
    assert done.exit_code == 0, done.output
    assert "fred skipped: FRED_API_KEY is not set" in done.output
    assert "open-meteo: 2024-06-01 .. 2024-06-03" in done.output
    bad = CliRunner().invoke(app, ["external", "refresh", "--lake", str(lake), "--providers", "nope"])
    assert bad.exit_code == 2 and "unknown provider" in bad.output
    assert set(PROVIDERS) == {"open-meteo", "openweathermap", "fred"}
