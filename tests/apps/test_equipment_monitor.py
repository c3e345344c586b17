"""The equipment monitor's figures and widgets, without a browser, against ``equipment_health`` directly,
on the scale-1 mixed-trades company (19 units, about 50 failures); and its cache of the fitted fleet
(the next kernel loads it; a rebuilt warehouse, another as-of date or a tampered file are fitted again)."""

from __future__ import annotations

import hashlib
import html
import pickle
import re
import shutil

import duckdb
import numpy as np
import pandas as pd
import pytest

from quantlib.apps.equipment_monitor import ALL, EquipmentMonitor, fleet_cache_path, monitor_from_parameters
from quantlib.maintenance.health import (
    equipment_health,
    evidence_line,
    plan_work_orders,
    record_slots,
    work_orders,
)
from quantlib.maintenance.sensors import SIGNALS
from tests.conftest import build_lake


@pytest.fixture(scope="module", autouse=True)
def equipment_cache(tmp_path_factory):
    """The fits of this module are cached here, not in the checkout's ``.cache/``."""
    folder = tmp_path_factory.mktemp("equipment_cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("QUANT_EQUIPMENT_CACHE", str(folder))
        yield folder


@pytest.fixture(scope="module")
def fleet_lake(mixed_company, tmp_path_factory):
    return build_lake(mixed_company, tmp_path_factory.mktemp("fleet"))


@pytest.fixture(scope="module")
def fleet(fleet_lake):
    """The engine's figures, computed here, independently of the app."""
    return equipment_health(fleet_lake)


@pytest.fixture(scope="module")
def at_risk_day(mixed_company):
    """Five days before a failure of the last year (from the generator's truth): units below 0.3.

    A failure with a slow drift (bearing, refrigerant leak): control boards give little warning by design."""
    truth = mixed_company.truth_tables["equipment_failures"]
    truth = truth[truth["failure_mode"].isin(["bearing", "refrigerant_leak"])]
    dates = pd.to_datetime(truth["failure_date"])
    late = truth[dates > dates.max() - pd.Timedelta(days=300)].iloc[0]
    return (pd.Timestamp(late["failure_date"]) - pd.Timedelta(days=5)).date()


@pytest.fixture(scope="module")
def built(fleet_lake, tmp_path_factory):
    """The app as the notebook makes it (its own fit), with an operational store that does not exist."""
    store = tmp_path_factory.mktemp("no_store") / "ops.sqlite"
    app = monitor_from_parameters(environ={"QUANT_LAKE": str(fleet_lake.root)})
    app.ops_target = store
    return app


@pytest.fixture()
def app(built):
    built._widget = None  # a fresh widget tree on the same fit
    return built


def attrs(html_text: str, cls: str) -> dict:
    tag = re.search(rf'<div class="em-panel {cls}"([^>]*)>', html_text)
    assert tag, f"no {cls} panel in {html_text[:200]}"
    return dict(re.findall(r'data-([a-z0-9-]+)="([^"]*)"', tag.group(1)))


def rows(html_text: str) -> list[dict]:
    return [dict(re.findall(r'data-([a-z0-9-]+)="([^"]*)"', tag)) for tag in re.findall(r"<tr( [^>]*)>", html_text)]


def test_fleet_view_shows_every_units_health_lowest_first(app, fleet):
    app.widget  # noqa: B018 - builds and fills the widgets
    shown = rows(app.fleet_table.value)
    assert [r["unit"] for r in shown] == list(fleet.units["equipment_id"])
    assert np.allclose([float(r["health"]) for r in shown], fleet.units["health"], atol=1e-6)
    assert [float(r["health"]) for r in shown] == sorted(float(r["health"]) for r in shown)
    below = int((fleet.units["health"] < 0.3).sum())
    assert attrs(app.fleet_table.value, "em-fleet") == {"units": str(len(fleet.units)), "below": str(below)}
    assert "<svg" in app.fleet_chart.value
    # The picker lists every unit, lowest health first, and starts on the least healthy.
    assert [v for _, v in app.unit_options_] == list(fleet.units["equipment_id"])
    assert app.unit.value == fleet.units["equipment_id"].iloc[0]


def test_filters_by_kind_and_region(app, fleet):
    app.widget  # noqa: B018
    kind, region = fleet.units["kind"].iloc[-1], fleet.units["region"].iloc[-1]
    app.kind.value = kind
    expected = fleet.units[fleet.units["kind"] == kind]
    assert [r["unit"] for r in rows(app.fleet_table.value)] == list(expected["equipment_id"])
    app.region.value = region
    expected = expected[expected["region"] == region]
    assert 0 < len(expected) < len(fleet.units)
    assert [r["unit"] for r in rows(app.fleet_table.value)] == list(expected["equipment_id"])
    assert attrs(app.fleet_table.value, "em-fleet")["units"] == str(len(expected))
    app.kind.value = ALL
    app.region.value = ALL
    assert len(rows(app.fleet_table.value)) == len(fleet.units)


def test_picking_a_unit_shows_its_figures(app, fleet, fleet_lake):
    app.widget  # noqa: B018
    unit = fleet.units["equipment_id"].iloc[4]
    app.unit.value = unit
    row = fleet.units.set_index("equipment_id").loc[unit]
    shown = attrs(app.unit_summary.value, "em-unit")
    assert shown["unit"] == unit
    assert float(shown["health"]) == pytest.approx(row["health"], abs=1e-6)
    assert float(shown["p-fail"]) == pytest.approx(row["p_fail"], abs=1e-6)
    assert int(shown["age"]) == row["age_days"]
    assert f"{row['health']:.1%}" in app.unit_summary.value
    # The survival curve is the model's for this unit's state; at 30 days it is the health.
    state = fleet.state[fleet.state["equipment_id"] == unit]
    surv = fleet.model.survival_at(state, [30, 60, 90])[0]
    for t, s in zip((30, 60, 90), surv):
        assert float(shown[f"survival-{t}"]) == pytest.approx(s, abs=1e-6)
    assert float(shown["survival-30"]) == pytest.approx(row["health"], abs=1e-6)
    # The latest readings, raw and standardised, are the engine's features of the as-of day.
    last = fleet.features[fleet.features["equipment_id"] == unit].sort_values("date").iloc[-1]
    for signal in SIGNALS:
        assert float(shown[signal]) == pytest.approx(last[signal], rel=1e-5)
        assert float(shown[f"{signal}-z"]) == pytest.approx(last[f"{signal}_z"], rel=1e-5, abs=1e-5)
    assert html.escape(evidence_line(fleet.units[fleet.units["equipment_id"] == unit].iloc[0])) \
        in app.unit_summary.value
    for panel in (app.readings, app.signals, app.survival):
        assert "<svg" in panel.value
    # The maintenance history: every event of the unit up to the as-of date, from gold itself.
    with duckdb.connect(str(fleet_lake.gold), read_only=True) as con:
        events = con.execute("SELECT event_id, kind FROM maintenance_events WHERE equipment_id = ? AND "
                             "scheduled_date::DATE <= ? ORDER BY scheduled_date DESC, event_id DESC",
                             [unit, fleet.as_of]).fetchall()
    listed = rows(app.events.value)
    assert [(r["event"], r["kind"]) for r in listed] == events
    history = attrs(app.events.value, "em-events")
    assert history["unit"] == unit and history["failures"] == str(sum(k == "failure" for _, k in events))


def test_readings_are_the_last_days_of_telemetry(app, fleet):
    from quantlib.maintenance.views.report import unit_readings

    unit = fleet.units["equipment_id"].iloc[0]
    frame = unit_readings(fleet, unit, app.days)
    assert len(frame) == app.days  # one row a day, ending on the as-of day
    assert frame["date"].max() == pd.Timestamp(fleet.as_of)
    assert frame["date"].is_monotonic_increasing


def test_upcoming_lists_the_units_the_plan_would_open_when_the_store_has_none(fleet_lake, at_risk_day, tmp_path):
    fleet = equipment_health(fleet_lake, as_of=at_risk_day)
    due = fleet.units[fleet.units["health"] < 0.3]
    assert len(due) > 0
    store = tmp_path / "ops.sqlite"
    app = EquipmentMonitor(fleet, ops_store=store)
    app.widget  # noqa: B018
    panel = app.upcoming_panel.value
    assert attrs(panel, "em-upcoming") == {"source": "planned", "orders": str(len(due))}
    assert [r["unit"] for r in rows(panel)] == list(due["equipment_id"])
    assert "quant maintenance plan</code> would open" in panel and "not opened yet" in panel
    assert not store.exists()  # read-only: the app creates no store
    # The fleet table marks them.
    assert attrs(app.fleet_table.value, "em-fleet")["below"] == str(len(due))


def test_upcoming_lists_the_open_work_orders_of_the_store(fleet_lake, at_risk_day, ops_store):
    fleet = equipment_health(fleet_lake, as_of=at_risk_day)
    opened = plan_work_orders(fleet_lake, ops_store, health=fleet)
    assert len(opened) > 0
    app = EquipmentMonitor(fleet, ops_store=ops_store)
    orders, source = app.upcoming()
    expected = work_orders(ops_store, status="open")
    assert source == "store" and sorted(orders["id"]) == sorted(expected["id"])
    app.widget  # noqa: B018
    panel = app.upcoming_panel.value
    assert attrs(panel, "em-upcoming") == {"source": "store", "orders": str(len(expected))}
    assert sorted(r["unit"] for r in rows(panel)) == sorted(expected["equipment_id"])
    assert "would open" not in panel
    # a slot proposed by quant maintenance plan --schedule shows with its order
    first, *rest = expected["id"].tolist()
    slots = pd.DataFrame({"order_id": [first, *rest], "status": ["scheduled"] + ["unscheduled"] * len(rest),
                          "date": ["2031-05-06"] + [None] * len(rest), "technician_id": ["T007"] + [None] * len(rest),
                          "arrival": ["09:30"] + [None] * len(rest), "added_drive_minutes": [4.0] + [None] * len(rest),
                          "reason": [None] + ["no room in window"] * len(rest)})
    record_slots(slots, ops_store)
    app.refresh_upcoming()
    assert "2031-05-06 09:30 with T007" in app.upcoming_panel.value
    assert app.upcoming_panel.value.count("no room in window") == len(rest)


def test_a_store_without_open_orders_falls_back_to_the_plan(fleet_lake, at_risk_day, ops_store):
    fleet = equipment_health(fleet_lake, as_of=at_risk_day)
    plan_work_orders(fleet_lake, ops_store, health=fleet)
    # Every unit healthy again: the plan closes the orders, so the store has none open.
    healthy = fleet.units.assign(health=0.95, p_fail=0.05)
    from dataclasses import replace

    plan_work_orders(fleet_lake, ops_store, health=replace(fleet, units=healthy))
    assert work_orders(ops_store, status="open").empty and not work_orders(ops_store).empty
    frame, source = EquipmentMonitor(fleet, ops_store=ops_store).upcoming()
    assert source == "planned" and list(frame["equipment_id"]) == list(
        fleet.units.loc[fleet.units["health"] < 0.3, "equipment_id"])


def test_from_parameters_reads_the_environment(built, fleet, fleet_lake):
    with duckdb.connect(str(fleet_lake.gold), read_only=True) as con:
        assert built.company == con.execute("SELECT any_value(company) FROM build_info").fetchone()[0]
    assert built.fleet.as_of == fleet.as_of and built.threshold == 0.3 and built.days == 90
    pd.testing.assert_frame_equal(built.fleet.units, fleet.units)


def test_from_parameters_takes_the_threshold_and_as_of_from_the_environment(fleet_lake, at_risk_day):
    env = {"QUANT_COMPANY": "mixed_trades", "QUANT_LAKE": str(fleet_lake.root), "QUANT_AS_OF": at_risk_day.isoformat(),
           "QUANT_EQUIPMENT_THRESHOLD": "0.5", "QUANT_EQUIPMENT_DAYS": "30"}
    app = monitor_from_parameters("seasonal_outdoor", environ=env)
    assert app.threshold == 0.5 and app.days == 30
    assert pd.Timestamp(app.fleet.as_of).date() == at_risk_day
    frame, source = app.upcoming()
    assert source == "planned" and (frame["health"] < 0.5).all()
    # Another as-of date is another fit, not the build date's cached one; then it is cached too.
    assert not app.from_cache_ and monitor_from_parameters("seasonal_outdoor", environ=env).from_cache_


def test_bad_parameters_are_one_line(fleet_lake):
    from quantlib.parameters import ParameterError

    with pytest.raises(ParameterError, match="threshold"):
        monitor_from_parameters(environ={"QUANT_LAKE": str(fleet_lake.root), "QUANT_EQUIPMENT_THRESHOLD": "2"})
    with pytest.raises(FileNotFoundError, match="quant warehouse build"):
        monitor_from_parameters(environ={"QUANT_LAKE": str(fleet_lake.root / "nowhere")})


def test_a_filter_matching_no_unit_says_so(fleet):
    from dataclasses import replace

    kind, region = fleet.units["kind"].iloc[0], fleet.units["region"].iloc[0]
    units = fleet.units[~((fleet.units["kind"] == kind) & (fleet.units["region"] == region))]
    app = EquipmentMonitor(replace(fleet, units=units.reset_index(drop=True)))
    app.widget  # noqa: B018
    app.kind.value = kind
    app.region.value = region
    assert attrs(app.fleet_table.value, "em-fleet")["units"] == "0"
    assert "No unit matches these filters." in app.fleet_table.value and app.fleet_chart.value == ""
    app.region.value = ALL
    assert len(rows(app.fleet_table.value)) == int((units["kind"] == kind).sum()) > 0


# ---------------------------------------------------------------------------------------- the cache

def test_the_next_kernel_loads_the_fleet_and_shows_the_same(built, fleet_lake, equipment_cache):
    assert fleet_cache_path(fleet_lake.gold, cache_dir=equipment_cache).is_file()
    again = monitor_from_parameters(environ={"QUANT_LAKE": str(fleet_lake.root)})
    assert again.from_cache_ and again.fit_seconds_ < built.fit_seconds_
    pd.testing.assert_frame_equal(again.fleet.units, built.fleet.units, check_exact=True)
    pd.testing.assert_frame_equal(again.fleet.features, built.fleet.features, check_exact=True)
    pd.testing.assert_frame_equal(again.survival_, built.survival_, check_exact=True)
    assert (again.fleet.as_of, again.fleet.basis, again.company) == (built.fleet.as_of, built.fleet.basis,
                                                                     built.company)
    # The page: the same fleet table and, for a unit, the same figures and survival curve.
    again.ops_target = built.ops_target
    built._widget = None
    for app in (built, again):
        app.widget  # noqa: B018
        app.unit.value = app.unit_options_[3][1]
    assert again.fleet_table.value == built.fleet_table.value
    assert attrs(again.unit_summary.value, "em-unit") == attrs(built.unit_summary.value, "em-unit")
    assert again.upcoming_panel.value == built.upcoming_panel.value


def test_the_threshold_applies_to_the_cached_fleet(built, fleet_lake):
    # The threshold and the days shown only change the display: the cached fit serves them.
    app = monitor_from_parameters(environ={"QUANT_LAKE": str(fleet_lake.root), "QUANT_EQUIPMENT_THRESHOLD": "0.9",
                                           "QUANT_EQUIPMENT_DAYS": "30"})
    assert app.from_cache_ and (app.threshold, app.days) == (0.9, 30)
    app.ops_target = built.ops_target
    app.widget  # noqa: B018
    below = int((app.fleet.units["health"] < 0.9).sum())
    assert below > int((app.fleet.units["health"] < 0.3).sum())
    assert attrs(app.fleet_table.value, "em-fleet")["below"] == str(below)
    assert attrs(app.upcoming_panel.value, "em-upcoming")["orders"] == str(below)


def test_a_rebuilt_warehouse_is_fitted_again(demo_lake, tmp_path):
    lake = tmp_path / "lake"
    lake.mkdir()
    shutil.copy(demo_lake.gold, lake / "gold.duckdb")
    env = {"QUANT_LAKE": str(lake), "QUANT_EQUIPMENT_CACHE": str(tmp_path / "cache")}
    before = monitor_from_parameters(environ=env)
    assert not before.from_cache_ and monitor_from_parameters(environ=env).from_cache_
    unit = before.fleet.units["equipment_id"].iloc[0]
    with duckdb.connect(str(lake / "gold.duckdb")) as con:  # new data in the same file, as a rebuild writes
        con.execute("UPDATE equipment SET name = 'Rebuilt unit' WHERE equipment_id = ?", [unit])
    after = monitor_from_parameters(environ=env)
    assert not after.from_cache_ and after.unit_row(unit)["name"] == "Rebuilt unit"
    assert monitor_from_parameters(environ=env).from_cache_


def test_a_tampered_cache_is_refused_and_fitted_again(built, fleet_lake, tmp_path, caplog):
    from quantlib.apps import signed_cache
    from tests.apps.test_signed_cache import Exploit

    cached = fleet_cache_path(fleet_lake.gold)  # the module's folder ($QUANT_EQUIPMENT_CACHE)
    tampered = fleet_cache_path(fleet_lake.gold, cache_dir=tmp_path / "cache")
    tampered.parent.mkdir()
    marker = tmp_path / "pwned"
    # The real file's header and signature, its payload swapped for code that would run on unpickling.
    header = len(signed_cache._MAGIC) + hashlib.sha256().digest_size
    tampered.write_bytes(cached.read_bytes()[:header] + pickle.dumps(Exploit(marker)))
    env = {"QUANT_LAKE": str(fleet_lake.root), "QUANT_EQUIPMENT_CACHE": str(tampered.parent)}
    with caplog.at_level("WARNING", logger="quantlib.apps.equipment_monitor"):
        again = monitor_from_parameters(environ=env)
    assert not marker.exists()
    assert not again.from_cache_ and "signature does not match" in caplog.text
    pd.testing.assert_frame_equal(again.fleet.units, built.fleet.units, check_exact=True)
    pd.testing.assert_frame_equal(again.survival_, built.survival_, check_exact=True)
    # The refit replaced the file with a signed one that the next kernel loads.
    assert monitor_from_parameters(environ=env).from_cache_

