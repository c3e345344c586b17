"""Maps: revenue by zip code (a choropleth on the user's shapes) and by H3 hexagon.

Every map carries its geometry inline (GeoJSON features in the spec), so it renders offline:
no tile server, no topojson URL. Shapes are drawn with d3-geo, which reads a polygon's
exterior ring as clockwise; GeoJSON written to RFC 7946 (and H3's boundaries) go the other way,
which d3 would fill as "the whole globe except this polygon". :func:`rewind_for_d3` fixes the
orientation of every ring first.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import altair as alt
import h3
import numpy as np
import pandas as pd

from quantlib.data.gold import open_gold
from quantlib.viz._style import MONEY, SEQUENTIAL, UNFAVOURABLE, date_window, require_columns

__all__ = ["choropleth", "customer_revenue_points", "geographic_performance", "hex_cells", "hex_features", "hex_map",
           "read_competitors", "read_zip_shapes", "rewind_for_d3", "zip_revenue"]

_NO_DATA = "#eeeeee"
#: The value ramp of maps starts at a visible blue, so the smallest value is told apart from "no data".
_RAMP = ["#d3e0ec", SEQUENTIAL[2], SEQUENTIAL[3]]


# ---------------------------------------------------------------------------- data helpers
def customer_revenue_points(con_or_lake, as_of=None, days: int = 365) -> pd.DataFrame:
    """Customers with completed revenue in the last ``days`` days, at their coordinates.

    Parameters
    ----------
    con_or_lake : connection, report context, Lake or path
        Gold (anything :func:`~quantlib.data.gold.open_gold` takes).
    as_of : date-like, optional
        The window's last day; default gold's as-of date.
    days : int
        The window's length in days (``as_of`` included).

    Returns
    -------
    DataFrame
        ``customer_id, zip, region, lat, lon, jobs, revenue`` (completed jobs and their revenue
        in the window), for customers with coordinates and at least one completed job there.
    """
    with open_gold(con_or_lake) as con:
        start, end = date_window(con, as_of, days)
        frame = con.execute(
            """SELECT c.customer_id, c.zip, c.region, c.lat, c.lon,
                      count(*) AS jobs, sum(j.revenue) AS revenue
               FROM job_facts j JOIN customers c USING (customer_id)
               WHERE j.is_completed AND j.completed_date BETWEEN $start AND $end
                 AND c.lat IS NOT NULL AND c.lon IS NOT NULL
               GROUP BY ALL
               ORDER BY revenue DESC, c.customer_id""", {"start": start, "end": end}).df()
    frame.attrs.update(start=start, end=end)
    return frame


def zip_revenue(con_or_lake, as_of=None, days: int = 365) -> pd.DataFrame:
    """Completed revenue of the last ``days`` days by the customer's zip code: ``zip, customers, jobs, revenue``."""
    with open_gold(con_or_lake) as con:
        start, end = date_window(con, as_of, days)
        frame = con.execute(
            """SELECT c.zip, count(DISTINCT c.customer_id) AS customers, count(*) AS jobs,
                      sum(j.revenue) AS revenue
               FROM job_facts j JOIN customers c USING (customer_id)
               WHERE j.is_completed AND j.completed_date BETWEEN $start AND $end AND c.zip IS NOT NULL
               GROUP BY c.zip
               ORDER BY revenue DESC, c.zip""", {"start": start, "end": end}).df()
    frame.attrs.update(start=start, end=end)
    return frame


# ---------------------------------------------------------------------------- geometry
def _signed_area(ring) -> float:
    """Shoelace area in (lon, lat): negative for a clockwise ring."""
    xy = np.asarray(ring, dtype=float)[:, :2]
    x, y = xy[:, 0], xy[:, 1]
    return 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))


def _rewind_polygon(rings: list) -> list:
    out = []
    for i, ring in enumerate(rings):
        # Exterior ring clockwise, holes anticlockwise: d3-geo's convention.
        clockwise = _signed_area(ring) < 0
        out.append(list(ring) if clockwise == (i == 0) else list(ring)[::-1])
    return out


def rewind_for_d3(geojson: dict) -> dict:
    """A copy of a GeoJSON FeatureCollection, Feature or geometry with d3-geo's ring orientation.

    d3-geo (and so Vega-Lite's ``geoshape``) takes a clockwise exterior ring as the inside of a
    small polygon; RFC 7946 GeoJSON is anticlockwise. Polygons and MultiPolygons are rewound
    (exterior clockwise, holes anticlockwise, in longitude/latitude); other geometries are
    copied as they are.
    """
    def fix(geometry: dict | None) -> dict | None:
        if geometry is None:
            return None
        kind = geometry.get("type")
        if kind == "Polygon":
            return {**geometry, "coordinates": _rewind_polygon(geometry["coordinates"])}
        if kind == "MultiPolygon":
            return {**geometry, "coordinates": [_rewind_polygon(p) for p in geometry["coordinates"]]}
        if kind == "GeometryCollection":
            return {**geometry, "geometries": [fix(g) for g in geometry["geometries"]]}
        return geometry

    out = copy.deepcopy(geojson)
    kind = out.get("type")
    if kind == "FeatureCollection":
        out["features"] = [{**f, "geometry": fix(f.get("geometry"))} for f in out["features"]]
    elif kind == "Feature":
        out["geometry"] = fix(out.get("geometry"))
    else:
        out = fix(out)
    return out


def _features(geojson: dict) -> list[dict]:
    if geojson.get("type") == "FeatureCollection":
        return geojson["features"]
    if geojson.get("type") == "Feature":
        return [geojson]
    raise ValueError(f"geojson must be a FeatureCollection or a Feature, got type {geojson.get('type')!r}")


def _key_text(keys: pd.Series) -> pd.Series:
    """Area keys as text; whole-number floats (a key column read with gaps) without their ``.0``."""
    if pd.api.types.is_float_dtype(keys) and (keys % 1 == 0).all():
        keys = keys.astype("int64")
    return keys.astype(str)


def _projection(projection: str | dict) -> alt.Projection:
    return alt.Projection(**projection) if isinstance(projection, dict) else alt.Projection(type=projection)


# ---------------------------------------------------------------------------- choropleth
def choropleth(values: pd.DataFrame, geojson: dict, key: str = "zip", feature_key: str = "properties.ZCTA5CE10",
               value: str = "revenue", overlay: pd.DataFrame | None = None, *, title: str = "Revenue by zip code",
               key_title: str = "Zip code", value_title: str = "Revenue", value_format: str = MONEY,
               projection: str | dict = "mercator", width: int = 560, height: int = 420) -> alt.LayerChart:
    """Zip (or any area) shapes coloured by a value, with optional competitor circles on top.

    Parameters
    ----------
    values : DataFrame
        One row per area: ``key`` and ``value`` (e.g. :func:`zip_revenue`).
    geojson : dict
        The areas' shapes as a GeoJSON FeatureCollection, e.g. the census ZCTA file of the
        service area. Rings are rewound for d3 (:func:`rewind_for_d3`); the input is not changed.
    key : str
        Column of ``values`` matching the features' ``feature_key``, compared as text (zip codes
        read as numbers have lost their leading zeros: pad them, e.g. ``str.zfill(5)``).
    feature_key : str
        Path of a feature's key, e.g. ``"properties.ZCTA5CE10"`` (2010 ZCTAs) or
        ``"properties.ZCTA5CE20"``.
    value : str
        Column of ``values`` that colours the areas; areas without a row are drawn grey.
    overlay : DataFrame, optional
        Points drawn as circles sized by competitor density: ``lat, lon, competitors`` (and a
        ``name`` shown in the tooltip when present).
    title, key_title, value_title, value_format : str
        Chart title, the key's and the value's names in legend and tooltip, the value's d3 format.
    projection : str or dict
        A Vega-Lite projection type (``"mercator"``, ``"albersUsa"``, ``"equirectangular"``) or
        a full projection definition; fitted to the shapes.
    width, height : int
        Plot size in pixels.

    Returns
    -------
    alt.LayerChart
        A grey base of every shape, the shapes with a value coloured through a ``lookup`` into
        ``values`` (inline data, tooltips with key and value) and the optional overlay.
    """
    require_columns(values, [key, value], "values")
    features = _features(rewind_for_d3(geojson))
    records = values[[key, value]].dropna(subset=[key]).assign(**{key: lambda d: _key_text(d[key])})
    lookup_values = alt.Data(values=records.to_dict(orient="records"))
    shapes = alt.Data(values=features)
    base = alt.Chart(shapes).mark_geoshape(fill=_NO_DATA, stroke="white", strokeWidth=0.5).encode(
        tooltip=[alt.Tooltip(f"{feature_key}:N", title=key_title)])
    filled = alt.Chart(shapes).mark_geoshape(stroke="white", strokeWidth=0.5).transform_lookup(
        # Vega indexes the lookup by the keys' text, so "02134", 2134 and "2134" are told apart but 7 and "7" match.
        lookup=feature_key, from_=alt.LookupData(data=lookup_values, key=key, fields=[value]),
    ).transform_filter(f"isValid(datum['{value}'])").encode(
        color=alt.Color(f"{value}:Q", title=value_title, scale=alt.Scale(range=_RAMP),
                        legend=alt.Legend(format=value_format, gradientLength=220)),
        tooltip=[alt.Tooltip(f"{feature_key}:N", title=key_title),
                 alt.Tooltip(f"{value}:Q", title=value_title, format=value_format)],
    )
    layers = [base, filled]
    if overlay is not None:
        require_columns(overlay, ["lat", "lon", "competitors"], "overlay")
        tooltip = [alt.Tooltip("competitors:Q", title="Competitors", format=",.0f")]
        if "name" in overlay.columns:
            tooltip.insert(0, alt.Tooltip("name:N", title="Competitor"))
        layers.append(alt.Chart(overlay).mark_circle(color=UNFAVOURABLE, opacity=0.55, stroke="white",
                                                     strokeWidth=0.8).encode(
            longitude="lon:Q", latitude="lat:Q",
            size=alt.Size("competitors:Q", title="Competitors", scale=alt.Scale(range=[30, 900]),
                          legend=alt.Legend(symbolType="circle", symbolFillColor=UNFAVOURABLE, format=",.0f",
                                            tickMinStep=1)),
            tooltip=tooltip))
    return alt.layer(*layers, title=title).project(**_projection(projection).to_dict()).properties(
        width=width, height=height)


# ---------------------------------------------------------------------------- hexagons
def hex_cells(points: pd.DataFrame, lat: str = "lat", lon: str = "lon", value: str = "revenue",
              resolution: int = 6) -> pd.DataFrame:
    """Points summed into H3 cells.

    Parameters
    ----------
    points : DataFrame
        One row per point with ``lat``, ``lon`` (degrees) and ``value``; rows without
        coordinates are left out.
    resolution : int
        H3 resolution, 0 (continents) .. 15; 6 is about 36 km² a cell, 7 about 5 km².

    Returns
    -------
    DataFrame
        ``cell`` (H3 index), ``value`` (the sum, under the ``value`` column's name), ``points``
        (how many), ``lat, lon`` (the cell's centre); largest value first.
    """
    require_columns(points, [lat, lon, value], "points")
    if not 0 <= resolution <= 15:
        raise ValueError(f"resolution must be in 0..15, got {resolution}")
    located = points.dropna(subset=[lat, lon])
    cells = [h3.latlng_to_cell(a, b, resolution) for a, b in zip(located[lat].astype(float),
                                                                  located[lon].astype(float))]
    summed = (located.assign(cell=cells).groupby("cell", as_index=False)
              .agg(**{value: (value, "sum"), "points": (value, "size")}))
    centres = [h3.cell_to_latlng(c) for c in summed["cell"]]
    summed["lat"] = [c[0] for c in centres]
    summed["lon"] = [c[1] for c in centres]
    return summed.sort_values([value, "cell"], ascending=[False, True], ignore_index=True)


def hex_features(cells: pd.DataFrame, value: str = "revenue") -> list[dict]:
    """GeoJSON features of :func:`hex_cells`' cells (d3 orientation), the cell's numbers in ``properties``."""
    require_columns(cells, ["cell", value, "points"], "cells")
    features = []
    for row in cells.itertuples(index=False):
        cell = row.cell
        ring = [[lng, lat] for lat, lng in h3.cell_to_boundary(cell)]
        ring.append(ring[0])
        geometry = {"type": "Polygon", "coordinates": [ring]}
        features.append({"type": "Feature", "geometry": rewind_for_d3(geometry),
                         "properties": {"cell": cell, value: float(getattr(row, value)),
                                        "points": int(row.points)}})
    return features


def hex_map(points: pd.DataFrame, lat: str = "lat", lon: str = "lon", value: str = "revenue", resolution: int = 6,
            *, title: str = "Revenue by area", value_title: str = "Revenue", value_format: str = MONEY,
            projection: str | dict = "mercator", width: int = 560, height: int = 420) -> alt.Chart:
    """Points aggregated to H3 hexagons, each coloured by the sum of ``value`` in it.

    Parameters
    ----------
    points : DataFrame
        One row per point (e.g. :func:`customer_revenue_points`) with ``lat``, ``lon`` and ``value``.
    lat, lon, value : str
        Column names.
    resolution : int
        H3 resolution (:func:`hex_cells`).
    title, value_title, value_format : str
        Chart title, the value's name in legend and tooltip and its d3 format.
    projection : str or dict
        A Vega-Lite projection type or definition, fitted to the cells.
    width, height : int
        Plot size in pixels.

    Returns
    -------
    alt.Chart
        ``geoshape`` marks over inline GeoJSON hexagons with tooltips (value, points, cell).
    """
    cells = hex_cells(points, lat, lon, value, resolution)
    features = hex_features(cells, value)
    return alt.Chart(alt.Data(values=features), title=title).mark_geoshape(stroke="white", strokeWidth=0.5).encode(
        color=alt.Color(f"properties.{value}:Q", title=value_title, scale=alt.Scale(range=_RAMP),
                        legend=alt.Legend(format=value_format, gradientLength=220)),
        tooltip=[alt.Tooltip(f"properties.{value}:Q", title=value_title, format=value_format),
                 alt.Tooltip("properties.points:Q", title="Points", format=",.0f"),
                 alt.Tooltip("properties.cell:N", title="H3 cell")],
    ).project(**_projection(projection).to_dict()).properties(width=width, height=height)


# ---------------------------------------------------------------------------- the report's map
def read_zip_shapes(path) -> dict:
    """A GeoJSON FeatureCollection of zip areas (e.g. the census ZCTA file of the service area).

    Raises
    ------
    ValueError
        The file is missing, is not JSON or is not a FeatureCollection; the message names the file.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{path}: no such GeoJSON file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as problem:
        raise ValueError(f"{path}: not GeoJSON ({problem})") from None
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection" or not data.get("features"):
        raise ValueError(f"{path}: expected a GeoJSON FeatureCollection with features")
    return data


def read_competitors(path) -> pd.DataFrame:
    """Competitor locations for the zip map's overlay: a CSV of ``lat, lon, competitors`` (``name`` optional).

    Raises
    ------
    ValueError
        A missing file or column, or a row whose coordinates or count are not numbers (or out of
        range); the message names the file, the row (as in a spreadsheet: the header is row 1)
        and the field.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such competitors file")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in ("lat", "lon", "competitors") if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)} (expected lat, lon, competitors[, name])")
    limits = {"lat": (-90, 90), "lon": (-180, 180), "competitors": (0, float("inf"))}
    out = pd.DataFrame(index=frame.index)
    for field, (low, high) in limits.items():
        values = pd.to_numeric(frame[field].str.strip(), errors="coerce")
        bad = values.isna() | (values < low) | (values > high)
        if bad.any():
            row = int(bad.idxmax())
            raise ValueError(f"{path}: row {row + 2}, field {field}: {frame.at[row, field]!r} is not a number "
                             f"between {low:g} and {high:g}")
        out[field] = values
    if "name" in frame.columns:
        out["name"] = frame["name"]
    return out


def geographic_performance(con_or_lake, as_of=None, days: int = 365, zip_shapes=None,
                           feature_key: str = "properties.ZCTA5CE10", competitors=None,
                           width: int = 560, height: int = 420):
    """Where revenue came from in the last ``days`` days: by zip code when the user gives zip shapes
    (with competitor circles when given), else by H3 hexagon from the customers' coordinates.

    Parameters
    ----------
    con_or_lake : connection, report context, Lake or path
    as_of : date-like, optional
    days : int
    zip_shapes : path, optional
        GeoJSON of the zip areas (:func:`read_zip_shapes`), keyed by ``feature_key``.
    competitors : path, optional
        CSV of competitor locations (:func:`read_competitors`); only drawn on the zip map.

    Returns
    -------
    alt.Chart or alt.LayerChart
    """
    if zip_shapes is None:
        points = customer_revenue_points(con_or_lake, as_of, days)
        return hex_map(points, title=f"Revenue by area, last {days} days", width=width, height=height)
    shapes = read_zip_shapes(zip_shapes)
    overlay = read_competitors(competitors) if competitors is not None else None
    values = zip_revenue(con_or_lake, as_of, days)
    return choropleth(values, shapes, feature_key=feature_key, overlay=overlay,
                      title=f"Revenue by zip code, last {days} days", width=width, height=height)

