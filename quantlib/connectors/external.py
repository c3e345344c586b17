"""External data behind one provider interface: weather and economic indicators into the lake.

A provider fetches rows in a lake table's contract shape for a date range (:class:`Provider`);
:func:`refresh` writes them as a CSV export and runs the ordinary ingest, so the raw file is kept
in bronze, every row is validated against the contract, bad ones go to the rejects with their
reasons, and fetched rows replace the lake's rows of the same key (the generator's synthetic
tables stay the offline default until a refresh replaces them). Responses are cached under
``.cache/external/`` (``$QUANT_EXTERNAL_CACHE``): a range that ended more than a week ago is
final and read from the cache; a recent one is fetched again after a day.

=====================  ==========================================================================
``open-meteo``         daily weather from Open-Meteo's historical archive (keyless):
                       ``GET /v1/archive?latitude&longitude&start_date&end_date&daily=...``;
                       ``$QUANT_OPEN_METEO_BASE_URL`` (default ``https://archive-api.open-meteo.com``)
``openweathermap``     daily weather from OpenWeatherMap's One Call 3.0 day summary (a key:
                       ``$OPENWEATHERMAP_API_KEY``): ``GET /data/3.0/onecall/day_summary?lat&lon&date``;
                       ``$QUANT_OPENWEATHERMAP_BASE_URL`` (default ``https://api.openweathermap.org``)
``fred``               monthly unemployment rate (``UNRATE``), housing starts (``HOUST``) and consumer
                       sentiment (``UMCSENT``) from FRED (``$FRED_API_KEY``):
                       ``GET /fred/series/observations?series_id&api_key&file_type=json&...``;
                       ``$QUANT_FRED_BASE_URL`` (default ``https://api.stlouisfed.org``)
=====================  ==========================================================================

Weather is fetched per region, at the mean coordinates of the region's customers in gold. A
day is a storm day when its strongest gust reaches :data:`STORM_GUST_KMH` or its rain
:data:`STORM_PRECIP_MM` (a severe-weather day for roofing demand). API keys travel in request
URLs only: they never reach a cache key, an error message or the lake (the cache file names
are hashes of the URL without the key).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pandas as pd

from quantlib.errors import QuantError

__all__ = ["PROVIDERS", "STORM_GUST_KMH", "STORM_PRECIP_MM", "ExternalDataError", "FredIndicators",
           "OpenMeteoWeather", "OpenWeatherMapWeather", "Provider", "Site", "refresh", "region_sites"]

#: Gust (km/h) from which a day counts as a storm day: Beaufort 9, strong gale, where roofs get damaged.
STORM_GUST_KMH = 75.0
#: Rain (mm in a day) from which a day counts as a storm day: a heavy-rain day.
STORM_PRECIP_MM = 30.0
_FINAL_AFTER = dt.timedelta(days=7)
_FRESH_FOR = dt.timedelta(days=1)


class ExternalDataError(QuantError, RuntimeError):
    """A provider could not deliver (unreachable, refused, an answer not in the documented shape)."""


@dataclass(frozen=True)
class Site:
    """A place weather is fetched for: a region and its coordinates."""

    region: str
    lat: float
    lon: float


class Provider(Protocol):
    """What every external data provider does."""

    name: str
    table: str

    def missing(self, env: Mapping[str, str]) -> str | None:
        """Why it cannot fetch here (a missing key), or None."""

    def fetch(self, start: dt.date, end: dt.date, env: Mapping[str, str], sites: list[Site]) -> pd.DataFrame:
        """Rows of :attr:`table` for ``start`` .. ``end`` (both included)."""


def _cache_dir(env: Mapping[str, str]) -> Path:
    from quantlib.config import project_root

    return Path(env.get("QUANT_EXTERNAL_CACHE") or project_root() / ".cache" / "external")


def _get_json(url: str, public_url: str, env: Mapping[str, str], final: bool, what: str):
    """GET ``url`` as JSON, through the response cache (keyed by ``public_url``: the URL without its key)."""
    cache = _cache_dir(env) / f"{hashlib.sha256(public_url.encode()).hexdigest()[:32]}.json"
    if cache.is_file() and (final or time.time() - cache.stat().st_mtime < _FRESH_FOR.total_seconds()):
        return json.loads(cache.read_text(encoding="utf-8"))
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ExternalDataError(f"{what}: the base URL must be http(s)")
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers={"Accept": "application/json"}),  # nosec B310
                                    timeout=30) as answer:
            payload = json.loads(answer.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        raise ExternalDataError(f"{what} refused the request: HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise ExternalDataError(f"{what} unreachable: {type(exc).__name__}") from None
    except ValueError:
        raise ExternalDataError(f"{what} answered something that is not JSON") from None
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(payload), encoding="utf-8")
    return payload


def _storm(gust_kmh, precip_mm) -> bool:
    gust = float(gust_kmh) if gust_kmh is not None else 0.0
    rain = float(precip_mm) if precip_mm is not None else 0.0
    return gust >= STORM_GUST_KMH or rain >= STORM_PRECIP_MM


def _is_final(end: dt.date) -> bool:
    return end < dt.date.today() - _FINAL_AFTER


class OpenMeteoWeather:
    """Daily weather per region from Open-Meteo's archive (no key)."""

    name = "open-meteo"
    table = "weather"

    def missing(self, env):
        return None

    def fetch(self, start, end, env, sites):
        base = (env.get("QUANT_OPEN_METEO_BASE_URL") or "https://archive-api.open-meteo.com").rstrip("/")
        rows = []
        for site in sites:
            query = urllib.parse.urlencode({
                "latitude": f"{site.lat:.4f}", "longitude": f"{site.lon:.4f}", "start_date": start.isoformat(),
                "end_date": end.isoformat(), "daily": "temperature_2m_mean,precipitation_sum,wind_gusts_10m_max",
                "timezone": "UTC"})
            url = f"{base}/v1/archive?{query}"
            daily = _get_json(url, url, env, _is_final(end), "Open-Meteo").get("daily")
            if not isinstance(daily, dict) or "time" not in daily:
                raise ExternalDataError("Open-Meteo: the answer has no 'daily' block with 'time'")
            for i, day in enumerate(daily["time"]):
                def value(key):
                    values = daily.get(key) or []
                    return values[i] if i < len(values) else None
                rows.append({"date": day, "region": site.region, "temp_c": value("temperature_2m_mean"),
                             "precip_mm": value("precipitation_sum"),
                             "storm": _storm(value("wind_gusts_10m_max"), value("precipitation_sum"))})
        return pd.DataFrame(rows, columns=["date", "region", "temp_c", "precip_mm", "storm"])


class OpenWeatherMapWeather:
    """Daily weather per region from OpenWeatherMap's One Call 3.0 day summary (a key; one call a day)."""

    name = "openweathermap"
    table = "weather"

    def missing(self, env):
        if env.get("OPENWEATHERMAP_API_KEY"):
            return None
        return "openweathermap skipped: OPENWEATHERMAP_API_KEY is not set"

    def fetch(self, start, end, env, sites):
        base = (env.get("QUANT_OPENWEATHERMAP_BASE_URL") or "https://api.openweathermap.org").rstrip("/")
        rows = []
        for site in sites:
            for day in pd.date_range(start, end, freq="D").date:
                public = (f"{base}/data/3.0/onecall/day_summary?"
                          + urllib.parse.urlencode({"lat": f"{site.lat:.4f}", "lon": f"{site.lon:.4f}",
                                                    "date": day.isoformat(), "units": "metric"}))
                url = public + "&" + urllib.parse.urlencode({"appid": env["OPENWEATHERMAP_API_KEY"]})
                summary = _get_json(url, public, env, _is_final(day), "OpenWeatherMap")
                try:
                    temperature = summary["temperature"]
                    temp = (float(temperature["min"]) + float(temperature["max"])) / 2
                    rain = float(summary.get("precipitation", {}).get("total", 0.0))
                    # Wind in m/s with metric units; gusts are not in the summary: the day's strongest wind.
                    wind_kmh = float(summary.get("wind", {}).get("max", {}).get("speed", 0.0)) * 3.6
                except (KeyError, TypeError, ValueError):
                    raise ExternalDataError(f"OpenWeatherMap: the day summary of {day} is not in the documented "
                                            "shape (temperature.min/max)") from None
                rows.append({"date": day.isoformat(), "region": site.region, "temp_c": round(temp, 2),
                             "precip_mm": rain, "storm": _storm(wind_kmh, rain)})
        return pd.DataFrame(rows, columns=["date", "region", "temp_c", "precip_mm", "storm"])


class FredIndicators:
    """Monthly indicators from FRED: unemployment rate, housing starts, consumer sentiment."""

    name = "fred"
    table = "economic_indicators"
    SERIES = {"unemployment_rate": "UNRATE", "housing_starts": "HOUST", "consumer_confidence": "UMCSENT"}

    def missing(self, env):
        return None if env.get("FRED_API_KEY") else "fred skipped: FRED_API_KEY is not set"

    def fetch(self, start, end, env, sites=None):
        base = (env.get("QUANT_FRED_BASE_URL") or "https://api.stlouisfed.org").rstrip("/")
        first = start.replace(day=1)
        columns = {}
        for column, series in self.SERIES.items():
            params = {"series_id": series, "file_type": "json", "observation_start": first.isoformat(),
                      "observation_end": end.isoformat()}
            public = f"{base}/fred/series/observations?" + urllib.parse.urlencode(params)
            url = public + "&" + urllib.parse.urlencode({"api_key": env["FRED_API_KEY"]})
            answer = _get_json(url, public, env, _is_final(end), f"FRED {series}")
            observations = answer.get("observations") if isinstance(answer, dict) else None
            if not isinstance(observations, list):
                raise ExternalDataError(f"FRED {series}: the answer has no 'observations' list")
            # FRED writes a missing value as "."; such a month stays empty (and is rejected if required).
            columns[column] = {o["date"]: (None if o.get("value") in (None, ".") else o["value"])
                               for o in observations if "date" in o}
        months = sorted(set().union(*(set(v) for v in columns.values())))
        return pd.DataFrame([{"month": m, **{c: columns[c].get(m) for c in self.SERIES}} for m in months],
                            columns=["month", *self.SERIES])


PROVIDERS: dict[str, Provider] = {p.name: p for p in (OpenMeteoWeather(), OpenWeatherMapWeather(), FredIndicators())}


def region_sites(con) -> list[Site]:
    """Each region at the mean coordinates of its customers (gold)."""
    rows = con.execute("SELECT region, avg(lat), avg(lon) FROM customers WHERE lat IS NOT NULL AND lon IS NOT NULL "
                       "GROUP BY region ORDER BY region").fetchall()
    return [Site(region, float(lat), float(lon)) for region, lat, lon in rows]


def refresh(lake, providers: list[str], start: dt.date, end: dt.date, env: Mapping[str, str] | None = None,
            sites: list[Site] | None = None) -> dict[str, object]:
    """Fetch ``providers`` for ``start`` .. ``end`` and ingest their rows into ``lake``.

    Returns
    -------
    dict
        Per provider: the :class:`~quantlib.data.ingest.IngestReport` of its file, or the line
        saying why it was skipped (a missing key).

    Raises
    ------
    ExternalDataError
        A provider failed (nothing of that provider is ingested; earlier providers' rows are).
    KeyError
        An unknown provider.
    """
    import tempfile

    from quantlib.data.gold import open_gold
    from quantlib.data.ingest import ingest
    from quantlib.data.lake import Lake

    env = os.environ if env is None else env
    lake = Lake(lake)
    unknown = [p for p in providers if p not in PROVIDERS]
    if unknown:
        raise KeyError(f"unknown provider(s) {', '.join(unknown)}; known: {', '.join(PROVIDERS)}")
    if sites is None and any(PROVIDERS[p].table == "weather" for p in providers):
        with open_gold(lake.gold) as con:
            sites = region_sites(con)
    out: dict[str, object] = {}
    for name in providers:
        provider = PROVIDERS[name]
        reason = provider.missing(env)
        if reason:
            out[name] = reason
            continue
        rows = provider.fetch(start, end, env, sites or [])
        with tempfile.TemporaryDirectory(prefix="quant-external-") as folder:
            # The file name says where the rows came from; bronze keeps it with its content hash.
            path = Path(folder) / f"{provider.table}_{name}_{start:%Y%m%d}_{end:%Y%m%d}.csv"
            rows.to_csv(path, index=False)
            out[name] = ingest(folder, lake)
    return out
