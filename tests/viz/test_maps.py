"""Maps: zip shapes coloured through a lookup, H3 hexagons summing the points, all data inline."""

from __future__ import annotations

import copy
import datetime as dt
import re

import h3
import numpy as np
import pandas as pd
import pytest

from quantlib.data.gold import gold_as_of
from quantlib.viz import choropleth, customer_revenue_points, geographic_performance, hex_map, zip_revenue
from quantlib.viz.maps import (
    _NO_DATA,
    _signed_area,
    hex_cells,
    hex_features,
    read_competitors,
    read_zip_shapes,
    rewind_for_d3,
)
from tests.viz.helpers import aria_labels, inline_datasets, marks, render_svg, spec_of, texts

WIDTH, HEIGHT = 300, 200


def _square(lon: float, lat: float, size: float = 0.1) -> list[list[float]]:
    # Anticlockwise, as RFC 7946 writes exterior rings (and as d3 would fill inside out).
    return [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]


@pytest.fixture
def zips():
    """Three made-up zip squares side by side; the third has no value."""
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"ZCTA5CE10": code}, "geometry": {"type": "Polygon",
                                                                           "coordinates": [_square(lon, 40.0)]}}
        for code, lon in [("00001", -75.0), ("00002", -74.9), ("00003", -74.8)]]}


def _coordinates(path: str) -> np.ndarray:
    d = re.search(r' d="([^"]*)"', path).group(1)
    return np.array([float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", d)]).reshape(-1, 2)


def test_rewind_makes_exterior_rings_clockwise_and_holes_anticlockwise(zips):
    original = copy.deepcopy(zips)
    hole = list(reversed(_square(-74.97, 40.03, 0.02)))  # clockwise: the wrong way for a hole
    polygon = {"type": "Polygon", "coordinates": [_square(-75.0, 40.0), hole]}
    fixed = rewind_for_d3(polygon)["coordinates"]
    assert _signed_area(fixed[0]) < 0 < _signed_area(fixed[1])
    multi = rewind_for_d3({"type": "MultiPolygon", "coordinates": [[_square(0, 0)], [_square(2, 2)]]})
    assert all(_signed_area(p[0]) < 0 for p in multi["coordinates"])
    collection = rewind_for_d3(zips)
    assert all(_signed_area(f["geometry"]["coordinates"][0]) < 0 for f in collection["features"])
    assert zips == original  # the caller's GeoJSON is left alone
    assert rewind_for_d3(rewind_for_d3(polygon)) == rewind_for_d3(polygon)


def test_choropleth_colours_zips_through_the_lookup(zips):
    values = pd.DataFrame({"zip": ["00001", "00002", "99999"], "revenue": [1_000.0, 5_000.0, 7_000.0]})
    chart = choropleth(values, zips, width=WIDTH, height=HEIGHT)
    svg = render_svg(chart)
    shapes = marks(svg, "geoshape")
    base, filled = shapes[:3], shapes[3:]
    assert all(f'fill="{_NO_DATA}"' in s for s in base)
    assert len(filled) == 2  # 00003 has no value and stays grey; 99999 has no shape
    labels = aria_labels(svg)
    assert any("Revenue: $1,000" in label and "Zip code: 00001" in label for label in labels)
    assert any("Revenue: $5,000" in label and "Zip code: 00002" in label for label in labels)
    light, dark = (re.search(r'fill="rgb\((\d+), (\d+), (\d+)\)"', s).groups() for s in filled)
    assert sum(map(int, dark)) < sum(map(int, light))  # more revenue, darker blue
    # The squares are drawn as squares inside the plot (a wrongly wound ring would fill the globe).
    for shape in shapes:
        xy = _coordinates(shape)
        assert (xy[:, 0] >= -0.5).all() and (xy[:, 0] <= WIDTH + 0.5).all()
        assert np.ptp(xy[:, 0]) < WIDTH / 2
    # Data inline: the features and the values travel in the spec.
    data = inline_datasets(spec_of(chart))
    assert any(rows and rows[0].get("type") == "Feature" for rows in data)
    assert any(rows and rows[0].get("zip") == "00001" for rows in data)


def test_numeric_zip_keys_match_text_feature_keys(zips):
    values = pd.DataFrame({"zip": [1.0, 2.0, np.nan], "revenue": [10.0, 20.0, 5.0]})  # read as numbers, with a gap
    zips["features"][0]["properties"]["ZCTA5CE10"] = "1"
    zips["features"][1]["properties"]["ZCTA5CE10"] = 2  # the shapes' keys as text or as numbers
    svg = render_svg(choropleth(values, zips))
    assert len(marks(svg, "geoshape")) == 3 + 2


def test_choropleth_overlay_circles_sized_by_competitors(zips):
    values = pd.DataFrame({"zip": ["00001"], "revenue": [100.0]})
    overlay = pd.DataFrame({"lat": [40.05, 40.05], "lon": [-74.95, -74.75], "competitors": [1, 6],
                            "name": ["Acme HVAC", "Best Plumbing"]})
    svg = render_svg(choropleth(values, zips, overlay=overlay))
    circles = [m for m in marks(svg, "circle") if "Competitor:" in m]
    assert len(circles) == 2
    radius = {name: float(re.search(r'd="M([\d.]+),0A', c).group(1))
              for c in circles for name in ["Acme HVAC", "Best Plumbing"] if name in c}
    assert radius["Best Plumbing"] > radius["Acme HVAC"]
    with pytest.raises(ValueError, match="competitors"):
        choropleth(values, zips, overlay=overlay.drop(columns="competitors"))


def test_hex_cells_sum_to_the_input():
    rng = np.random.default_rng(7)
    points = pd.DataFrame({"lat": 39.8 + rng.normal(0, 0.1, 400), "lon": -89.5 + rng.normal(0, 0.1, 400),
                           "revenue": rng.gamma(2, 300, 400)})
    points.loc[0, "lat"] = np.nan  # no coordinates: left out
    cells = hex_cells(points, resolution=7)
    located = points.dropna()
    assert cells["revenue"].sum() == pytest.approx(located["revenue"].sum())
    assert cells["points"].sum() == len(located)
    assert set(cells["cell"]) == {h3.latlng_to_cell(a, b, 7) for a, b in zip(located["lat"], located["lon"])}
    assert cells["revenue"].is_monotonic_decreasing
    features = hex_features(cells)
    assert all(_signed_area(f["geometry"]["coordinates"][0]) < 0 for f in features)
    rings = [f["geometry"]["coordinates"][0] for f in features]
    # Closed rings of six corners (odd resolutions add a vertex where a cell crosses an icosahedron edge).
    assert all(len(ring) >= 7 and ring[0] == ring[-1] for ring in rings)
    assert [f["properties"]["revenue"] for f in features] == pytest.approx(cells["revenue"].tolist())


def test_demo_customer_points_and_hex_map(gold):
    as_of = gold_as_of(gold)
    start = as_of - dt.timedelta(days=179)
    points = customer_revenue_points(gold, days=180)
    revenue = gold.execute("SELECT sum(revenue) FROM job_facts WHERE is_completed "
                           "AND completed_date BETWEEN ? AND ?", [start, as_of]).fetchone()[0]
    assert points["revenue"].sum() == pytest.approx(revenue)  # every demo customer has coordinates
    assert points["customer_id"].is_unique and (points["jobs"] > 0).all()
    by_zip = zip_revenue(gold, days=180)
    assert by_zip["revenue"].sum() == pytest.approx(revenue) and by_zip["zip"].is_unique

    chart = hex_map(points, resolution=6, title="Revenue, last 180 days")
    features = next(rows for rows in inline_datasets(spec_of(chart)) if rows and rows[0].get("type") == "Feature")
    assert sum(f["properties"]["revenue"] for f in features) == pytest.approx(revenue)
    svg = render_svg(chart)
    assert len(marks(svg, "geoshape")) == len(features)
    assert "Revenue, last 180 days" in svg


def test_choropleth_needs_features(zips):
    with pytest.raises(ValueError, match="FeatureCollection"):
        choropleth(pd.DataFrame({"zip": [], "revenue": []}), {"type": "Polygon", "coordinates": []})


def test_geographic_performance_draws_zips_with_competitors_from_files(gold, tmp_path):
    import json

    zip_codes = [z for z in gold.execute("SELECT DISTINCT zip FROM customers WHERE zip IS NOT NULL ORDER BY 1")
                 .df()["zip"]][:2]
    shapes = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"ZCTA5CE10": code},
         "geometry": {"type": "Polygon", "coordinates": [_square(-89.7 + 0.1 * i, 39.7)]}}
        for i, code in enumerate(zip_codes)]}
    (tmp_path / "zips.geojson").write_text(json.dumps(shapes))
    (tmp_path / "rivals.csv").write_text("name,lat,lon,competitors\nAcme,39.75,-89.65,3\nBest,39.75,-89.55,5\n")
    svg = render_svg(geographic_performance(gold, days=365, zip_shapes=tmp_path / "zips.geojson",
                                            competitors=tmp_path / "rivals.csv"))
    assert "Revenue by zip code, last 365 days" in texts(svg)
    labels = aria_labels(svg)
    assert any(f"Zip code: {zip_codes[0]}" in label for label in labels)
    assert any("Acme" in label for label in labels) and any("Best" in label for label in labels)
    hexes = render_svg(geographic_performance(gold, days=365))  # no shapes: hexagons from the customers
    assert "Revenue by area, last 365 days" in texts(hexes)


def test_map_inputs_name_the_file_row_and_field(tmp_path):
    with pytest.raises(ValueError, match="no such GeoJSON"):
        read_zip_shapes(tmp_path / "absent.geojson")
    (tmp_path / "bad.geojson").write_text('{"type": "Polygon"}')
    with pytest.raises(ValueError, match="bad.geojson: expected a GeoJSON FeatureCollection"):
        read_zip_shapes(tmp_path / "bad.geojson")
    (tmp_path / "rivals.csv").write_text("lat,lon\n39.7,-89.6\n")
    with pytest.raises(ValueError, match="missing column.*competitors"):
        read_competitors(tmp_path / "rivals.csv")
    (tmp_path / "rivals.csv").write_text("lat,lon,competitors\n39.7,-89.6,2\n39.8,west,1\n")
    with pytest.raises(ValueError, match=r"rivals.csv: row 3, field lon: 'west'"):
        read_competitors(tmp_path / "rivals.csv")
    (tmp_path / "rivals.csv").write_text("lat,lon,competitors\n95,-89.6,2\n")
    with pytest.raises(ValueError, match="row 2, field lat"):
        read_competitors(tmp_path / "rivals.csv")
