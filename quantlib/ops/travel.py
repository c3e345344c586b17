"""Travel times and distances between points: a small matrix-provider interface.

A provider turns a list of points (lat, lon) into two square matrices, driving minutes and
miles, for a given departure time. Two providers:

* :class:`GreatCircleProvider` (the default, no server needed): great-circle distance times a
  road factor, at an average speed scaled by a time-of-day :class:`SpeedProfile`, plus a
  fixed parking / walking time per trip. Its defaults (road factor 1.35, 28 mph, 5 minutes a
  trip) are the ones the sample-company generator used for ``jobs.travel_minutes``.
* :class:`OsrmProvider`: the table service of an OSRM server (``/table/v1/{profile}/...``)
  for users who run one; durations and distances come from the road network.

The routing solver evaluates the matrix once, at the mean speed of the working day (first
departure to the latest shift + overtime end); travel times that change *during* the day
(rush hours slower than midday) are averaged, not modelled leg by leg.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Protocol, Sequence, runtime_checkable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from quantlib.errors import QuantError

EARTH_RADIUS_MILES = 3958.7613
METERS_PER_MILE = 1609.344


@dataclass(frozen=True)
class TravelMatrix:
    """Driving minutes and miles between every pair of ``keys`` (row = from, column = to)."""

    keys: tuple[str, ...]
    minutes: np.ndarray
    miles: np.ndarray
    departure_minute: int = 480
    provider: str = ""
    _pos: dict = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        n = len(self.keys)
        for name in ("minutes", "miles"):
            arr = np.asarray(getattr(self, name), dtype=float)
            if arr.shape != (n, n):
                raise ValueError(f"TravelMatrix.{name} has shape {arr.shape}, expected {(n, n)}")
            if not np.isfinite(arr).all() or (arr < 0).any():
                raise ValueError(f"TravelMatrix.{name} holds negative or non-finite values")
            object.__setattr__(self, name, arr)
        if len(set(self.keys)) != n:
            raise ValueError("TravelMatrix.keys are not unique")
        object.__setattr__(self, "_pos", {k: i for i, k in enumerate(self.keys)})

    def index(self, key: str) -> int:
        """Row / column of ``key``."""
        return self._pos[key]

    def time(self, a: str, b: str) -> float:
        """Driving minutes from ``a`` to ``b``."""
        return float(self.minutes[self._pos[a], self._pos[b]])

    def distance(self, a: str, b: str) -> float:
        """Driving miles from ``a`` to ``b``."""
        return float(self.miles[self._pos[a], self._pos[b]])


@runtime_checkable
class MatrixProvider(Protocol):
    """Anything that returns ``(minutes, miles)`` matrices for points at a departure minute."""

    def matrices(self, lats: Sequence[float], lons: Sequence[float], departure_minute: int = 480,
                 until_minute: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        ...


def haversine_miles(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance in miles (broadcasting over arrays)."""
    lat1, lon1, lat2, lon2 = (np.radians(np.asarray(x, dtype=float)) for x in (lat1, lon1, lat2, lon2))
    a = (np.sin((lat2 - lat1) / 2) ** 2
         + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2)
    return 2 * EARTH_RADIUS_MILES * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


class SpeedProfile(BaseModel):
    """Speed multiplier by hour of day (1.0 = the provider's average speed).

    ``factors`` maps an hour (0-23) to a multiplier; hours not listed use ``default``.
    The default profile slows traffic to 75 % in the morning (7-9 h) and evening (16-18 h) rush.
    """

    model_config = ConfigDict(frozen=True)

    factors: dict[int, float] = Field(default_factory=lambda: {7: 0.75, 8: 0.75, 16: 0.75, 17: 0.75})
    default: float = Field(1.0, gt=0)

    @field_validator("factors")
    @classmethod
    def _check(cls, v: dict[int, float]) -> dict[int, float]:
        for hour, factor in v.items():
            if not 0 <= int(hour) <= 23:
                raise ValueError(f"SpeedProfile.factors: hour {hour} is not in 0..23")
            if not factor > 0:
                raise ValueError(f"SpeedProfile.factors[{hour}] = {factor} must be > 0")
        return v

    def factor(self, minute: float) -> float:
        """Speed multiplier at ``minute`` past midnight."""
        return float(self.factors.get(int(minute // 60) % 24, self.default))

    def mean_factor(self, start: float, end: float) -> float:
        """Time-weighted mean multiplier over ``[start, end)`` minutes (the factor at ``start`` if empty)."""
        if end <= start:
            return self.factor(start)
        minutes = np.arange(int(start), int(np.ceil(end)))
        return float(np.mean([self.factor(m) for m in minutes]))


class GreatCircleProvider(BaseModel):
    """Great-circle miles x ``road_factor`` at ``speed_mph`` x the profile's factor, + ``trip_overhead_minutes``."""

    model_config = ConfigDict(frozen=True)

    road_factor: float = Field(1.35, ge=1.0)
    speed_mph: float = Field(28.0, gt=0)
    trip_overhead_minutes: float = Field(5.0, ge=0)
    profile: SpeedProfile = Field(default_factory=SpeedProfile)

    def matrices(self, lats, lons, departure_minute: int = 480,
                 until_minute: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Matrices at the speed of ``departure_minute``, or the mean speed up to ``until_minute``."""
        lats = np.asarray(lats, dtype=float)
        lons = np.asarray(lons, dtype=float)
        miles = haversine_miles(lats[:, None], lons[:, None], lats[None, :], lons[None, :]) * self.road_factor
        factor = (self.profile.factor(departure_minute) if until_minute is None
                  else self.profile.mean_factor(departure_minute, until_minute))
        speed = self.speed_mph * factor
        minutes = miles / speed * 60.0
        # Same place, no trip: no parking overhead either.
        minutes = np.where(miles > 1e-9, minutes + self.trip_overhead_minutes, 0.0)
        np.fill_diagonal(minutes, 0.0)
        np.fill_diagonal(miles, 0.0)
        return minutes, miles


class OsrmError(QuantError, RuntimeError):
    """The OSRM server answered with an error or an unusable table."""


class OsrmProvider(BaseModel):
    """Durations and distances from an OSRM server's table service.

    ``base_url`` is e.g. ``http://127.0.0.1:5000``; the request is
    ``GET {base_url}/table/v1/{profile}/{lon,lat;...}?annotations=duration,distance``.
    OSRM answers seconds and metres; they are converted to minutes and miles. The
    ``departure_minute`` / ``until_minute`` are ignored (OSRM's table has no time of day).
    """

    model_config = ConfigDict(frozen=True)

    base_url: str
    profile: str = "driving"
    timeout_seconds: float = Field(30.0, gt=0)

    def matrices(self, lats, lons, departure_minute: int = 480,
                 until_minute: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        lats = list(map(float, lats))
        lons = list(map(float, lons))
        coords = ";".join(f"{lon:.6f},{lat:.6f}" for lat, lon in zip(lats, lons))
        if urllib.parse.urlsplit(self.base_url).scheme not in {"http", "https"}:
            raise OsrmError(f"OSRM base_url must be http(s): {self.base_url}")
        url = (f"{self.base_url.rstrip('/')}/table/v1/{urllib.parse.quote(self.profile)}/{coords}"
               "?annotations=duration,distance")
        try:
            # The scheme was checked above: http(s) only.
            with urllib.request.urlopen(url, timeout=self.timeout_seconds) as response:  # nosec B310
                payload = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            try:
                payload = json.loads(exc.read().decode("utf-8"))
            except Exception:  # noqa: BLE001 - the body is not OSRM JSON
                raise OsrmError(f"OSRM table request failed: HTTP {exc.code}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise OsrmError(f"OSRM server at {self.base_url} not reachable: {exc}") from exc
        if payload.get("code") != "Ok":
            raise OsrmError(f"OSRM answered {payload.get('code')}: {payload.get('message', '')}")
        n = len(lats)
        out = []
        for name, scale in (("durations", 1 / 60.0), ("distances", 1 / METERS_PER_MILE)):
            if name not in payload:
                raise OsrmError(f"OSRM answer has no '{name}' (is annotations=duration,distance supported?)")
            table = payload[name]
            if len(table) != n or any(len(row) != n for row in table):
                raise OsrmError(f"OSRM '{name}' table is not {n} x {n}")
            for i, row in enumerate(table):
                for j, value in enumerate(row):
                    if value is None:
                        raise OsrmError(f"OSRM found no route from point {i} to point {j} ({name})")
            out.append(np.asarray(table, dtype=float) * scale)
        return out[0], out[1]


def build_matrix(keys: Sequence[str], lats: Sequence[float], lons: Sequence[float],
                 provider: MatrixProvider | None = None, departure_minute: int = 480,
                 until_minute: int | None = None) -> TravelMatrix:
    """Ask ``provider`` (default :class:`GreatCircleProvider`) for the matrix of the points.

    With ``until_minute`` a time-of-day provider uses the mean speed of ``[departure_minute,
    until_minute)`` (the working day), else the speed at ``departure_minute``.
    """
    provider = provider if provider is not None else GreatCircleProvider()
    if not (len(keys) == len(lats) == len(lons)):
        raise ValueError("build_matrix: keys, lats and lons differ in length")
    for k, lat, lon in zip(keys, lats, lons):
        if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
            raise ValueError(f"build_matrix: point {k!r} has an invalid location ({lat}, {lon})")
    minutes, miles = provider.matrices(lats, lons, departure_minute, until_minute)
    return TravelMatrix(tuple(keys), minutes, miles, departure_minute, type(provider).__name__)
