"""Google's Distance Matrix API (traffic-aware travel times) against a local server answering in its
documented shape: ``status``, ``rows[].elements[]`` with ``status``, ``duration``,
``duration_in_traffic`` (seconds) and ``distance`` (metres), and its limits (25 origins, 25
destinations, 100 elements a request)."""

from __future__ import annotations

import pickle
import threading
from datetime import date, datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest

from quantlib.errors import QuantError
from quantlib.ops.travel import GoogleDistanceMatrixProvider, GoogleMapsError, build_matrix
from tests.schedule.servers import reply_json

KEY = "AIzaTestKey-0123456789abcdef"
DAY = date(2030, 6, 3)  # a Monday in the future: Google refuses departure times in the past
RUSH_HOURS_UTC = {11, 12, 13, 20, 21}  # the fake server's slow hours


def metres(a: str, b: str) -> float:
    (lat1, lon1), (lat2, lon2) = (map(float, p.split(",")) for p in (a, b))
    return abs(lat1 - lat2) * 111_000 + abs(lon1 - lon2) * 85_000


def free_flow_seconds(a: str, b: str) -> float:
    return metres(a, b) / 13.4  # 30 mph


def traffic_factor(departure: str, model: str) -> float:
    hour = (datetime.now(timezone.utc) if departure == "now"
            else datetime.fromtimestamp(int(departure), timezone.utc)).hour
    return (1.5 if hour in RUSH_HOURS_UTC else 1.1) * (1.2 if model == "pessimistic" else 1.0)


class GoogleMatrixServer:
    """A local Distance Matrix API: answers from the requested coordinates and records every request.

    A point at latitude 0 cannot be geocoded (NOT_FOUND); one at latitude 89 has no road to or from it
    (ZERO_RESULTS).
    """

    def __init__(self):
        self.requests: list[dict[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server API
                url = urlsplit(self.path)
                params = {k: v[0] for k, v in parse_qs(url.query).items()}
                server.requests.append(params)
                if url.path != "/maps/api/distancematrix/json":
                    reply_json(self, 404, {"status": "NOT_FOUND"})
                    return
                reply_json(self, 200, server.answer(params))

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @staticmethod
    def answer(params: dict[str, str]) -> dict:
        if params.get("key") != KEY:
            return {"status": "REQUEST_DENIED", "rows": [],
                    "error_message": f"The provided API key is invalid: {params.get('key')}"}
        origins, destinations = params["origins"].split("|"), params["destinations"].split("|")
        if len(origins) > 25 or len(destinations) > 25:
            return {"status": "MAX_DIMENSIONS_EXCEEDED", "rows": []}
        if len(origins) * len(destinations) > 100:
            return {"status": "MAX_ELEMENTS_EXCEEDED", "rows": []}
        rows = []
        for a in origins:
            elements = []
            for b in destinations:
                lats = {float(p.split(",")[0]) for p in (a, b)}
                if 0.0 in lats:
                    elements.append({"status": "NOT_FOUND"})
                elif 89.0 in lats:
                    elements.append({"status": "ZERO_RESULTS"})
                else:
                    seconds = free_flow_seconds(a, b)
                    element = {"status": "OK", "distance": {"value": round(metres(a, b)), "text": "x km"},
                               "duration": {"value": round(seconds), "text": "x mins"}}
                    if "departure_time" in params:
                        element["duration_in_traffic"] = {
                            "value": round(seconds * traffic_factor(params["departure_time"],
                                                                    params.get("traffic_model", ""))),
                            "text": "x mins"}
                    elements.append(element)
            rows.append({"elements": elements})
        return {"status": "OK", "origin_addresses": origins, "destination_addresses": destinations, "rows": rows}


@pytest.fixture
def google(monkeypatch):
    """The local server on a free port of 127.0.0.1, stopped after the test; the key in the environment."""
    monkeypatch.setenv("GOOGLE_MAPS_API_KEY", KEY)
    server = GoogleMatrixServer()
    thread = threading.Thread(target=server.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
        thread.join(5)


def _points(n: int) -> tuple[list[float], list[float]]:
    return [40.0 + 0.01 * i for i in range(n)], [-75.0 - 0.013 * (i % 7) for i in range(n)]


def test_a_day_of_30_points_is_batched_within_the_limits_and_read_in_traffic(google):
    lats, lons = _points(30)
    provider = GoogleDistanceMatrixProvider(base_url=google.url, day=DAY, timezone="America/New_York",
                                            traffic_model="pessimistic")
    keys = [f"p{i}" for i in range(30)]
    tm = build_matrix(keys, lats, lons, provider, departure_minute=480)
    assert tm.provider == "GoogleDistanceMatrixProvider"

    # Batching: every request within 25 origins, 25 destinations, 100 elements; every pair asked for once.
    asked = []
    for params in google.requests:
        origins, destinations = params["origins"].split("|"), params["destinations"].split("|")
        assert len(origins) <= 25 and len(destinations) <= 25 and len(origins) * len(destinations) <= 100
        asked += [(a, b) for a in origins for b in destinations]
    assert len(google.requests) == 10 and len(asked) == 900 and len(set(asked)) == 900
    # Parameters: driving, the traffic model, 08:00 in New York that day (12:00 UTC in June), the key.
    eight_am = int(datetime(2030, 6, 3, 12, 0, tzinfo=timezone.utc).timestamp())
    assert {(p["mode"], p["traffic_model"], p["departure_time"], p["key"]) for p in google.requests} == {
        ("driving", "pessimistic", str(eight_am), KEY)}

    # Values: duration_in_traffic (rush hour, pessimistic: x 1.8), in minutes and miles; no trip to oneself.
    point = [f"{lat:.6f},{lon:.6f}" for lat, lon in zip(lats, lons)]
    assert tm.time("p3", "p17") == pytest.approx(round(free_flow_seconds(point[3], point[17]) * 1.8) / 60)
    assert tm.distance("p17", "p3") == pytest.approx(round(metres(point[17], point[3])) / 1609.344)
    assert np.all(np.diag(tm.minutes) == 0) and np.all(tm.minutes[~np.eye(30, dtype=bool)] > 0)


def test_the_working_day_averages_its_departures_and_a_past_one_is_now(google):
    provider = GoogleDistanceMatrixProvider(base_url=google.url, day=DAY, samples=2)  # UTC
    minutes, _ = provider.matrices([40.0, 40.1], [-75.0, -75.0], 600, 840)  # 10:00-14:00
    departures = sorted(int(p["departure_time"]) for p in google.requests)
    assert departures == [int(datetime(2030, 6, 3, h, tzinfo=timezone.utc).timestamp()) for h in (10, 12)]
    seconds = free_flow_seconds("40.000000,-75.000000", "40.100000,-75.000000")
    # 10:00 flows (x 1.1), 12:00 is a rush hour (x 1.5): the day's matrix is their mean.
    assert minutes[0, 1] == pytest.approx((round(seconds * 1.1) + round(seconds * 1.5)) / 2 / 60)
    google.requests.clear()
    provider.model_copy(update={"samples": 3}).matrices([40.0, 40.1], [-75.0, -75.0], 600, 840)
    assert sorted(int(p["departure_time"]) for p in google.requests) == [
        int(datetime(2030, 6, 3, h, m, tzinfo=timezone.utc).timestamp()) for h, m in ((10, 0), (11, 20), (12, 40))]
    # Google refuses departures in the past: a day gone by is asked for as "now".
    google.requests.clear()
    GoogleDistanceMatrixProvider(base_url=google.url, day=date(2020, 1, 6)).matrices([40.0, 40.1], [-75.0, -75.0])
    assert [p["departure_time"] for p in google.requests] == ["now"]


def test_pairs_without_a_route_are_named_with_their_status(google):
    provider = GoogleDistanceMatrixProvider(base_url=google.url, day=DAY)
    with pytest.raises(GoogleMapsError) as caught:
        provider.matrices([40.0, 0.0, 40.1, 89.0], [-75.0, 0.0, -75.0, -75.0])
    error = caught.value
    assert isinstance(error, QuantError) and isinstance(error, RuntimeError)
    assert {(i, j) for i, j, _ in error.pairs} == {(i, j) for i in range(4) for j in range(4)
                                                  if i != j and ({i, j} & {1, 3})}
    assert dict(((i, j), s) for i, j, s in error.pairs)[(0, 1)] == "NOT_FOUND"
    assert dict(((i, j), s) for i, j, s in error.pairs)[(2, 3)] == "ZERO_RESULTS"
    message = str(error)
    assert message.startswith("Google found no driving route for 10 pair(s): point 0 (40.000000,-75.000000) to "
                              "point 1 (0.000000,0.000000): NOT_FOUND (a point could not be geocoded)")
    assert "ZERO_RESULTS (no route between them)" in message and "and 5 more" in message


def test_refusals_are_clear_and_never_show_the_key(google, monkeypatch):
    provider = GoogleDistanceMatrixProvider(base_url=google.url, day=DAY)
    monkeypatch.setenv("GOOGLE_MAPS_API_KEY", "AIzaWrongKey-fedcba9876543210")
    with pytest.raises(GoogleMapsError, match="answered REQUEST_DENIED: The provided API key is invalid") as caught:
        provider.matrices([40.0, 40.1], [-75.0, -75.0])
    assert "AIzaWrongKey" not in str(caught.value)
    with pytest.raises(GoogleMapsError, match="HTTP 404"):
        GoogleDistanceMatrixProvider(base_url=google.url + "/elsewhere").matrices([40.0, 40.1], [-75.0, -75.0])
    with pytest.raises(GoogleMapsError, match="not reachable") as caught:
        GoogleDistanceMatrixProvider(base_url="http://127.0.0.1:9", timeout_seconds=2).matrices([40, 40.1], [-75, -75])
    assert "AIzaWrongKey" not in str(caught.value)
    with pytest.raises(GoogleMapsError, match="must be http"):
        GoogleDistanceMatrixProvider(base_url="file:///etc").matrices([40.0, 40.1], [-75.0, -75.0])
    monkeypatch.delenv("GOOGLE_MAPS_API_KEY")
    with pytest.raises(GoogleMapsError, match="GOOGLE_MAPS_API_KEY is not set"):
        provider.matrices([40.0, 40.1], [-75.0, -75.0])
    # The key is read when asked for, never kept: nothing of it in the provider's repr or pickle.
    monkeypatch.setenv("GOOGLE_MAPS_API_KEY", KEY)
    provider.matrices([40.0, 40.1], [-75.0, -75.0])
    assert KEY not in repr(provider) and KEY.encode() not in pickle.dumps(provider)
    with pytest.raises(ValueError, match="unknown time zone"):
        GoogleDistanceMatrixProvider(timezone="Mars/Olympus")


def test_solve_with_the_google_matrix(google):
    from quantlib.ops.problem import Job, RoutingProblem, Technician
    from quantlib.ops.routing import SolverSettings, solve

    problem = RoutingProblem(technicians=(Technician(id="T", lat=40.0, lon=-75.0, break_minutes=0),),
                             jobs=(Job(id="A", lat=40.01, lon=-75.0, duration=30),), day=DAY)
    provider = GoogleDistanceMatrixProvider(base_url=google.url, day=problem.day, timezone="America/Chicago")
    plan = solve(problem, SolverSettings(time_limit_seconds=1), provider=provider)
    assert plan.validate() == [] and plan.assignment() == {"A": "T"}
    assert plan.travel.provider == "GoogleDistanceMatrixProvider" and len(google.requests) == 1
