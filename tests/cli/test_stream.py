"""`quant stream up / topics / replay / down` against the real local broker."""

import time

import pytest
from typer.testing import CliRunner

from quantlib.cli import app

runner = CliRunner()


@pytest.fixture
def state_file(tmp_path, monkeypatch):
    import quantlib.stream.broker as broker
    from quantlib.stream.supervise import stop_detached_processors

    path = tmp_path / "stream" / "broker.json"
    monkeypatch.setattr(broker, "state_path", lambda: path)
    monkeypatch.delenv("QUANT_KAFKA_BROKERS", raising=False)
    yield path
    stop_detached_processors(path.with_name("processors.json"))
    broker.stop_detached(path)


@pytest.mark.slow  # a broker, a replay and the live processors: 17-40 s
def test_up_replay_topics_down(state_file, mixed_company, tmp_path):
    from quantlib.data.generate import write_company

    write_company(mixed_company, tmp_path / "raw")
    # Nothing runs yet: replay says what to do.
    result = runner.invoke(app, ["stream", "replay", "--raw", str(tmp_path / "raw")])
    assert result.exit_code == 2 and "quant stream up" in result.output

    store = tmp_path / "ops.sqlite"
    result = runner.invoke(app, ["stream", "up", "--store", str(store), "--lake", str(tmp_path / "nolake")])
    assert result.exit_code == 0, result.output
    assert "local broker: 127.0.0.1:" in result.output and "work_orders" in result.output
    assert "processors: all" in result.output
    result = runner.invoke(app, ["stream", "topics"])
    assert result.exit_code == 0, result.output
    assert "partitions  12 (configured 12)" in result.output and "retention 90 d" in result.output

    result = runner.invoke(app, ["stream", "replay", "--raw", str(tmp_path / "raw"), "--from", "2024-03-01",
                                 "--days", "2", "--speed", "0"])
    assert result.exit_code == 0, result.output
    assert "sent " in result.output and "equipment_telemetry" in result.output

    sent = int(result.output.split("sent ")[1].split(" ")[0].replace(",", ""))
    # The processors `up` started apply every event.
    from quantlib.data.opstore import OpsStore
    from quantlib.stream.live import LiveStore

    live = LiveStore(OpsStore(store))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and sum(c.get("applied", 0) for c in live.counts().values()) < sent:
        time.sleep(0.2)
    assert sum(c.get("applied", 0) for c in live.counts().values()) == sent
    assert set(live.counts()) == {"operations", "finance", "equipment", "behaviour"}

    result = runner.invoke(app, ["stream", "replay", "--days", "2"])
    assert result.exit_code == 2 and "--days needs --from" in result.output

    result = runner.invoke(app, ["stream", "down"])
    assert result.exit_code == 0 and "stopped the local broker" in result.output
    assert "stopped the processors" in result.output
    assert runner.invoke(app, ["stream", "down"]).output.strip() == "no local broker running"


def test_ingest_publishes_the_accepted_rows_as_events(tmp_path, monkeypatch, mixed_company):
    """Rejected rows stay in the lake's rejects; accepted rows of streamed tables reach their topics."""
    import json

    import pandas as pd

    from quantlib.stream.broker import LocalBroker, ensure_topics
    from quantlib.stream.config import load_stream_settings
    from tests.stream.conftest import consume_all

    monkeypatch.delenv("QUANT_KAFKA_BROKERS", raising=False)
    raw = tmp_path / "raw"
    raw.mkdir()
    jobs = mixed_company.tables["jobs"].head(30).copy()
    jobs.loc[jobs.index[0], "labor_hours"] = 99.0  # rejected: beyond 24
    tables = {"customers": mixed_company.tables["customers"], "technicians": mixed_company.tables["technicians"],
              "jobs": jobs}
    for name, frame in tables.items():
        frame.to_parquet(raw / f"{name}.parquet")
    with LocalBroker() as broker:
        ensure_topics(broker.bootstrap, load_stream_settings())
        result = runner.invoke(app, ["ingest", str(raw), "--lake", str(tmp_path / "lake"), "--publish",
                                     "--brokers", broker.bootstrap])
        assert result.exit_code == 0, result.output
        assert "published 29 accepted rows as events" in result.output and "work_orders 29" in result.output
        messages = consume_all(broker.bootstrap, ["work_orders", "customer_interactions"], expected=29)
    assert len(messages) == 29
    ids = {json.loads(m.value())["data"]["job_id"] for m in messages}
    assert ids == set(jobs["job_id"].iloc[1:])
    assert pd.read_parquet(tmp_path / "lake" / "silver" / "jobs.parquet")["job_id"].nunique() == 29
