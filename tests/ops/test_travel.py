"""Travel matrices: great circle x road factor at a speed profile; OSRM table API against a local server."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest

from quantlib.ops.travel import (
    GreatCircleProvider,
    OsrmError,
    OsrmProvider,
    SpeedProfile,
    build_matrix,
    haversine_miles,
)
from tests.schedule.servers import reply_json


def test_haversine_known_distance():
    # New York (40.7128, -74.0060) to Philadelphia (39.9526, -75.1652): about 80.6 miles.
    assert haversine_miles(40.7128, -74.0060, 39.9526, -75.1652) == pytest.approx(80.6, abs=0.5)


def test_great_circle_matrix_road_factor_speed_and_profile():
    provider = GreatCircleProvider(road_factor=1.35, speed_mph=30, trip_overhead_minutes=5,
                                   profile=SpeedProfile(factors={8: 0.5}))
    lats, lons = [40.0, 40.1, 40.0], [-75.0, -75.0, -75.1]
    minutes, miles = provider.matrices(lats, lons, departure_minute=600)
    straight = haversine_miles(40.0, -75.0, 40.1, -75.0)
    assert miles[0, 1] == pytest.approx(straight * 1.35)
    assert minutes[0, 1] == pytest.approx(straight * 1.35 / 30 * 60 + 5)
    assert np.allclose(np.diag(minutes), 0) and np.allclose(miles, miles.T)
    rush, _ = provider.matrices(lats, lons, departure_minute=8 * 60 + 10)
    assert rush[0, 1] - 5 == pytest.approx(2 * (minutes[0, 1] - 5))


def test_build_matrix_rejects_bad_points():
    with pytest.raises(ValueError, match="'b'"):
        build_matrix(["a", "b"], [40.0, 95.0], [-75.0, -75.0])


class _OsrmHandler(BaseHTTPRequestHandler):
    """Serves an OSRM-shaped table answer computed from the requested coordinates."""

    calls: list = []

    def do_GET(self):  # noqa: N802 - http.server API
        url = urlsplit(self.path)  # not urlparse: it cuts ";params" off the path
        type(self).calls.append(self.path)
        parts = url.path.split("/")  # ['', 'table', 'v1', 'driving', 'lon,lat;lon,lat']
        if parts[1:3] != ["table", "v1"]:
            self.send_response(404)
            self.end_headers()
            return
        coords = [tuple(map(float, c.split(","))) for c in parts[4].split(";")]
        if len(coords) > 3:
            body = {"code": "InvalidQuery", "message": "Too many table coordinates"}
            status = 400
        else:
            n = len(coords)
            ann = parse_qs(url.query)["annotations"][0].split(",")
            dist = [[abs(coords[i][0] - coords[j][0]) * 100000 + abs(coords[i][1] - coords[j][1]) * 100000
                     for j in range(n)] for i in range(n)]
            body = {"code": "Ok", "durations": [[d / 10 for d in row] for row in dist],
                    "distances": dist} if ann == ["duration", "distance"] else {"code": "Ok"}
            if n == 3 and coords[2] == (1.0, 1.0):
                body["durations"][0][2] = None
            status = 200
        reply_json(self, status, body)

    def log_message(self, *args):
        pass


@pytest.fixture()
def osrm_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OsrmHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_osrm_table_provider_converts_seconds_and_metres(osrm_server):
    provider = OsrmProvider(base_url=osrm_server)
    tm = build_matrix(["a", "b"], [40.0, 40.01], [-75.0, -75.02], provider)
    metres = 0.02 * 100000 + 0.01 * 100000
    assert tm.distance("a", "b") == pytest.approx(metres / 1609.344)
    assert tm.time("a", "b") == pytest.approx(metres / 10 / 60)
    assert tm.provider == "OsrmProvider"
    # lon,lat order, six decimals, both annotations asked for
    assert "/table/v1/driving/-75.000000,40.000000;-75.020000,40.010000?annotations=duration,distance" \
        in _OsrmHandler.calls[-1]


def test_osrm_errors_are_clear(osrm_server):
    provider = OsrmProvider(base_url=osrm_server)
    with pytest.raises(OsrmError, match="InvalidQuery"):
        provider.matrices([40, 40, 40, 40], [-75, -75.1, -75.2, -75.3])
    with pytest.raises(OsrmError, match="no route from point 0 to point 2"):
        provider.matrices([40, 40, 1.0], [-75, -75.1, 1.0])
    with pytest.raises(OsrmError, match="not reachable"):
        OsrmProvider(base_url="http://127.0.0.1:9", timeout_seconds=2).matrices([40, 40], [-75, -75.1])


def test_solve_with_osrm_matrix(osrm_server):
    from quantlib.ops.problem import Job, RoutingProblem, Technician
    from quantlib.ops.routing import SolverSettings, solve

    problem = RoutingProblem(technicians=(Technician(id="T", lat=40.0, lon=-75.0, break_minutes=0),),
                             jobs=(Job(id="A", lat=40.01, lon=-75.0, duration=30),))
    plan = solve(problem, SolverSettings(time_limit_seconds=1), provider=OsrmProvider(base_url=osrm_server))
    assert plan.validate() == [] and plan.assignment() == {"A": "T"}
    assert plan.travel.provider == "OsrmProvider"


def test_day_matrix_uses_the_mean_speed_of_the_working_day():
    profile = SpeedProfile(factors={8: 0.5})
    assert profile.mean_factor(480, 600) == pytest.approx(0.75)  # 08:00-10:00: half slow, half normal
    provider = GreatCircleProvider(trip_overhead_minutes=0, profile=profile)
    at_eight, _ = provider.matrices([40.0, 40.1], [-75.0, -75.0], 480)
    day, _ = provider.matrices([40.0, 40.1], [-75.0, -75.0], 480, 600)
    assert day[0, 1] == pytest.approx(at_eight[0, 1] * 0.5 / 0.75)
    tm = build_matrix(["a", "b"], [40.0, 40.1], [-75.0, -75.0], provider, 480, 600)
    assert tm.time("a", "b") == pytest.approx(day[0, 1])


def test_osrm_error_is_a_quant_error_and_a_runtime_error():
    from quantlib.errors import QuantError

    assert issubclass(OsrmError, QuantError) and issubclass(OsrmError, RuntimeError)


def test_osrm_refuses_a_non_http_base_url():
    from quantlib.ops.travel import OsrmError, OsrmProvider

    with pytest.raises(OsrmError, match="must be http"):
        OsrmProvider(base_url="file:///etc").matrices([1.0, 2.0], [3.0, 4.0])
