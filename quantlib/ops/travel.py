"""Travel times and distances between points: a small matrix-provider interface.

A provider turns a list of points (lat, lon) into two square matrices, driving minutes and
miles, for a given departure time. Two providers:

* :class:`GreatCircleProvider` (the default, no server needed): great-circle distance times a
  road factor, at an average speed scaled by a time-of-day :class:`SpeedProfile`, plus a
  fixed parking / walking time per trip. Its defaults (road factor 1.35, 28 mph, 5 minutes a
  trip) are the ones the sample-company generator used for ``jobs.travel_minutes``.
* :class:`OsrmProvider`: the table service of an OSRM server (``/table/v1/{profile}/...``)
  for users who run one; durations and distances come from the road network.
* :class:`GoogleDistanceMatrixProvider`: Google's Distance Matrix API with traffic
  (``duration_in_traffic`` at a departure time of the planned day, under a traffic model),
  batched within the API's limits; the key comes from ``$GOOGLE_MAPS_API_KEY``.

A provider is chosen by passing it where a matrix is built: ``solve(problem, settings,
provider=...)``, ``reroute(..., provider=...)``, ``problem_matrix`` and :func:`build_matrix`
(default :class:`GreatCircleProvider`).

The routing solver evaluates the matrix once, at the mean speed of the working day (first
departure to the latest shift + overtime end); travel times that change *during* the day
(rush hours slower than midday) are averaged, not modelled leg by leg.
"""

from __future__ import annotations

import json
import math
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Literal, Protocol, Sequence, runtime_checkable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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


class GoogleMapsError(QuantError, RuntimeError):
    """Google's Distance Matrix API refused, failed, or found no route for some pairs of points.

    Attributes
    ----------
    pairs : tuple of (int, int, str)
        ``(origin point, destination point, element status)`` of every pair without a route
        (``NOT_FOUND``, ``ZERO_RESULTS``, ``MAX_ROUTE_LENGTH_EXCEEDED``); empty for a refused request.
    """

    def __init__(self, message: str, pairs: Sequence[tuple[int, int, str]] = ()):
        super().__init__(message)
        self.pairs = tuple(pairs)


#: The environment variable holding the Distance Matrix API key.
GOOGLE_MAPS_KEY_ENV = "GOOGLE_MAPS_API_KEY"

#: The API's limits per request: origins, destinations, and elements (origins x destinations).
GOOGLE_MAX_DIMENSION = 25
GOOGLE_MAX_ELEMENTS = 100

_ELEMENT_PROBLEMS = {
    "NOT_FOUND": "a point could not be geocoded",
    "ZERO_RESULTS": "no route between them",
    "MAX_ROUTE_LENGTH_EXCEEDED": "the route is too long to be processed",
}


def _batches(n: int) -> list[tuple[range, range]]:
    """(origins, destinations) blocks covering an ``n`` x ``n`` matrix within the API's limits.

    Destinations in the fewest balanced chunks of at most 25, origins in chunks as large as 100
    elements allow: 10 points are one request, 30 are 10 (6 origins x 15 destinations).
    """
    destination_size = math.ceil(n / math.ceil(n / GOOGLE_MAX_DIMENSION))
    origin_size = min(GOOGLE_MAX_DIMENSION, GOOGLE_MAX_ELEMENTS // destination_size)
    return [(range(o, min(o + origin_size, n)), range(d, min(d + destination_size, n)))
            for o in range(0, n, origin_size) for d in range(0, n, destination_size)]


class GoogleDistanceMatrixProvider(BaseModel):
    """Traffic-aware durations and distances from Google's Distance Matrix API.

    Each request is ``GET {base_url}/maps/api/distancematrix/json?origins=lat,lng|...
    &destinations=...&mode=driving&departure_time=...&traffic_model=...&key=...``; the answer's
    ``rows[i].elements[j]`` give ``duration_in_traffic`` (used when present, else ``duration``)
    in seconds and ``distance`` in metres, converted to minutes and miles. A matrix of more
    than 10 points takes several requests (at most 25 origins, 25 destinations and 100
    elements each); Google bills every element, so a 30-point day is 900 elements.

    ``departure_minute`` is minutes past midnight of ``day`` in ``timezone``; without ``day``
    the next such moment (today, or tomorrow once it has passed). Google refuses departure
    times in the past, so one that has passed is sent as ``now``. With ``until_minute`` (the
    working day) and ``samples`` > 1 the durations are averaged over that many departures
    spread evenly across ``[departure_minute, until_minute)``, like the great-circle
    provider's mean speed (each sample is billed).

    The key is read from ``$GOOGLE_MAPS_API_KEY`` when a matrix is asked for: it is not a field
    (so never in a ``repr``, a pickle or a cache) and is removed from every error message.

    Parameters
    ----------
    base_url : str
        The API's root (``https://maps.googleapis.com``); tests point it at a local server.
    day : date, optional
        The day the routes are for.
    timezone : str
        IANA name of the time zone of ``day`` and the minutes (e.g. ``America/Chicago``).
    traffic_model : {"best_guess", "pessimistic", "optimistic"}
        Google's assumption for the time in traffic.
    samples : int
        Departure times averaged when the working day is given.
    timeout_seconds : float
        Per request.
    """

    model_config = ConfigDict(frozen=True)

    base_url: str = "https://maps.googleapis.com"
    day: date | None = None
    timezone: str = "UTC"
    traffic_model: Literal["best_guess", "pessimistic", "optimistic"] = "best_guess"
    samples: int = Field(1, ge=1, le=12)
    timeout_seconds: float = Field(30.0, gt=0)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r} (an IANA name such as 'America/Chicago')") from None
        return v

    def departure_time(self, minute: float, now: datetime | None = None) -> str:
        """The ``departure_time`` parameter for ``minute`` past midnight: UTC epoch seconds, or ``now``."""
        zone = ZoneInfo(self.timezone)
        now = (now or datetime.now(zone)).astimezone(zone)
        when = datetime.combine(self.day or now.date(), time(), zone) + timedelta(minutes=float(minute))
        if self.day is None and when <= now:
            when += timedelta(days=1)
        return "now" if when <= now else str(int(when.timestamp()))

    def matrices(self, lats, lons, departure_minute: int = 480,
                 until_minute: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(minutes, miles)`` between every pair of points, in traffic at the departure (or the day's mean).

        Raises
        ------
        GoogleMapsError
            No key, the server unreachable or refusing (``REQUEST_DENIED``, ``OVER_QUERY_LIMIT``...),
            or pairs without a route (listed in ``pairs``); never with the key in the message.
        """
        key = os.environ.get(GOOGLE_MAPS_KEY_ENV, "")
        if not key:
            raise GoogleMapsError(f"{GOOGLE_MAPS_KEY_ENV} is not set: the Google Distance Matrix API needs a key")
        if urllib.parse.urlsplit(self.base_url).scheme not in {"http", "https"}:
            raise GoogleMapsError(f"Google Maps base_url must be http(s): {self.base_url}")
        points = [f"{float(lat):.6f},{float(lon):.6f}" for lat, lon in zip(lats, lons)]
        starts = [float(departure_minute)]
        if until_minute is not None and self.samples > 1 and until_minute > departure_minute:
            step = (until_minute - departure_minute) / self.samples
            starts = [departure_minute + k * step for k in range(self.samples)]
        minutes, miles = [], []
        for start in starts:
            m, d = self._matrix(points, self.departure_time(start), key)
            minutes.append(m)
            miles.append(d)
        return np.mean(minutes, axis=0), np.mean(miles, axis=0)

    def _matrix(self, points: list[str], departure: str, key: str) -> tuple[np.ndarray, np.ndarray]:
        n = len(points)
        seconds, metres = np.zeros((n, n)), np.zeros((n, n))
        missing: list[tuple[int, int, str]] = []
        for origins, destinations in _batches(n):
            rows = self._request([points[i] for i in origins], [points[j] for j in destinations], departure, key)
            if len(rows) != len(origins) or any(len(r.get("elements", ())) != len(destinations) for r in rows):
                raise GoogleMapsError(f"Google Distance Matrix answered a table that is not "
                                      f"{len(origins)} x {len(destinations)}")
            for i, row in zip(origins, rows):
                for j, element in zip(destinations, row["elements"]):
                    status = element.get("status")
                    if i == j:
                        continue  # the same point: no trip, whatever the snapped road says
                    if status != "OK":
                        missing.append((i, j, str(status)))
                        continue
                    timed = element.get("duration_in_traffic") or element.get("duration")
                    if timed is None or "distance" not in element:
                        raise GoogleMapsError(f"Google Distance Matrix element from point {i} to point {j} "
                                              "has no duration or distance")
                    seconds[i, j] = float(timed["value"])
                    metres[i, j] = float(element["distance"]["value"])
        if missing:
            shown = "; ".join(f"point {i} ({points[i]}) to point {j} ({points[j]}): {status}"
                              f" ({_ELEMENT_PROBLEMS.get(status, 'no usable route')})"
                              for i, j, status in missing[:5])
            more = f"; and {len(missing) - 5} more" if len(missing) > 5 else ""
            raise GoogleMapsError(f"Google found no driving route for {len(missing)} pair(s): {shown}{more}", missing)
        return seconds / 60.0, metres / METERS_PER_MILE

    def _request(self, origins: list[str], destinations: list[str], departure: str, key: str) -> list[dict]:
        query = urllib.parse.urlencode({"origins": "|".join(origins), "destinations": "|".join(destinations),
                                        "mode": "driving", "departure_time": departure,
                                        "traffic_model": self.traffic_model, "key": key})
        url = f"{self.base_url.rstrip('/')}/maps/api/distancematrix/json?{query}"

        def clean(text: object) -> str:
            return " ".join(str(text).replace(key, "***").split())

        try:
            # The scheme was checked: http(s) only.
            with urllib.request.urlopen(url, timeout=self.timeout_seconds) as response:  # nosec B310
                payload = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            raise GoogleMapsError(f"Google Distance Matrix request failed: HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise GoogleMapsError(f"Google Distance Matrix at {self.base_url} not reachable or not JSON: "
                                  f"{clean(exc)}") from None
        status = payload.get("status")
        if status != "OK":
            detail = f": {clean(payload['error_message'])}" if payload.get("error_message") else ""
            raise GoogleMapsError(f"Google Distance Matrix answered {status}{detail}")
        return payload.get("rows") or []


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
