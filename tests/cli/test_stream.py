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
